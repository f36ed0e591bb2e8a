package proxy_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens"
)

// End to end through a proxy.Server: the token chooses the target, and a
// missing or unknown token is answered before the upgrade, without any
// connection to a target.

// tokenRequest is an upgrade request for token.
func tokenRequest(token string, lines ...string) string {
	return strings.Replace(request(lines...), "token=secret", "token="+url.QueryEscape(token), 1)
}

// expectNoConn checks that no connection reached ts.
func expectNoConn(t testing.TB, ts *targetServer) {
	t.Helper()
	select {
	case c := <-ts.conns:
		c.Close()
		t.Error("a connection reached the target")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestTokenFileEndToEnd(t *testing.T) {
	t.Parallel()
	vm1, vm2 := startTarget(t), startTarget(t)
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, "vm1: "+vm1.Address+"\nvm2:\t"+vm2.Address+"\n")
	tokens, err := tokens.NewFile(path, tokens.FileOptions{Reload: true})
	if err != nil {
		t.Fatal(err)
	}
	tap := newRecordingTap()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: &proxy.TokenResolver{Tokens: tokens}, NewTap: tap.newTap})

	for _, tt := range []struct {
		name   string
		raw    string
		status int
	}{
		{"ErrMissing", strings.Replace(request(), "?token=secret", "", 1), http.StatusBadRequest},
		{"ErrUnknown", tokenRequest("vm3"), http.StatusNotFound},
		{"ErrTraversal", tokenRequest("../vm1"), http.StatusNotFound},
		{"ErrTooLong", tokenRequest(strings.Repeat("v", proxy.MaxTokenLength+1)), http.StatusBadRequest},
	} {
		c := dial(t, addr, tt.raw)
		if resp := c.readResponse(); resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		c.expectEOF()
	}
	expectNoConn(t, vm1)
	expectNoConn(t, vm2)

	// vm2's token reaches vm2, and only vm2.
	c := dial(t, addr, tokenRequest("vm2"))
	if resp := c.readResponse(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	conn := vm2.accept(t)
	expectNoConn(t, vm1)
	conn.Write([]byte("I am vm2"))
	if got := string(c.readN(8)); got != "I am vm2" {
		t.Errorf("client got %q", got)
	}
	conn.Close()
	c.expectClose(proxy.CloseNormal, "")
	_, _ = tap.waitClosed(t)
	if tap.info.Token != "vm2" || tap.info.Target != vm2.Address {
		t.Errorf("SessionInfo token %q target %q, want vm2 %s", tap.info.Token, tap.info.Target, vm2.Address)
	}

	// The file changes: vm1's token now leads to vm2.
	writeFile(t, path, "vm1: "+vm2.Address+"\n")
	c = dial(t, addr, tokenRequest("vm1"))
	if resp := c.readResponse(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	vm2.accept(t).Close()
	expectNoConn(t, vm1)
}

// --host-token: the Host header, without its port, is the token.
func TestHostTokenEndToEnd(t *testing.T) {
	t.Parallel()
	vm := startTarget(t)
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, "vm1.example: "+vm.Address+"\n")
	tokens, err := tokens.NewFile(path, tokens.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, proxy.ServerOptions{Resolver: &proxy.TokenResolver{Tokens: tokens, HostToken: true}})
	c := dial(t, addr, tokenRequest("ignored", "Host: vm1.example:6080"))
	if resp := c.readResponse(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	vm.accept(t).Close()
	c = dial(t, addr, tokenRequest("vm1.example", "Host: other.example"))
	if resp := c.readResponse(); resp.StatusCode != http.StatusNotFound {
		t.Errorf("other host: status %d, want 404", resp.StatusCode)
	}
	expectNoConn(t, vm)
}

// --ssl-target with a token: TLS to the target, verified against the
// given roots with the target's host as server name; a target whose
// certificate does not verify closes the session with 1011 and the
// reason, and the failure is logged with the session and the target.
func TestTokenTLSTarget(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("RFB 003.008\n"))
				c.Read(make([]byte, 1))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, "tls: "+ln.Addr().String()+"\n")
	tokens, err := tokens.NewFile(path, tokens.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}

	_, addr := startServer(t, proxy.ServerOptions{Resolver: &proxy.TokenResolver{Tokens: tokens, TLS: &tls.Config{RootCAs: clientTLS.RootCAs}}})
	c := dial(t, addr, tokenRequest("tls"))
	if resp := c.readResponse(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	if got := string(c.readN(12)); got != "RFB 003.008\n" {
		t.Errorf("client got %q through TLS", got)
	}

	// Other roots: the certificate does not verify.
	_, otherRoots := selfSigned(t)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	_, addr = startServer(t, proxy.ServerOptions{Resolver: &proxy.TokenResolver{Tokens: tokens, TLS: &tls.Config{RootCAs: otherRoots.RootCAs}}, Logger: log})
	c = dial(t, addr, tokenRequest("tls"))
	if resp := c.readResponse(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	c.expectClose(proxy.CloseInternalError, "Failed to connect to downstream server")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "session closed") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, "session=") || !strings.Contains(out, "dial "+ln.Addr().String()) || !strings.Contains(out, "certificate") {
		t.Errorf("log does not name the session, the target and the certificate error:\n%s", out)
	}
}

// A token store that fails is answered 502 at once, and the sessions
// already open go on. (That a Redis that is down fails lookups at once
// is tested in package redis.)
func TestStoreDownEndToEnd(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	var down atomic.Bool
	store := tokensFunc(func(token string) (proxy.Target, error) {
		if down.Load() {
			return proxy.Target{}, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
		}
		return echo, nil
	})
	_, addr := startServer(t, proxy.ServerOptions{Resolver: &proxy.TokenResolver{Tokens: store}})
	open := dial(t, addr, tokenRequest("vm"))
	if resp := open.readResponse(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	open.echo("before")
	down.Store(true)
	c := dial(t, addr, tokenRequest("vm"))
	if resp := c.readResponse(); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("store down: status %d, want 502", resp.StatusCode)
	}
	c.expectEOF()
	open.echo("after")
}

// tokensFunc is a proxy.Tokens that calls itself.
type tokensFunc func(token string) (proxy.Target, error)

func (f tokensFunc) Lookup(_ context.Context, token string) (proxy.Target, error) { return f(token) }

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

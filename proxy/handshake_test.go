package proxy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
)

func TestHandshake(t *testing.T) {
	t.Parallel()
	target := startEcho(t)
	_, addr := startServer(t, proxy.ServerOptions{Resolver: target, MaxHeaderBytes: 2048})

	tests := []struct {
		name     string
		raw      string
		status   int
		protocol string            // Sec-WebSocket-Protocol of a 101
		header   map[string]string // further headers the response must have
	}{
		{name: "OK", raw: request(), status: 101},
		{name: "OKVersion8", raw: request("Sec-WebSocket-Version: 8"), status: 101},
		{name: "OKVersion7", raw: request("Sec-WebSocket-Version: 7"), status: 101},
		{name: "OKNoConnectionHeader", raw: request("-Connection"), status: 101},
		{name: "OKUpgradeCase", raw: request("Upgrade: WebSocket"), status: 101},
		{name: "ErrVersion6", raw: request("Sec-WebSocket-Version: 6"), status: 400, header: map[string]string{"Sec-WebSocket-Version": "13"}},
		{name: "ErrVersion14", raw: request("Sec-WebSocket-Version: 14"), status: 400, header: map[string]string{"Sec-WebSocket-Version": "13"}},
		{name: "ErrNoVersion", raw: request("-Sec-WebSocket-Version"), status: 400},
		{name: "ErrNoKey", raw: request("-Sec-WebSocket-Key"), status: 400},
		{name: "ErrBadKey", raw: request("Sec-WebSocket-Key: c2hvcnQ="), status: 400},
		{name: "ErrKeyNotBase64", raw: request("Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!=="), status: 400},
		{name: "ProtocolBinary", raw: request("Sec-WebSocket-Protocol: binary"), status: 101, protocol: "binary"},
		{name: "ProtocolBase64", raw: request("Sec-WebSocket-Protocol: base64"), status: 101, protocol: "base64"},
		{name: "ProtocolBinaryPreferred", raw: request("Sec-WebSocket-Protocol: base64, binary"), status: 101, protocol: "binary"},
		{name: "ProtocolSomeUnknown", raw: request("Sec-WebSocket-Protocol: chat, base64"), status: 101, protocol: "base64"},
		{name: "ErrProtocolUnknown", raw: request("Sec-WebSocket-Protocol: chat, superchat"), status: 400},
		{name: "ErrMalformed", raw: "GARBAGE\r\n\r\n", status: 400},
		{name: "ErrMalformedHeader", raw: "GET / HTTP/1.1\r\nNo colon here\r\n\r\n", status: 400},
		{name: "ErrHTTP10", raw: strings.Replace(request(), "HTTP/1.1", "HTTP/1.0", 1), status: 400},
		{name: "ErrPlainGET", raw: "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 405, header: map[string]string{"Allow": "GET"}},
		{name: "ErrPOSTUpgrade", raw: strings.Replace(request(), "GET", "POST", 1), status: 405},
		{name: "ErrHeaderTooLarge", raw: request("Cookie: " + strings.Repeat("x", 4096)), status: 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, addr, tt.raw)
			resp := c.readResponse()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tt.status != 101 {
				c.expectEOF()
				return
			}
			if got := resp.Header.Get("Sec-WebSocket-Accept"); got != testAccept {
				t.Errorf("Sec-WebSocket-Accept: %q, want %q", got, testAccept)
			}
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != tt.protocol {
				t.Errorf("Sec-WebSocket-Protocol: %q, want %q", got, tt.protocol)
			}
			if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
				t.Errorf("Upgrade: %q, want websocket", got)
			}
		})
	}
}

// A client that sends nothing is dropped at the first-byte deadline.
func TestSilentClient(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), FirstByteTimeout: 100 * time.Millisecond})
	start := time.Now()
	c := dial(t, addr, "")
	c.expectEOF()
	if d := time.Since(start); d < 100*time.Millisecond || d > 3*time.Second {
		t.Errorf("dropped after %v, want about 100ms", d)
	}
}

// A client that starts a request and stalls is dropped at the handshake
// deadline.
func TestSlowHandshake(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), HandshakeTimeout: 200 * time.Millisecond})
	start := time.Now()
	c := dial(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n")
	c.expectEOF()
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("dropped after %v, want about 200ms", d)
	}
}

func TestFlashPolicy(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t)})
	_, port, _ := net.SplitHostPort(addr)
	c := dial(t, addr, "<policy-file-request/>\x00")
	got, err := io.ReadAll(c.br)
	if err != nil {
		t.Fatal(err)
	}
	want := `<cross-domain-policy><allow-access-from domain="*" to-ports="` + port + `" /></cross-domain-policy>` + "\x00"
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFlashPolicyDisabled(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), DisableFlashPolicy: true})
	c := dial(t, addr, "<policy-file-request/>\x00\r\n\r\n")
	if resp := c.readResponse(); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
}

func TestAuthenticator(t *testing.T) {
	t.Parallel()
	auth := proxy.AuthenticatorFunc(func(_ context.Context, r *proxy.Request) (string, error) {
		user, pass, ok := r.HTTP.BasicAuth()
		if !ok || user != "alice" || pass != "secret" {
			return "", &proxy.HTTPError{Status: 401, Header: http.Header{"WWW-Authenticate": {`Basic realm="wsproxy"`}}, Reason: "unauthorized"}
		}
		return user, nil
	})
	tap := newRecordingTap()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), Authenticator: auth, NewTap: tap.newTap})

	c := dial(t, addr, request())
	resp := c.readResponse()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="wsproxy"` {
		t.Fatalf("got %d %q, want 401 with WWW-Authenticate", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	c.expectEOF()

	c = upgrade(t, addr, "Authorization: Basic YWxpY2U6c2VjcmV0") // alice:secret
	c.send(0x8, true, []byte{0x03, 0xe8})
	c.expectClose(proxy.CloseNormal, "")
	tap.waitClosed(t)
	if tap.info.User != "alice" {
		t.Errorf("SessionInfo.User %q, want alice", tap.info.User)
	}
}

func TestResolverErrors(t *testing.T) {
	t.Parallel()
	resolver := proxy.ResolverFunc(func(_ context.Context, r *proxy.Request) (proxy.Target, error) {
		switch r.HTTP.URL.Query().Get("token") {
		case "unknown":
			return proxy.Target{}, &proxy.HTTPError{Status: 404, Reason: "unknown token"}
		default:
			return proxy.Target{}, errors.New("redis down")
		}
	})
	_, addr := startServer(t, proxy.ServerOptions{Resolver: resolver})
	for token, status := range map[string]int{"unknown": 404, "other": 500} {
		raw := strings.Replace(request(), "token=secret", "token="+token, 1)
		c := dial(t, addr, raw)
		if resp := c.readResponse(); resp.StatusCode != status {
			t.Errorf("token %s: status %d, want %d", token, resp.StatusCode, status)
		}
	}
}

func TestStaticHandler(t *testing.T) {
	t.Parallel()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page "+r.URL.Path)
	})
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), Handler: handler})

	// Two requests for files on one keep-alive connection, then an upgrade
	// on the same connection.
	c := dial(t, addr, "GET /vnc.html HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, path := range []string{"/vnc.html", "/app/ui.js"} {
		if path != "/vnc.html" {
			c.write([]byte("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"))
		}
		resp := c.readResponse()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
	}
	c.write([]byte(request()))
	if resp := c.readResponse(); resp.StatusCode != 101 {
		t.Fatalf("upgrade after files: status %d", resp.StatusCode)
	}
	c.send(0x2, true, []byte("ping through"))
	if got := string(c.readN(len("ping through"))); got != "ping through" {
		t.Errorf("echo %q", got)
	}

	// A plain GET body check on a fresh connection.
	resp, err := http.Get("http://" + addr + "/index.html")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "page /index.html" {
		t.Errorf("body %q", body)
	}
	http.DefaultClient.CloseIdleConnections()
}

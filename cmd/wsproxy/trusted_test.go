package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/pires/go-proxyproto"

	"github.com/wsproxy/wsproxy/format"
)

// proxyDial returns a dialer that opens each connection with a PROXY
// header of version v from src.
func proxyDial(v byte, src string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		srcAddr, _ := net.ResolveTCPAddr("tcp", src)
		h := proxyproto.HeaderProxyFromAddrs(v, srcAddr, c.RemoteAddr())
		if _, err := h.WriteTo(c); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
}

// TestTrustedProxyProtocol sends PROXY v1 and v2 headers from 127.0.0.1,
// trusted: the header's source is the session's real client, in the log
// and the recording.
func TestTrustedProxyProtocol(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v   byte
		src string
	}{{1, "203.0.113.7:4242"}, {2, "[2001:db8::7]:4343"}} {
		t.Run("v"+string('0'+tc.v), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "recordings")
			in := startRun(t, "--trusted-proxy", "127.0.0.1/32", "--record-dir", dir, "127.0.0.1:0", startEcho(t, "tcp", nil))
			c, err := dialWS(t, "ws://"+in.addr+"/", nil, proxyDial(tc.v, tc.src))
			if err != nil {
				t.Fatalf("dial: %v; stderr:\n%s", err, in.stderr)
			}
			assertEcho(t, c, "hello")
			line := in.stderr.Wait(t, regexp.MustCompile(`session open.*`))[0]
			if !strings.Contains(line, "real_client="+tc.src) || !strings.Contains(line, "client=127.0.0.1:") {
				t.Errorf("session open line %q: want client=127.0.0.1:… real_client=%s", line, tc.src)
			}
			ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
			readClose(t, c)
			h, _, _ := readRecording(t, waitSealed(t, dir))
			if got := h.Meta[format.MetaRealClient]; got != tc.src {
				t.Errorf("metadata %s = %q, want %q", format.MetaRealClient, got, tc.src)
			}
			if got := h.Meta[format.MetaClient]; !strings.HasPrefix(got, "127.0.0.1:") {
				t.Errorf("metadata %s = %q, want the TCP peer", format.MetaClient, got)
			}
		})
	}
}

// TestUntrustedProxyProtocol sends a PROXY header from a peer outside the
// trusted ranges: the connection is refused, and logged.
func TestUntrustedProxyProtocol(t *testing.T) {
	t.Parallel()
	for _, v := range []byte{1, 2} {
		t.Run("v"+string('0'+v), func(t *testing.T) {
			t.Parallel()
			in := startRun(t, "--trusted-proxy", "10.0.0.0/8", "127.0.0.1:0", startEcho(t, "tcp", nil))
			if c, err := dialWS(t, "ws://"+in.addr+"/", nil, proxyDial(v, "203.0.113.7:4242")); err == nil {
				c.Close()
				t.Fatal("dial succeeded, want the connection refused")
			}
			in.stderr.Wait(t, regexp.MustCompile(`PROXY header from an untrusted peer.*client=127\.0\.0\.1:`))
			// Without a header the same peer is served.
			assertEcho(t, mustDialWS(t, "ws://"+in.addr+"/", nil), "hello")
		})
	}
}

// TestUntrustedForwardedIgnored sends a spoofed X-Forwarded-For from an
// untrusted peer: the log shows no real_client.
func TestUntrustedForwardedIgnored(t *testing.T) {
	t.Parallel()
	in := startRun(t, "--trusted-proxy", "10.0.0.0/8", "127.0.0.1:0", startEcho(t, "tcp", nil))
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"X-Forwarded-For": {"203.0.113.9"}})}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, _, _, err := d.Dial(ctx, "ws://"+in.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	assertEcho(t, c, "hello")
	line := in.stderr.Wait(t, regexp.MustCompile(`session open.*`))[0]
	if strings.Contains(line, "real_client") || strings.Contains(line, "203.0.113.9") {
		t.Errorf("session open line %q: the spoofed header was believed", line)
	}
}

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

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted, err := parseTrustedProxies([]string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	const proxyPeer = "10.1.2.3:5555"
	for _, tc := range []struct {
		name   string
		peer   string
		header map[string][]string
		want   string
	}{
		{"no header", proxyPeer, nil, proxyPeer},
		{"untrusted peer, no header", "198.51.100.1:1234", nil, "198.51.100.1:1234"},
		{"spoofed XFF from an untrusted peer", "198.51.100.1:1234", map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.1:1234"},
		{"spoofed Forwarded from an untrusted peer", "198.51.100.1:1234", map[string][]string{"Forwarded": {"for=203.0.113.9"}}, "198.51.100.1:1234"},
		{"spoofed X-Real-IP from an untrusted peer", "198.51.100.1:1234", map[string][]string{"X-Real-Ip": {"203.0.113.9"}}, "198.51.100.1:1234"},
		{"XFF one hop", proxyPeer, map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"XFF rightmost untrusted", proxyPeer, map[string][]string{"X-Forwarded-For": {"1.1.1.1, 203.0.113.9, 10.9.9.9, 192.0.2.10"}}, "203.0.113.9"},
		{"XFF client-forged left part", proxyPeer, map[string][]string{"X-Forwarded-For": {"10.0.0.1, 203.0.113.9"}}, "203.0.113.9"},
		{"XFF several lines", proxyPeer, map[string][]string{"X-Forwarded-For": {"203.0.113.9", "10.9.9.9"}}, "203.0.113.9"},
		{"XFF all trusted", proxyPeer, map[string][]string{"X-Forwarded-For": {"10.0.0.1, 10.0.0.2"}}, "10.0.0.1"},
		{"XFF IPv6", proxyPeer, map[string][]string{"X-Forwarded-For": {"2001:db8::1"}}, "2001:db8::1"},
		{"XFF IPv4-mapped", proxyPeer, map[string][]string{"X-Forwarded-For": {"::ffff:203.0.113.9"}}, "203.0.113.9"},
		{"XFF garbage ends the walk", proxyPeer, map[string][]string{"X-Forwarded-For": {"203.0.113.9, evil, 10.0.0.7"}}, "10.0.0.7"},
		{"XFF garbage right of peer", proxyPeer, map[string][]string{"X-Forwarded-For": {"<script>"}}, proxyPeer},
		{"IPv6 trusted peer", "[2001:db8:ffff::1]:443", map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"Forwarded", proxyPeer, map[string][]string{"Forwarded": {"for=203.0.113.9;proto=https;by=10.0.0.1"}}, "203.0.113.9"},
		{"Forwarded with port", proxyPeer, map[string][]string{"Forwarded": {`for="203.0.113.9:47011"`}}, "203.0.113.9:47011"},
		{"Forwarded quoted IPv6", proxyPeer, map[string][]string{"Forwarded": {`For="[2001:db8:cafe::17]"`}}, "2001:db8:cafe::17"},
		{"Forwarded quoted IPv6 and port", proxyPeer, map[string][]string{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}}, "[2001:db8:cafe::17]:4711"},
		{"Forwarded obfuscated port", proxyPeer, map[string][]string{"Forwarded": {`for="203.0.113.9:_p1"`}}, "203.0.113.9"},
		{"Forwarded chain", proxyPeer, map[string][]string{"Forwarded": {`for=198.51.100.17, for="[2001:db8:cafe::17]:4711";proto=http, for=10.0.0.5`}}, "[2001:db8:cafe::17]:4711"},
		{"Forwarded quoted comma", proxyPeer, map[string][]string{"Forwarded": {`for=203.0.113.9;by="a,b", for=10.0.0.5`}}, "203.0.113.9"},
		{"Forwarded several lines", proxyPeer, map[string][]string{"Forwarded": {"for=203.0.113.9", "for=10.0.0.5"}}, "203.0.113.9"},
		{"Forwarded unknown", proxyPeer, map[string][]string{"Forwarded": {"for=unknown, for=10.0.0.5"}}, "10.0.0.5"},
		{"Forwarded hidden", proxyPeer, map[string][]string{"Forwarded": {"for=_hidden"}}, proxyPeer},
		{"Forwarded element without for", proxyPeer, map[string][]string{"Forwarded": {"proto=https"}}, proxyPeer},
		{"Forwarded wins over XFF", proxyPeer, map[string][]string{"Forwarded": {"for=203.0.113.9"}, "X-Forwarded-For": {"198.51.100.1"}}, "203.0.113.9"},
		{"XFF wins over X-Real-IP", proxyPeer, map[string][]string{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"198.51.100.1"}}, "203.0.113.9"},
		{"X-Real-IP", proxyPeer, map[string][]string{"X-Real-Ip": {"203.0.113.9"}}, "203.0.113.9"},
		{"X-Real-IP IPv6", proxyPeer, map[string][]string{"X-Real-Ip": {"2001:db8::2"}}, "2001:db8::2"},
		{"X-Real-IP garbage", proxyPeer, map[string][]string{"X-Real-Ip": {"nope"}}, proxyPeer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, vs := range tc.header {
				for _, v := range vs {
					h.Add(k, v)
				}
			}
			if got := trusted.clientAddr(tc.peer, h); got != tc.want {
				t.Errorf("clientAddr(%q, %v) = %q, want %q", tc.peer, tc.header, got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0"} {
		if _, err := parseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	tp, err := parseTrustedProxies([]string{"127.0.0.1", "::1", "10.1.2.3/8"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tp) != 3 || tp[2].String() != "10.0.0.0/8" {
		t.Errorf("got %v", tp)
	}
}

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
			waitFor(t, "the recording to be sealed", func() bool {
				names := recordings(t, dir)
				if len(names) != 1 {
					return false
				}
				r, err := format.Open(names[0], format.ReaderOptions{})
				if err != nil {
					return false
				}
				defer r.Close()
				return r.Sealed()
			})
			h, _, _ := readRecording(t, recordings(t, dir)[0])
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

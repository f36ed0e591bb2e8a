package haproxy_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/examples/internal/wsproxytest"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/vnctest"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// frontends are the addresses of haproxy.cfg's two frontends in a test.
type frontends struct {
	tcp, http string
}

// configure writes haproxy.cfg with its ports, its backend server and its
// certificate replaced into a directory of t.TempDir, and returns the file
// and the frontends' addresses.
func configure(t *testing.T, wsproxyAddr string, cert *wstest.Cert) (string, frontends) {
	t.Helper()
	shipped, err := os.ReadFile("haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	f := frontends{
		tcp:  fmt.Sprintf("127.0.0.1:%d", vnctest.FreePort(t)),
		http: fmt.Sprintf("127.0.0.1:%d", vnctest.FreePort(t)),
	}
	cfg := string(shipped)
	for _, r := range []struct {
		old, new string
		n        int
	}{
		{"bind :443 ssl", "bind " + f.tcp + " ssl", 1},
		{"bind :8443 ssl", "bind " + f.http + " ssl", 1},
		{"crt /etc/haproxy/certs/vnc.example.com.pem", "crt " + cert.PEMFile, 2},
		{"server wsproxy 127.0.0.1:6080", "server wsproxy " + wsproxyAddr, 2},
	} {
		if got := strings.Count(cfg, r.old); got != r.n {
			t.Fatalf("haproxy.cfg has %q %d times, want %d: the test must follow the file", r.old, got, r.n)
		}
		cfg = strings.ReplaceAll(cfg, r.old, r.new)
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, f
}

// startHAProxy checks the configuration with haproxy -c, then runs HAProxy
// in front of the wsproxy at wsproxyAddr until the test ends.
func startHAProxy(t *testing.T, wsproxyAddr string, cert *wstest.Cert) frontends {
	t.Helper()
	path, f := configure(t, wsproxyAddr, cert)
	out, err := exec.Command("haproxy", "-c", "-f", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "[WARNING]") || strings.Contains(string(out), "[ALERT]") {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	vnctest.StartConfigured(t, "haproxy", exec.Command("haproxy", "-f", path, "-db"), f.tcp, f.http)
	return f
}

// TestWebSocket relays WebSocket sessions from a client on 127.0.0.2
// through each frontend of HAProxy (TLS) to wsproxy, the client sending
// forged forwarding headers, and checks the bytes, and the real client in
// wsproxy's log and recording.
func TestWebSocket(t *testing.T) {
	vnctest.Require(t, "haproxy", "haproxy")
	bin := wsproxytest.Build(t)
	forged := http.Header{
		"X-Forwarded-For": {"203.0.113.7"},
		"Forwarded":       {"for=198.51.100.9"},
	}
	for _, tc := range []struct {
		name     string
		frontend func(frontends) string
		trusted  []string
		// want returns the real client that wsproxy must find, given the
		// client's address.
		want func(local string) string
	}{
		// The PROXY header's source is the client's address and port;
		// the forged headers, behind it, are ignored.
		{"ProxyProtocol", func(f frontends) string { return f.tcp }, []string{"127.0.0.1/32"},
			func(local string) string { return local }},
		// HTTP mode: only HAProxy is trusted, so the client's own
		// X-Forwarded-For entry is left of an untrusted hop, the client,
		// which is taken.
		{"HTTP/UntrustedClient", func(f frontends) string { return f.http }, []string{"127.0.0.1/32"},
			func(string) string { return "127.0.0.2" }},
		// HTTP mode, the client is a trusted proxy too: its
		// X-Forwarded-For entry is believed. Its Forwarded header, which
		// wsproxy would read first, must have been dropped by HAProxy.
		{"HTTP/TrustedClient", func(f frontends) string { return f.http }, []string{"127.0.0.1/32", "127.0.0.2/32"},
			func(string) string { return "203.0.113.7" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := wstest.NewCert(t)
			p := wsproxytest.Start(t, bin, wstest.Echo(t), tc.trusted...)
			f := startHAProxy(t, p.Addr, cert)

			c := wstest.Dial(t, "wss://"+tc.frontend(f)+"/websockify", wstest.DialOptions{Protocols: []string{"binary"},
				LocalIP: "127.0.0.2", Header: forged, TLS: cert.ClientConfig(),
			})
			const msg = "RFB 003.008\n through HAProxy"
			if got := c.Exchange(t, msg); got != msg {
				t.Errorf("got echo %q, want %q", got, msg)
			}
			want := tc.want(c.Local)
			if got := p.RealClient(t); got != want {
				t.Errorf("got real_client=%q in wsproxy's log, want %q", got, want)
			}
			c.Goodbye()
			h := p.Recording(t)
			if got := h.Meta[format.MetaRealClient]; got != want {
				t.Errorf("got recording real_client %q, want %q", got, want)
			}
			if got := h.Meta[format.MetaClient]; !strings.HasPrefix(got, "127.0.0.1:") {
				t.Errorf("got recording client %q, want HAProxy's address 127.0.0.1:PORT", got)
			}
		})
	}
}

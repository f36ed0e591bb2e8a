package nginx_test

import (
	"fmt"
	"io"
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

// nginxServer is nginx running wsproxy.conf.
type nginxServer struct {
	httpsAddr, httpAddr string
}

// configure writes a prefix directory for nginx: wsproxy.conf with the
// ports, the upstream and the certificate replaced, included by a minimal
// nginx.conf that keeps every file nginx writes inside the directory. It
// returns nginx's arguments without -t, and the listening addresses.
func configure(t *testing.T, upstream string, cert *wstest.Cert) ([]string, nginxServer) {
	t.Helper()
	shipped, err := os.ReadFile("wsproxy.conf")
	if err != nil {
		t.Fatal(err)
	}
	s := nginxServer{
		httpsAddr: fmt.Sprintf("127.0.0.1:%d", vnctest.FreePort(t)),
		httpAddr:  fmt.Sprintf("127.0.0.1:%d", vnctest.FreePort(t)),
	}
	conf := string(shipped)
	for _, r := range [][2]string{
		{"listen 443 ssl;", "listen " + s.httpsAddr + " ssl;"},
		{"listen [::]:443 ssl;", ""},
		{"listen 80;", "listen " + s.httpAddr + ";"},
		{"listen [::]:80;", ""},
		{"server 127.0.0.1:6080;", "server " + upstream + ";"},
		{"/etc/ssl/certs/vnc.example.com.pem", cert.CertFile},
		{"/etc/ssl/private/vnc.example.com.key", cert.KeyFile},
	} {
		if n := strings.Count(conf, r[0]); n != 1 {
			t.Fatalf("wsproxy.conf has %q %d times, want once: the test must follow the file", r[0], n)
		}
		conf = strings.Replace(conf, r[0], r[1], 1)
	}
	prefix := t.TempDir()
	write(t, filepath.Join(prefix, "wsproxy.conf"), conf)
	write(t, filepath.Join(prefix, "nginx.conf"), `events {}
http {
    access_log access.log;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    include wsproxy.conf;
}
`)
	if err := os.Mkdir(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{
		"-p", prefix + "/", "-c", "nginx.conf", "-e", "stderr",
		"-g", "daemon off; pid nginx.pid; error_log stderr notice;",
	}
	return args, s
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startNginx checks the configuration with nginx -t, then runs nginx in
// front of the wsproxy at upstream until the test ends.
func startNginx(t *testing.T, upstream string, cert *wstest.Cert) nginxServer {
	t.Helper()
	args, s := configure(t, upstream, cert)
	out, err := exec.Command("nginx", append(args, "-t")...).CombinedOutput()
	if err != nil || strings.Contains(string(out), "[warn]") {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	vnctest.StartConfigured(t, "nginx", exec.Command("nginx", args...), s.httpsAddr, s.httpAddr)
	return s
}

// TestWebSocket relays WebSocket sessions from a client on 127.0.0.2
// through nginx (TLS) to wsproxy, the client sending forged forwarding
// headers, and checks the bytes, and the real client in wsproxy's log and
// recording.
func TestWebSocket(t *testing.T) {
	vnctest.Require(t, "nginx", "nginx-light")
	bin := wsproxytest.Build(t)
	forged := http.Header{
		"X-Forwarded-For": {"203.0.113.7"},
		"Forwarded":       {"for=198.51.100.9"},
	}
	for _, tc := range []struct {
		name    string
		trusted []string
		want    string
	}{
		// Only nginx is trusted: the client's own X-Forwarded-For entry
		// is left of an untrusted hop, the client, which is taken.
		{"UntrustedClient", []string{"127.0.0.1/32"}, "127.0.0.2"},
		// The client is a trusted proxy too: its X-Forwarded-For entry is
		// believed. Its Forwarded header, which wsproxy would read first,
		// must have been dropped by nginx.
		{"TrustedClient", []string{"127.0.0.1/32", "127.0.0.2/32"}, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := wstest.NewCert(t)
			p := wsproxytest.Start(t, bin, wstest.Echo(t), tc.trusted...)
			s := startNginx(t, p.Addr, cert)

			c := wstest.Dial(t, "wss://"+s.httpsAddr+"/websockify", wstest.DialOptions{Protocols: []string{"binary"},
				LocalIP: "127.0.0.2", Header: forged, TLS: cert.ClientConfig(),
			})
			const msg = "RFB 003.008\n through nginx"
			if got := c.Exchange(t, msg); got != msg {
				t.Errorf("got echo %q, want %q", got, msg)
			}
			if got := p.RealClient(t); got != tc.want {
				t.Errorf("got real_client=%q in wsproxy's log, want %q", got, tc.want)
			}
			c.Goodbye()
			h := p.Recording(t)
			if got := h.Meta[format.MetaRealClient]; got != tc.want {
				t.Errorf("got recording real_client %q, want %q", got, tc.want)
			}
			if got := h.Meta[format.MetaClient]; !strings.HasPrefix(got, "127.0.0.1:") {
				t.Errorf("got recording client %q, want nginx's address 127.0.0.1:PORT", got)
			}
		})
	}
}

// TestPages checks the other locations: noVNC's pages, and the redirect
// of http:// to https://.
func TestPages(t *testing.T) {
	vnctest.Require(t, "nginx", "nginx-light")
	vnctest.Require(t, "/usr/share/novnc/vnc.html", "novnc")
	cert := wstest.NewCert(t)
	s := startNginx(t, "127.0.0.1:9", cert) // no wsproxy: not reached

	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: cert.ClientConfig()},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       wsproxytest.Timeout,
	}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Get("https://" + s.httpsAddr + "/vnc.html")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "noVNC") {
		t.Errorf("GET /vnc.html: got %s, %d bytes, want 200 and noVNC's page", resp.Status, len(body))
	}

	resp, err = client.Get("http://" + s.httpAddr + "/vnc.html?autoconnect=true")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// To the default port, 443, which the test's nginx does not listen on.
	want := "https://127.0.0.1/vnc.html?autoconnect=true"
	if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || got != want {
		t.Errorf("GET http:// : got %s Location %q, want 301 to %q", resp.Status, got, want)
	}
}

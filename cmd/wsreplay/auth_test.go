package main

import (
	"crypto/tls"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/internal/wstest"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
)

// authGET requests url with the basic credentials user:password (none if
// user is ""), as a WebSocket upgrade if upgrade, and returns the
// response's status and WWW-Authenticate header.
func authGET(t testing.TB, hc *http.Client, url, user, password string, upgrade bool) (int, string) {
	t.Helper()
	status, _, h := request(t, hc, url, user, password, upgrade)
	return status, h.Get("WWW-Authenticate")
}

// noRedirect is a client that returns redirects instead of following
// them, so that /ui's 301 shows.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestAuthBasic: with --ui --auth-plugin BasicHTTPAuth --web-auth, the
// pages, their JSON, the JSON API, the --web files and the WebSockets
// answer 401 with WWW-Authenticate without credentials or with wrong ones,
// and serve them with the right ones.
func TestAuthBasic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRecording(t, dir, "a.wsrec")
	web := webDir(t)
	cmd := start(t, "--ui", "--web", web, "--web-auth", "--auth-plugin", "BasicHTTPAuth", "--auth-source", "alice:s3cret",
		"--speed", "max", "--mode", "bytes", "127.0.0.1:0", dir)
	base := "http://" + cmd.addr
	paths := []struct {
		path    string
		upgrade bool
		want    int // with the right credentials
	}{
		{"/ui", false, http.StatusMovedPermanently},
		{"/ui/", false, http.StatusOK},
		{"/ui/play.html", false, http.StatusOK},
		{"/ui/api/recordings", false, http.StatusOK},
		{"/ui/api/recording?name=a.wsrec", false, http.StatusOK},
		{"/ui/api/download?name=a.wsrec", false, http.StatusOK},
		{"/recordings", false, http.StatusOK},
		{"/replays", false, http.StatusOK},
		{"/vnc.html", false, http.StatusOK},
		{"/a.wsrec", true, http.StatusSwitchingProtocols},
		{"/replays/nope/control", true, http.StatusSwitchingProtocols}, // then answered {"error": ...}
	}
	for _, p := range paths {
		t.Run(strings.NewReplacer("/", "_", "?", "_").Replace(p.path), func(t *testing.T) {
			for _, c := range []struct{ name, user, password string }{
				{"NoCredentials", "", ""}, {"WrongPassword", "alice", "guess"}, {"WrongUser", "bob", "s3cret"},
			} {
				status, challenge := authGET(t, noRedirect, base+p.path, c.user, c.password, p.upgrade)
				if status != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Basic realm=") {
					t.Errorf("%s: got %d, WWW-Authenticate %q; want 401 with a Basic challenge", c.name, status, challenge)
				}
			}
			if status, _ := authGET(t, noRedirect, base+p.path, "alice", "s3cret", p.upgrade); status != p.want {
				t.Errorf("with credentials: got %d, want %d", status, p.want)
			}
		})
	}
	// The replay WebSocket with credentials plays; without, no session.
	c := wstest.Dial(t, "ws://"+cmd.addr+"/a.wsrec", wstest.DialOptions{Header: http.Header{"Authorization": {"Basic YWxpY2U6czNjcmV0"}}})
	c.Expect(t, "hello")
	c.Expect(t, "world")
	c.ExpectClose(t, ws.StatusNormalClosure)
	if _, err := wstest.TryDial(t, "ws://"+cmd.addr+"/a.wsrec", wstest.DialOptions{}); err == nil {
		t.Error("replay WebSocket without credentials: accepted")
	}
	noRedirect.CloseIdleConnections()
}

// TestAuthUIWithoutWebAuth: with an auth plugin the --ui pages and their
// JSON are behind it even without --web-auth; the --web files are not.
func TestAuthUIWithoutWebAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRecording(t, dir, "a.wsrec")
	web := webDir(t)
	cmd := start(t, "--ui", "--web", web, "--auth-plugin", "BasicHTTPAuth", "--auth-source", "alice:s3cret", "127.0.0.1:0", dir)
	base := "http://" + cmd.addr
	for _, path := range []string{"/ui/", "/ui/api/recordings", "/ui/index.html", "/ui/novnc/core/rfb.js", "/ui/../recordings", "/recordings", "/replays"} {
		if status, challenge := authGET(t, noRedirect, base+path, "", "", false); status != http.StatusUnauthorized || challenge == "" {
			t.Errorf("GET %s: got %d, WWW-Authenticate %q; want 401 with a challenge", path, status, challenge)
		}
	}
	if status, _ := authGET(t, noRedirect, base+"/vnc.html", "", "", false); status != http.StatusOK {
		t.Errorf("GET /vnc.html without --web-auth: got %d, want 200", status)
	}
	cmd.stderr.Wait(t, reClientsAuthenticated)
	noRedirect.CloseIdleConnections()
}

// TestAuthEnv: the auth options come from WSREPLAY_ variables too, and
// --ui without an auth plugin is warned about.
func TestAuthEnv(t *testing.T) {
	dir := t.TempDir()
	writeRecording(t, dir, "a.wsrec")
	t.Setenv("WSREPLAY_AUTH_PLUGIN", "websockify.auth_plugins.BasicHTTPAuth")
	t.Setenv("WSREPLAY_AUTH_SOURCE", "alice:s3cret")
	cmd := start(t, "--ui", "127.0.0.1:0", dir)
	if status, _ := authGET(t, http.DefaultClient, "http://"+cmd.addr+"/ui/api/recordings", "", "", false); status != http.StatusUnauthorized {
		t.Errorf("GET /ui/api/recordings: got %d, want 401", status)
	}
	if status, _ := authGET(t, http.DefaultClient, "http://"+cmd.addr+"/ui/api/recordings", "alice", "s3cret", false); status != http.StatusOK {
		t.Errorf("GET /ui/api/recordings with credentials: got %d, want 200", status)
	}
	t.Setenv("WSREPLAY_AUTH_PLUGIN", "")
	t.Setenv("WSREPLAY_AUTH_SOURCE", "")
	open := start(t, "--ui", "127.0.0.1:0", dir)
	open.stderr.Wait(t, reUnguarded)
	if status, _ := authGET(t, http.DefaultClient, "http://"+open.addr+"/ui/api/recordings", "", "", false); status != http.StatusOK {
		t.Errorf("GET /ui/api/recordings without an auth plugin: got %d, want 200", status)
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestAuthClientCert: ClientCertCNAuth accepts a verified client
// certificate of a listed common name on the pages, the JSON and the
// WebSockets, and refuses (403) a verified one of another name.
func TestAuthClientCert(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRecording(t, dir, "a.wsrec")
	ca := wstest.NewCert(t)         // common name "wstest", may sign clients
	server := ca.Issue(t, 2, false) // localhost
	client := ca.Issue(t, 3, true)  // common name "client"
	cmd := start(t, "--cert", server.CertFile, "--key", server.KeyFile, "--verify-client", "--cafile", ca.CertFile,
		"--auth-plugin", "ClientCertCNAuth", "--auth-source", "admin client", "--ui", "--speed", "max", "--mode", "bytes", "127.0.0.1:0", dir)
	tlsFor := func(cert *wstest.Cert) *tls.Config {
		return &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{cert.TLS}}
	}
	for _, tt := range []struct {
		name string
		cert *wstest.Cert
		want int
	}{
		{"Listed", client, http.StatusOK},
		{"Unlisted", ca, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: tlsFor(tt.cert)}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}
			for _, path := range []string{"/ui/", "/ui/api/recordings", "/recordings", "/replays"} {
				if status, _ := authGET(t, hc, "https://"+cmd.addr+path, "", "", false); status != tt.want {
					t.Errorf("GET %s: got %d, want %d", path, status, tt.want)
				}
			}
			c, err := wstest.TryDial(t, "wss://"+cmd.addr+"/a.wsrec", wstest.DialOptions{TLS: tlsFor(tt.cert)})
			switch {
			case tt.want == http.StatusOK && err != nil:
				t.Errorf("replay WebSocket: %v", err)
			case tt.want == http.StatusOK:
				c.Expect(t, "hello")
			case err == nil:
				t.Error("replay WebSocket of an unlisted name: accepted")
			}
		})
	}
	// Without a certificate the TLS handshake itself fails.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	if resp, err := hc.Get("https://" + cmd.addr + "/ui/"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /ui/ without a client certificate: got %s, want a failed handshake", resp.Status)
	}
}

// TestAuthUsage: the auth options' mistakes are usage errors that name
// them.
func TestAuthUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := writeRecording(t, dir, "a.wsrec")
	cert := wstest.NewCert(t)
	tests := []clitest.Case{
		{Name: "ErrSourceAlone", Args: []string{"--auth-source", "a:b", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --auth-source needs --auth-plugin\n"}},
		{Name: "ErrNoSource", Args: []string{"--auth-plugin", "BasicHTTPAuth", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --auth-plugin BasicHTTPAuth needs --auth-source\n"}},
		{Name: "ErrUnknown", Args: []string{"--auth-plugin", "DigestAuth", "--auth-source", "x", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --auth-plugin DigestAuth: unknown plugin; want one of BasicHTTPAuth, ClientCertCNAuth, ExpectOrigin\n"}},
		{Name: "ErrPython", Args: []string{"--auth-plugin", "corp.Auth", "--auth-source", "x", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"Python classes cannot be loaded"}},
		{Name: "ErrClientCertNoVerify", Args: []string{"--cert", cert.CertFile, "--key", cert.KeyFile, "--auth-plugin", "ClientCertCNAuth", "--auth-source", "alice", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --auth-plugin ClientCertCNAuth needs --verify-client: only a verified client certificate counts\n"}},
		{Name: "ErrWebAuthAlone", Args: []string{"--web", dir, "--web-auth", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --web-auth needs --auth-plugin\n"}},
		{Name: "ErrWebAuthNoPages", Args: []string{"--web-auth", "--auth-plugin", "BasicHTTPAuth", "--auth-source", "a:b", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --web-auth needs --web (or --ui"}},
		{Name: "ErrUIExpectOrigin", Args: []string{"--ui", "--auth-plugin", "ExpectOrigin", "--auth-source", "https://a.example", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --auth-plugin ExpectOrigin cannot guard the --ui pages: a browser sends no Origin header when it opens a page"}},
		{Name: "ErrRFBListenBypass", Args: []string{"--rfb-listen", "5999", "--auth-plugin", "BasicHTTPAuth", "--auth-source", "a:b", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --rfb-listen would bypass --auth-plugin (a VNC viewer speaks no HTTP): give --password-file so that its viewers authenticate too\n"}},
		{Name: "ErrHtpasswdMissing", Args: []string{"--auth-plugin", "BasicHTTPAuth", "--auth-source", filepath.Join(dir, "htpasswd"), "127.0.0.1:0", rec}, WantCode: cli.ExitFailure, WantStderr: []string{"wsreplay: error: --auth-plugin BasicHTTPAuth: ", "htpasswd"}},
	}
	clitest.RunCases(t, run, tests)
}

var (
	reClientsAuthenticated = regexp.MustCompile(`level=INFO msg="clients authenticated" plugin=BasicHTTPAuth web_auth=false\n`)
	reUnguarded            = regexp.MustCompile(`level=WARN msg="--ui without --auth-plugin: whoever reaches the port can watch every recording and read what was typed"\n`)
)

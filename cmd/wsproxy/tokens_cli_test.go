package main

import (
	"encoding/base64"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/gobwas/ws"
)

// TestTokenPluginCLI runs wsproxy with websockify's token and auth options
// and no target: the token chooses the target, an unknown one is answered
// before the upgrade, and the auth plugin guards the upgrade and --web.
func TestTokenPluginCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	writeFile(t, tokens, []byte("# targets\nalpha: "+startEcho(t, "tcp", nil)+"\n"))
	web := t.TempDir()
	writeFile(t, filepath.Join(web, "index.html"), []byte("page"))
	for _, args := range [][]string{
		{"--token-plugin", "TokenFile", "--token-source", tokens},
		{"--token-plugin", "websockify.token_plugins.ReadOnlyTokenFile", "--token-source", tokens},
		{"--target-config", tokens},
	} {
		in := startRun(t, append(args, "--auth-plugin", "BasicHTTPAuth", "--auth-source", "alice:s3cret", "--web", web, "--web-auth", "127.0.0.1:0")...)
		status := func(path string, user, pass string) int {
			req, _ := http.NewRequest("GET", "http://"+in.addr+path, nil)
			if user != "" {
				req.SetBasicAuth(user, pass)
			}
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for _, tc := range []struct {
			path, user, pass string
			want             int
		}{
			{"/?token=alpha", "", "", 401},
			{"/?token=alpha", "alice", "wrong", 401},
			{"/?token=nope", "alice", "s3cret", 404},
			{"/", "alice", "s3cret", 400},
			{"/?token=alpha", "alice", "s3cret", 101},
		} {
			if got := status(tc.path, tc.user, tc.pass); got != tc.want {
				t.Errorf("%v: %s as %q: status %d, want %d", args, tc.path, tc.user, got, tc.want)
			}
		}
		d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))}})}
		c, _, _, err := d.Dial(t.Context(), "ws://"+in.addr+"/?token=alpha")
		if err != nil {
			t.Fatal(err)
		}
		assertEcho(t, c, "through the token")
		c.Close()
		resp, err := http.Get("http://" + in.addr + "/index.html")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("--web-auth: page without credentials: status %d, want 401", resp.StatusCode)
		}
	}
}

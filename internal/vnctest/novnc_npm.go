package vnctest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// NoVNCNpmDir returns where .ci/install puts the current noVNC from npm
// (@novnc/novnc 1.7): the package's directory under $NOVNC_NPM_DIR, or
// under ~/.cache/wsproxy-novnc when that is not set.
func NoVNCNpmDir() string {
	dir := os.Getenv("NOVNC_NPM_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "wsproxy-novnc")
	}
	return filepath.Join(dir, "node_modules", "@novnc", "novnc")
}

// noVNCModulePage is a page of our own for the npm package, which has no
// HTML page: it imports core/rfb.js and shows, as vnc_lite.html does, a
// status line (#status) and the screen (#screen). It takes the same query
// parameters as vnc_lite.html: host, port, path and password.
const noVNCModulePage = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>noVNC module test</title></head>
<body><div id="status">Loading</div><div id="screen"></div>
<script type="module">
import RFB from './core/rfb.js';
const q = new URLSearchParams(location.search);
const url = 'ws://' + (q.get('host') || location.hostname) + ':' + (q.get('port') || location.port) + '/' + (q.get('path') || 'websockify');
const status = document.getElementById('status');
status.textContent = 'Connecting';
const opts = {};
if (q.get('password')) opts.credentials = {password: q.get('password')};
const rfb = new RFB(document.getElementById('screen'), url, opts);
rfb.addEventListener('connect', () => { status.textContent = 'Connected'; });
rfb.addEventListener('desktopname', (e) => { status.textContent = 'Connected to ' + e.detail.name; });
rfb.addEventListener('credentialsrequired', () => {
	console.warn('vnctest: credentials required and none given');
	rfb.disconnect();
});
rfb.addEventListener('disconnect', (e) => {
	status.textContent = e.detail.clean ? 'Disconnected' : 'Something went wrong, connection is closed';
});
window.rfb = rfb;
</script></body></html>
`

// ServeNoVNCModule serves the current noVNC from npm (see NoVNCNpmDir),
// with a page of its own, /test.html, on a free port of 127.0.0.1, and
// returns the page's URL, "http://127.0.0.1:PORT/test.html". The page
// connects with ws:// to the host, port and path of its query, as
// vnc_lite.html does: open it with Browser.OpenNoVNC and NoVNCOptions with
// Host and Port set. The server is closed in t.Cleanup. It skips the test
// (fails it when CI is set) if the npm package is missing.
func ServeNoVNCModule(t testing.TB) string {
	t.Helper()
	mod := NoVNCNpmDir()
	Require(t, filepath.Join(mod, "core", "rfb.js"), "npm's @novnc/novnc 1.7 (bash .ci/install installs it)")
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(mod)))
	mux.HandleFunc("/test.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(noVNCModulePage))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/test.html"
}

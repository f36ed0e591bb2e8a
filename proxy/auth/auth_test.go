package auth_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/auth"
)

// authRequest is a request with the given header lines ("Name: value").
func authRequest(t testing.TB, lines ...string) *proxy.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://proxy.example/websockify", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ": ")
		req.Header.Add(name, value)
	}
	return &proxy.Request{HTTP: req}
}

// checkAuth runs a and checks the user it returns, or the status it
// answers (0 for success).
func checkAuth(t testing.TB, a proxy.Authenticator, r *proxy.Request, wantUser string, wantStatus int) {
	t.Helper()
	user, err := a.Authenticate(t.Context(), r)
	if wantStatus == 0 {
		if err != nil || user != wantUser {
			t.Errorf("Authenticate = %q, %v; want %q", user, err, wantUser)
		}
		return
	}
	var herr *proxy.HTTPError
	if !errors.As(err, &herr) || herr.Status != wantStatus {
		t.Fatalf("Authenticate = %q, %v; want HTTP %d", user, err, wantStatus)
	}
	challenge := herr.Header.Get("WWW-Authenticate")
	if (wantStatus == http.StatusUnauthorized) != strings.HasPrefix(challenge, "Basic realm=") {
		t.Errorf("HTTP %d with WWW-Authenticate %q", wantStatus, challenge)
	}
}

func basic(creds string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(creds))
}

// websockify's BasicHTTPAuth cases (tests/test_auth_plugins.py) and the
// answers of its auth_error (403) and demand_auth (401).
func TestBasic(t *testing.T) {
	t.Parallel()
	a := auth.NewBasic("Aladdin", "open sesame")
	tests := []struct {
		name   string
		header string
		user   string
		status int
	}{
		{"OK", "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", 0},
		{"OKLowercaseScheme", "Authorization: basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", 0},
		{"ErrNoAuth", "", "", http.StatusUnauthorized},
		{"ErrWrongPassword", "Authorization: Basic QWxhZGRpbjpzZXNhbWUgc3RyZWV0", "", http.StatusUnauthorized},
		{"ErrWrongUser", basic("aladdin:open sesame"), "", http.StatusUnauthorized},
		{"ErrPasswordPrefix", basic("Aladdin:open"), "", http.StatusUnauthorized},
		{"ErrPasswordLonger", basic("Aladdin:open sesame!"), "", http.StatusUnauthorized},
		{"ErrGarbage", "Authorization: Basic xxxxxxxxxxxxxxxxxxxxxxxxxxxx", "", http.StatusForbidden},
		{"ErrNotBase64", "Authorization: Basic ***", "", http.StatusForbidden},
		{"ErrOtherScheme", "Authorization: Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var lines []string
			if tt.header != "" {
				lines = append(lines, tt.header)
			}
			checkAuth(t, a, authRequest(t, lines...), tt.user, tt.status)
		})
	}
	// A password with a colon: the user name ends at the first one.
	checkAuth(t, auth.NewBasic("u", "p:w"), authRequest(t, basic("u:p:w")), "u", 0)
}

// An htpasswd file of bcrypt hashes, read again when it changes.
func TestBasicFile(t *testing.T) {
	t.Parallel()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	writeFile := func(t *testing.T, path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	writeFile(t, path, "# operators\nalice:"+hash("wonderland")+"\n\nbob:"+hash("builder")+"\n")
	a, err := auth.NewBasicFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkAuth(t, a, authRequest(t, basic("alice:wonderland")), "alice", 0)
	checkAuth(t, a, authRequest(t, basic("bob:builder")), "bob", 0)
	checkAuth(t, a, authRequest(t, basic("alice:builder")), "", http.StatusUnauthorized)
	checkAuth(t, a, authRequest(t, basic("carol:wonderland")), "", http.StatusUnauthorized)
	checkAuth(t, a, authRequest(t), "", http.StatusUnauthorized)

	writeFile(t, path, "carol:"+hash("x")+"\n")
	checkAuth(t, a, authRequest(t, basic("carol:x")), "carol", 0)
	checkAuth(t, a, authRequest(t, basic("alice:wonderland")), "", http.StatusUnauthorized)

	for name, content := range map[string]string{
		"md5":      "alice:$apr1$abc$defghijklmnopqrstuvwx.\n",
		"sha":      "alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n",
		"plain":    "alice:wonderland\n",
		"nocolon":  "alice\n",
		"nouser":   ":" + hash("x") + "\n",
		"crypt":    "alice:rl0uE1ZCuPhKI\n",
		"notafile": "",
	} {
		p := filepath.Join(t.TempDir(), name)
		if name != "notafile" {
			writeFile(t, p, content)
		}
		if _, err := auth.NewBasicFile(p); err == nil {
			t.Errorf("htpasswd %s: no error", name)
		}
	}
}

func TestExpectOrigin(t *testing.T) {
	t.Parallel()
	o := auth.NewExpectOrigin(strings.Fields("https://novnc.example  http://localhost:6080")...)
	checkAuth(t, o, authRequest(t, "Origin: https://novnc.example"), "", 0)
	checkAuth(t, o, authRequest(t, "Origin: http://localhost:6080"), "", 0)
	checkAuth(t, o, authRequest(t, "Origin: https://evil.example"), "", http.StatusForbidden)
	checkAuth(t, o, authRequest(t, "Origin: https://novnc.example.evil.example"), "", http.StatusForbidden)
	checkAuth(t, o, authRequest(t, "Origin: HTTPS://NOVNC.EXAMPLE"), "", http.StatusForbidden)
	checkAuth(t, o, authRequest(t, "Origin: null"), "", http.StatusForbidden)
	checkAuth(t, o, authRequest(t), "", http.StatusForbidden)
}

// Only a verified certificate counts; headers that mimic TLS facts
// (websockify's SSL_CLIENT_S_DN_CN) mean nothing.
func TestClientCertCN(t *testing.T) {
	t.Parallel()
	a := auth.NewClientCertCN("alice", "bob")
	// Authenticate reads the chains the listener verified, not the
	// certificates themselves.
	alice := &x509.Certificate{Subject: pkix.Name{CommonName: "alice"}}
	eve := &x509.Certificate{Subject: pkix.Name{CommonName: "eve"}}
	withTLS := func(st *tls.ConnectionState, lines ...string) *proxy.Request {
		r := authRequest(t, lines...)
		r.HTTP.TLS = st
		return r
	}
	verified := func(c *x509.Certificate) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}, VerifiedChains: [][]*x509.Certificate{{c}}}
	}
	checkAuth(t, a, withTLS(verified(alice)), "alice", 0)
	checkAuth(t, a, withTLS(verified(eve)), "", http.StatusForbidden)
	checkAuth(t, a, withTLS(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{alice}}), "", http.StatusForbidden)
	checkAuth(t, a, withTLS(&tls.ConnectionState{}), "", http.StatusForbidden)
	checkAuth(t, a, withTLS(nil, "SSL_CLIENT_S_DN_CN: alice", "Ssl-Client-S-Dn-Cn: alice"), "", http.StatusForbidden)
	checkAuth(t, a, withTLS(verified(eve), "SSL_CLIENT_S_DN_CN: alice"), "", http.StatusForbidden)
}

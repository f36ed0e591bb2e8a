package proxy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wsproxy/wsproxy/proxy"
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
func TestBasicAuth(t *testing.T) {
	t.Parallel()
	a := proxy.NewBasicAuth("Aladdin", "open sesame")
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
	checkAuth(t, proxy.NewBasicAuth("u", "p:w"), authRequest(t, basic("u:p:w")), "u", 0)
}

// An htpasswd file of bcrypt hashes, read again when it changes.
func TestBasicAuthFile(t *testing.T) {
	t.Parallel()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	writeFile(t, path, "# operators\nalice:"+hash("wonderland")+"\n\nbob:"+hash("builder")+"\n")
	a, err := proxy.NewBasicAuthFile(path)
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
		if _, err := proxy.NewBasicAuthFile(p); err == nil {
			t.Errorf("htpasswd %s: no error", name)
		}
	}
}

func TestExpectOrigin(t *testing.T) {
	t.Parallel()
	o := proxy.NewExpectOrigin(strings.Fields("https://novnc.example  http://localhost:6080")...)
	checkAuth(t, o, authRequest(t, "Origin: https://novnc.example"), "", 0)
	checkAuth(t, o, authRequest(t, "Origin: http://localhost:6080"), "", 0)
	checkAuth(t, o, authRequest(t, "Origin: https://evil.example"), "", http.StatusForbidden)
	checkAuth(t, o, authRequest(t, "Origin: https://novnc.example.evil.example"), "", http.StatusForbidden)
	checkAuth(t, o, authRequest(t, "Origin: HTTPS://NOVNC.EXAMPLE"), "", http.StatusForbidden)
	checkAuth(t, o, authRequest(t, "Origin: null"), "", http.StatusForbidden)
	checkAuth(t, o, authRequest(t), "", http.StatusForbidden)
}

// clientCert returns a client certificate for cn, signed by itself.
func clientCert(t testing.TB, cn string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, cert
}

// Only a verified certificate counts; headers that mimic TLS facts
// (websockify's SSL_CLIENT_S_DN_CN) mean nothing.
func TestClientCertCN(t *testing.T) {
	t.Parallel()
	a := proxy.NewClientCertCN("alice", "bob")
	_, alice := clientCert(t, "alice")
	_, eve := clientCert(t, "eve")
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

// End to end: Basic auth answers 401 before the upgrade, then lets the
// right credentials through, with the user in the session; a wrong Origin
// is answered 403 and never reaches the target.
func TestAuthEndToEnd(t *testing.T) {
	t.Parallel()
	ts := startTarget(t)
	tap := newRecordingTap()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: ts.Target, Authenticator: proxy.NewBasicAuth("alice", "s3cret"), NewTap: tap.newTap})

	c := dial(t, addr, request())
	resp := c.readResponse()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Basic realm="Websockify"`) {
		t.Errorf("no credentials: %d %q, want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	c.expectEOF()
	c = dial(t, addr, request(basic("alice:wrong")))
	if resp := c.readResponse(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", resp.StatusCode)
	}
	expectNoConn(t, ts)

	c = upgrade(t, addr, basic("alice:s3cret"))
	ts.accept(t).Close()
	c.expectClose(proxy.CloseNormal, "")
	tap.waitClosed(t)
	if tap.info.User != "alice" {
		t.Errorf("SessionInfo.User %q, want alice", tap.info.User)
	}

	_, addr = startServer(t, proxy.ServerOptions{Resolver: ts.Target, Authenticator: proxy.NewExpectOrigin("https://novnc.example")})
	c = dial(t, addr, request("Origin: https://evil.example"))
	if resp := c.readResponse(); resp.StatusCode != http.StatusForbidden {
		t.Errorf("wrong Origin: status %d, want 403", resp.StatusCode)
	}
	expectNoConn(t, ts)
	c = upgrade(t, addr, "Origin: https://novnc.example")
	ts.accept(t).Close()
	c.expectClose(proxy.CloseNormal, "")
}

// End to end over wss:// with client certificates verified by the
// listener (--verify-client): the CN is the session's user.
func TestClientCertCNEndToEnd(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	aliceCert, alice := clientCert(t, "alice")
	eveCert, _ := clientCert(t, "eve")
	serverTLS.ClientAuth = tls.RequireAndVerifyClientCert
	serverTLS.ClientCAs = x509.NewCertPool()
	serverTLS.ClientCAs.AddCert(alice)
	ts := startTarget(t)
	tap := newRecordingTap()
	_, addr := startServer(t, proxy.ServerOptions{
		Resolver: ts.Target, TLSConfig: serverTLS, RequireTLS: true,
		Authenticator: proxy.NewClientCertCN("alice"), NewTap: tap.newTap,
	})

	aliceTLS := clientTLS.Clone()
	aliceTLS.Certificates = []tls.Certificate{aliceCert}
	conn, err := tls.Dial("tcp", addr, aliceTLS)
	if err != nil {
		t.Fatal(err)
	}
	c := upgradeConn(t, conn, "SSL_CLIENT_S_DN_CN: bob")
	ts.accept(t).Close()
	c.expectClose(proxy.CloseNormal, "")
	tap.waitClosed(t)
	if tap.info.User != "alice" {
		t.Errorf("SessionInfo.User %q, want alice", tap.info.User)
	}

	// Eve's certificate is not signed by a trusted authority: the TLS
	// handshake fails before any HTTP.
	eveTLS := clientTLS.Clone()
	eveTLS.Certificates = []tls.Certificate{eveCert}
	if conn, err := tls.Dial("tcp", addr, eveTLS); err == nil {
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Write([]byte(request()))
		if err == nil {
			_, err = conn.Read(make([]byte, 1))
		}
		conn.Close()
		if err == nil {
			t.Error("a client with an untrusted certificate was answered")
		}
	}
	expectNoConn(t, ts)
}

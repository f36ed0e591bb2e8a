package proxy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/auth"
)

// The authentication plugins of package auth through a proxy.Server: the
// answers before the upgrade, and the user in SessionInfo.

func basic(creds string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(creds))
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

// End to end: Basic auth answers 401 before the upgrade, then lets the
// right credentials through, with the user in the session; a wrong Origin
// is answered 403 and never reaches the target.
func TestAuthEndToEnd(t *testing.T) {
	t.Parallel()
	ts := startTarget(t)
	tap := newRecordingTap()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: ts.Target, Authenticator: auth.NewBasic("alice", "s3cret"), NewTap: tap.newTap})

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

	_, addr = startServer(t, proxy.ServerOptions{Resolver: ts.Target, Authenticator: auth.NewExpectOrigin("https://novnc.example")})
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
		Authenticator: auth.NewClientCertCN("alice"), NewTap: tap.newTap,
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

package vnctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a self-signed certificate for 127.0.0.1, ::1 and localhost, valid
// for a day, to give a proxy under test for https and wss. A browser that
// StartBrowser starts trusts it if it is in BrowserOptions.Trust.
type Cert struct {
	// CertFile and KeyFile are PEM files of the certificate and of its
	// private key (PKCS #8), as websockify's --cert and --key take them.
	CertFile, KeyFile string
	// TLS is the certificate and key for a Go server.
	TLS tls.Certificate
	// X509 is the parsed certificate.
	X509 *x509.Certificate
}

// NewCert makes a Cert with a fresh ECDSA P-256 key, its files in a
// directory of t.TempDir.
func NewCert(t testing.TB) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "vnctest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	c := &Cert{
		TLS: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
	if c.X509, err = x509.ParseCertificate(der); err != nil {
		t.Fatalf("cert: %v", err)
	}
	dir := t.TempDir()
	c.CertFile = filepath.Join(dir, "cert.pem")
	c.KeyFile = filepath.Join(dir, "key.pem")
	writePEM(t, c.CertFile, "CERTIFICATE", der)
	writePEM(t, c.KeyFile, "PRIVATE KEY", keyDER)
	return c
}

// writePEM writes one PEM block of type typ to the file path.
func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("cert: %v", err)
	}
}

// spkiHash returns the base64 SHA-256 hash of the certificate's public key,
// as Chromium's --ignore-certificate-errors-spki-list takes it.
func (c *Cert) spkiHash() string {
	sum := sha256.Sum256(c.X509.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// newTLSConfig returns a server configuration with the certificate.
func newTLSConfig(c *Cert) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.TLS}}
}

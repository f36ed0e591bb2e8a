package wstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a test certificate for 127.0.0.1, ::1 and localhost, valid from an
// hour ago for a day, with a fresh ECDSA P-256 key. One made by NewCert is
// self-signed and is also a certificate authority that issues others
// (Issue); a client trusts it through ClientConfig or Pool.
type Cert struct {
	// CertFile and KeyFile are PEM files of the certificate and of its
	// private key (PKCS #8), as websockify's --cert and --key and nginx
	// take them. PEMFile holds both, the certificate first, as
	// websockify's self.pem and HAProxy's crt take them. The files are
	// readable by all: nginx's workers run as nobody when the test runs as
	// root.
	CertFile, KeyFile, PEMFile string
	// TLS is the certificate and key for a Go server.
	TLS tls.Certificate
	// X509 is the parsed certificate; X509.Raw is its DER.
	X509 *x509.Certificate
	// Key is the private key.
	Key *ecdsa.PrivateKey
}

// NewCert makes a self-signed Cert that is also a certificate authority,
// its files in a directory of t.TempDir.
func NewCert(t testing.TB) *Cert {
	t.Helper()
	tmpl := template(time.Now().UnixNano(), "wstest")
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage |= x509.KeyUsageCertSign
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	return newCert(t, tmpl, nil)
}

// Issue makes a certificate signed by c with the serial number serial: a
// server certificate, or a client certificate (common name "client") if
// client is set.
func (c *Cert) Issue(t testing.TB, serial int64, client bool) *Cert {
	t.Helper()
	tmpl := template(serial, "localhost")
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if client {
		tmpl.Subject.CommonName = "client"
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return newCert(t, tmpl, c)
}

// Pool returns a pool that holds c.
func (c *Cert) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.X509)
	return pool
}

// ClientConfig returns a client configuration that trusts c, and the
// certificates it issued, for whatever name or address is dialled.
func (c *Cert) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: c.Pool()}
}

// ServerConfig returns a server configuration that serves c.
func (c *Cert) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.TLS}}
}

// template returns the part of a certificate template that every Cert
// shares.
func template(serial int64, name string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
}

// newCert makes a Cert of tmpl signed by parent, or self-signed if parent
// is nil, and writes its files.
func newCert(t testing.TB, tmpl *x509.Certificate, parent *Cert) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.X509, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	c := &Cert{Key: key, TLS: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
	if c.X509, err = x509.ParseCertificate(der); err != nil {
		t.Fatalf("cert: %v", err)
	}
	c.TLS.Leaf = c.X509
	dir := t.TempDir()
	c.CertFile = filepath.Join(dir, "cert.pem")
	c.KeyFile = filepath.Join(dir, "key.pem")
	c.PEMFile = filepath.Join(dir, "both.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	for path, data := range map[string][]byte{
		c.CertFile: certPEM, c.KeyFile: keyPEM, c.PEMFile: append(certPEM, keyPEM...),
	} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatalf("cert: %v", err)
		}
	}
	return c
}

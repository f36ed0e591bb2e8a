package wsproxytest

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

// Cert is a self-signed certificate for 127.0.0.1 and localhost, valid for
// a day, for a reverse proxy that terminates TLS.
type Cert struct {
	// CertFile and KeyFile are PEM files of the certificate and of its
	// private key (PKCS #8); PEMFile holds both, as HAProxy's crt takes
	// them.
	CertFile, KeyFile, PEMFile string
	// Client is a client configuration that trusts the certificate.
	Client *tls.Config
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
		Subject:               pkix.Name{CommonName: "wsproxytest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
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
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	dir := t.TempDir()
	c := &Cert{
		CertFile: filepath.Join(dir, "cert.pem"),
		KeyFile:  filepath.Join(dir, "key.pem"),
		PEMFile:  filepath.Join(dir, "both.pem"),
		Client:   &tls.Config{RootCAs: pool},
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	for path, data := range map[string][]byte{
		c.CertFile: certPEM, c.KeyFile: keyPEM, c.PEMFile: append(certPEM, keyPEM...),
	} {
		// Readable by all: nginx's workers, which read nothing of it, run as
		// nobody when the test runs as root.
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatalf("cert: %v", err)
		}
	}
	return c
}

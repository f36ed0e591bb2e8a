package vnctest

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/wsproxy/wsproxy/internal/wstest"
)

// Cert is a test certificate for 127.0.0.1, ::1 and localhost (see
// wstest.Cert), to give a proxy under test for https and wss. A browser that
// StartBrowser starts trusts it if it is in BrowserOptions.Trust.
type Cert = wstest.Cert

// NewCert makes a self-signed Cert with wstest.NewCert.
func NewCert(t testing.TB) *Cert {
	t.Helper()
	return wstest.NewCert(t)
}

// spkiHash returns the base64 SHA-256 hash of the certificate's public key,
// as Chromium's --ignore-certificate-errors-spki-list takes it.
func spkiHash(c *Cert) string {
	sum := sha256.Sum256(c.X509.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

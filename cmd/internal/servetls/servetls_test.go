package servetls

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os/exec"
	"strings"
	"testing"

	"github.com/youmark/pkcs8"

	"github.com/wsproxy/wsproxy/internal/wstest"
)

func TestParseCiphers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in string
		want     []uint16
		wantErr  string
	}{
		{"Empty", "", nil, ""},
		{"OpenSSL", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, ""},
		{"IANA", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, ""},
		{"Separators", "AES128-SHA, AES256-SHA", []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA}, ""},
		{"ErrKeyword", "HIGH", nil, `"HIGH" is an OpenSSL keyword`},
		{"ErrOperator", "AES128-SHA:!aNULL", nil, `"!aNULL" is an OpenSSL keyword`},
		{"ErrStrength", "@STRENGTH", nil, "keyword or operator"},
		{"ErrTLS13", "TLS_AES_128_GCM_SHA256", nil, "is a TLS 1.3 suite"},
		{"ErrUnknown", "DHE-RSA-AES256-GCM-SHA384", nil, `unknown cipher "DHE-RSA-AES256-GCM-SHA384"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCiphers(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestOpenSSLCipherNames checks the name table against OpenSSL's own.
func TestOpenSSLCipherNames(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("openssl", "ciphers", "-stdname", "ALL:COMPLEMENTOFALL").Output()
	if err != nil {
		t.Skipf("openssl ciphers: %v", err)
	}
	ianaOf := map[string]string{} // OpenSSL name -> IANA name
	for line := range strings.Lines(string(out)) {
		// "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 - ECDHE-ECDSA-AES256-GCM-SHA384 TLSv1.2 ..."
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "-" {
			ianaOf[f[2]] = f[0]
		}
	}
	for name, id := range openSSLCiphers {
		iana, ok := ianaOf[name]
		if !ok {
			if strings.Contains(name, "RC4") || strings.Contains(name, "DES-CBC3") {
				continue // not built into this OpenSSL
			}
			t.Errorf("%s: not an OpenSSL cipher name", name)
			continue
		}
		if got := tls.CipherSuiteName(id); got != iana {
			t.Errorf("%s: mapped to %s, OpenSSL says %s", name, got, iana)
		}
	}
}

func TestKeyPair(t *testing.T) {
	t.Parallel()
	ca := wstest.NewCert(t)
	c := ca.Issue(t, 3, false)
	der, key := c.X509.Raw, c.Key
	certPEM := pemBlock("CERTIFICATE", der)
	password := []byte("s3cret")

	plainDER, _ := x509.MarshalPKCS8PrivateKey(key)
	encPKCS8, err := pkcs8.MarshalPrivateKey(key, password, nil) // PBES2, PBKDF2-SHA256, AES-256-CBC
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(key)
	//lint:ignore SA1019 writing what old OpenSSL tools write, for reading it.
	legacy, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", ecDER, password, x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		keyPEM   []byte
		password []byte
		wantErr  string
	}{
		{"Plain", pemBlock("PRIVATE KEY", plainDER), nil, ""},
		{"PlainIgnoresPassword", pemBlock("PRIVATE KEY", plainDER), password, ""},
		{"PKCS8Encrypted", pemBlock("ENCRYPTED PRIVATE KEY", encPKCS8), password, ""},
		{"LegacyEncrypted", pem.EncodeToMemory(legacy), password, ""},
		{"ErrPKCS8NoPassword", pemBlock("ENCRYPTED PRIVATE KEY", encPKCS8), nil, "the key is encrypted: give --key-password"},
		{"ErrPKCS8WrongPassword", pemBlock("ENCRYPTED PRIVATE KEY", encPKCS8), []byte("wrong"), "wrong --key-password?"},
		{"ErrLegacyNoPassword", pem.EncodeToMemory(legacy), nil, "give --key-password"},
		{"ErrLegacyWrongPassword", pem.EncodeToMemory(legacy), []byte("wrong"), "wrong --key-password?"},
		{"ErrNoKey", certPEM, nil, "no PEM private key found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert, err := keyPair(certPEM, tt.keyPEM, tt.password)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cert.Leaf == nil || cert.Leaf.SerialNumber.Int64() != 3 {
				t.Errorf("got leaf %v, want serial 3", cert.Leaf)
			}
		})
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

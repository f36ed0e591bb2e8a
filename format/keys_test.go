package format_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/format"
)

// pemKeys returns an Ed25519 key pair and the PEM encodings of its
// private key (PKCS #8), of its public key (PKIX) and of an ECDSA key's.
func pemKeys(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey, []byte, []byte, []byte, []byte) {
	t.Helper()
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	return pub, priv, enc("PRIVATE KEY", privDER), enc("PUBLIC KEY", pubDER),
		enc("PRIVATE KEY", ecPriv), enc("PUBLIC KEY", ecPub)
}

func TestParseSigningKey(t *testing.T) {
	t.Parallel()
	_, priv, privPEM, pubPEM, ecPrivPEM, _ := pemKeys(t)
	block, _ := pem.Decode(privPEM)
	otherType := pem.EncodeToMemory(&pem.Block{Type: "ED25519 PRIVATE KEY", Bytes: block.Bytes})
	params := []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")
	tests := []struct {
		name    string
		data    []byte
		wantErr string // empty: the key
	}{
		{"OK", privPEM, ""},
		{"OKWithText", append([]byte("a comment\n"), privPEM...), ""},
		{"OKAfterOtherBlocks", append(append(bytes.Clone(pubPEM), params...), privPEM...), ""},
		{"OKOtherType", otherType, ""}, // wsproxy's reading: the first block
		{"OKBoth", append(otherType, privPEM...), ""},
		{"ErrNoPEM", []byte("not PEM\n"), `no PEM block of type "PRIVATE KEY"`},
		{"ErrEmpty", nil, `no PEM block of type "PRIVATE KEY"`},
		{"ErrPublicKey", pubPEM, `no PEM block of type "PRIVATE KEY"`},
		{"ErrNotEd25519", ecPrivPEM, "a *ecdsa.PrivateKey, not an Ed25519 private key"},
		{"ErrDER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}), "structure error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := format.ParseSigningKey(tt.data)
			if tt.wantErr == "" {
				if err != nil || !key.Equal(priv) {
					t.Fatalf("got %x, %v; want the key", key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %x, %v; want an error with %q", key, err, tt.wantErr)
			}
		})
	}
}

func TestParseVerifyKey(t *testing.T) {
	t.Parallel()
	pub, _, privPEM, pubPEM, _, ecPubPEM := pemKeys(t)
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"OK", pubPEM, ""},
		{"OKAfterPrivateKey", append(bytes.Clone(privPEM), pubPEM...), ""},
		{"ErrNoPEM", []byte("not PEM"), `no PEM block of type "PUBLIC KEY"`},
		{"ErrPrivateKey", privPEM, `no PEM block of type "PUBLIC KEY"`},
		{"ErrNotEd25519", ecPubPEM, "a *ecdsa.PublicKey, not an Ed25519 public key"},
		{"ErrDER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), "structure error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := format.ParseVerifyKey(tt.data)
			if tt.wantErr == "" {
				if err != nil || !key.Equal(pub) {
					t.Fatalf("got %x, %v; want the key", key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %x, %v; want an error with %q", key, err, tt.wantErr)
			}
		})
	}
}

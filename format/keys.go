package format

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// The PEM block types of the signing keys, as OpenSSL writes them.
const (
	pemPrivateKey = "PRIVATE KEY" // PKCS #8: openssl genpkey -algorithm ed25519
	pemPublicKey  = "PUBLIC KEY"  // PKIX: openssl pkey -pubout
)

// ParseSigningKey returns the Ed25519 private key that signs seals
// (WriterOptions.SignKey) from PEM data: the first block of type "PRIVATE
// KEY", PKCS #8, as openssl genpkey -algorithm ed25519 writes it, wherever
// it is among other blocks. Without such a block it takes the first block
// of another type if it holds a PKCS #8 Ed25519 key, as wsproxy's
// --record-sign-key always did.
//
// It returns an error saying that there is no PEM block of type "PRIVATE
// KEY", the error of x509.ParsePKCS8PrivateKey, or one naming the type of
// a key that is not Ed25519.
func ParseSigningKey(data []byte) (ed25519.PrivateKey, error) {
	var first *pem.Block
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == pemPrivateKey {
			return signingKey(block)
		}
		if first == nil {
			first = block
		}
	}
	if first != nil {
		if key, err := signingKey(first); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("no PEM block of type %q", pemPrivateKey)
}

func signingKey(block *pem.Block) (ed25519.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 private key", k)
	}
	return key, nil
}

// ParseVerifyKey returns the Ed25519 public key that verifies seals
// (VerifyOptions.PublicKey) from PEM data: the first block of type "PUBLIC
// KEY", PKIX, as openssl pkey -pubout writes it, wherever it is among
// other blocks.
//
// It returns an error saying that there is no PEM block of type "PUBLIC
// KEY", the error of x509.ParsePKIXPublicKey, or one naming the type of a
// key that is not Ed25519.
func ParseVerifyKey(data []byte) (ed25519.PublicKey, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("no PEM block of type %q", pemPublicKey)
		}
		if block.Type != pemPublicKey {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		key, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %T, not an Ed25519 public key", k)
		}
		return key, nil
	}
}

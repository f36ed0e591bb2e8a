package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/wsproxy/wsproxy/internal/regfile"
)

// readPublicKey reads an Ed25519 public key from a PEM file ("PUBLIC KEY",
// PKIX), as openssl pkey -pubout writes it.
func readPublicKey(name string) (ed25519.PublicKey, error) {
	der, err := readPEM(name, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an Ed25519 public key", name, key)
	}
	return pub, nil
}

// readPrivateKey reads an Ed25519 private key from a PEM file ("PRIVATE
// KEY", PKCS #8), as openssl genpkey -algorithm ed25519 writes it.
func readPrivateKey(name string) (ed25519.PrivateKey, error) {
	der, err := readPEM(name, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an Ed25519 private key", name, key)
	}
	return priv, nil
}

func readPEM(name, typ string) ([]byte, error) {
	b, err := regfile.ReadFile(name)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM block of type %q", name, typ)
		}
		if block.Type == typ {
			return block.Bytes, nil
		}
	}
}

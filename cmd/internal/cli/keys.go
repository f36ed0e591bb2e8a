package cli

import (
	"crypto/ed25519"
	"fmt"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/regfile"
)

// ReadSigningKey reads the PEM file an option names with
// format.ParseSigningKey. The file must be a regular file (regfile): a FIFO
// or a device is refused, never opened blocking. It returns the error of
// reading the file, or ParseSigningKey's prefixed with name.
func ReadSigningKey(name string) (ed25519.PrivateKey, error) {
	b, err := regfile.ReadFile(name)
	if err != nil {
		return nil, err
	}
	key, err := format.ParseSigningKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return key, nil
}

// ReadVerifyKey reads the PEM file an option names with
// format.ParseVerifyKey, as ReadSigningKey does.
func ReadVerifyKey(name string) (ed25519.PublicKey, error) {
	b, err := regfile.ReadFile(name)
	if err != nil {
		return nil, err
	}
	key, err := format.ParseVerifyKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return key, nil
}

package cli_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/internal/regfile"
)

func TestReadKeys(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	privFile, pubFile := filepath.Join(dir, "signer.key"), filepath.Join(dir, "signer.pub")
	files := map[string][]byte{
		privFile: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
		pubFile:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		k, err := cli.ReadSigningKey(privFile)
		if err != nil || !k.Equal(priv) {
			t.Errorf("ReadSigningKey: got %x, %v", k, err)
		}
		p, err := cli.ReadVerifyKey(pubFile)
		if err != nil || !p.Equal(pub) {
			t.Errorf("ReadVerifyKey: got %x, %v", p, err)
		}
	})
	t.Run("ErrSwapped", func(t *testing.T) {
		t.Parallel()
		// The messages wsrecord-inspect prints after --sign-key: and --pubkey:.
		if _, err := cli.ReadSigningKey(pubFile); err == nil || err.Error() != pubFile+`: no PEM block of type "PRIVATE KEY"` {
			t.Errorf("ReadSigningKey: got %v", err)
		}
		if _, err := cli.ReadVerifyKey(privFile); err == nil || err.Error() != privFile+`: no PEM block of type "PUBLIC KEY"` {
			t.Errorf("ReadVerifyKey: got %v", err)
		}
	})
	t.Run("ErrNotExist", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(dir, "missing")
		if _, err := cli.ReadSigningKey(missing); !os.IsNotExist(err) {
			t.Errorf("ReadSigningKey: got %v, want a not-exist error", err)
		}
		if _, err := cli.ReadVerifyKey(missing); !os.IsNotExist(err) {
			t.Errorf("ReadVerifyKey: got %v, want a not-exist error", err)
		}
	})
	t.Run("ErrSpecial", func(t *testing.T) {
		t.Parallel()
		// A FIFO with no writer would block a plain open for ever.
		fifo := filepath.Join(dir, "fifo.key")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		if _, err := cli.ReadSigningKey(fifo); !errors.Is(err, regfile.ErrSpecial) {
			t.Errorf("ReadSigningKey: got %v, want regfile.ErrSpecial", err)
		}
		if _, err := cli.ReadVerifyKey(fifo); !errors.Is(err, regfile.ErrSpecial) {
			t.Errorf("ReadVerifyKey: got %v, want regfile.ErrSpecial", err)
		}
	})
}

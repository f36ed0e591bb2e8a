//go:build unix

package jwt_test

import (
	"path/filepath"
	"testing"

	"github.com/wsproxy/wsproxy/internal/fifotest"
	"github.com/wsproxy/wsproxy/proxy/tokens/jwt"
)

// A key file that is a named pipe is refused at once, instead of waiting
// for a writer for ever.
func TestSpecialFiles(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "key.pem")
	fifotest.Mkfifo(t, fifo)
	err := fifotest.Quickly(t, func() error {
		_, err := jwt.NewTokens(fifo, jwt.Options{})
		return err
	})
	fifotest.WantRefused(t, err, "JWT key: ", fifo)
}

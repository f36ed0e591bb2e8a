//go:build unix

package auth_test

import (
	"path/filepath"
	"testing"

	"github.com/wsproxy/wsproxy/internal/fifotest"
	"github.com/wsproxy/wsproxy/proxy/auth"
)

// An htpasswd file that is a named pipe is refused at once, instead of
// waiting for a writer for ever.
func TestSpecialFiles(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "htpasswd")
	fifotest.Mkfifo(t, fifo)
	err := fifotest.Quickly(t, func() error {
		_, err := auth.NewBasicFile(fifo)
		return err
	})
	fifotest.WantRefused(t, err, "htpasswd: ", fifo)
}

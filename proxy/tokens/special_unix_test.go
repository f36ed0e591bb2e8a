//go:build unix

package tokens_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/internal/fifotest"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens"
	"github.com/wsproxy/wsproxy/proxy/tokens/internal/tokentest"
)

// TestSpecialFiles: the token files and directories the plugins read are
// refused, at once, when they are named pipes, instead of waiting for a
// writer for ever.
func TestSpecialFiles(t *testing.T) {
	t.Parallel()
	t.Run("TokenFile", func(t *testing.T) {
		t.Parallel()
		fifo := filepath.Join(t.TempDir(), "tokens")
		fifotest.Mkfifo(t, fifo)
		err := fifotest.Quickly(t, func() error {
			_, err := tokens.NewFile(fifo, tokens.FileOptions{})
			return err
		})
		fifotest.WantRefused(t, err, "token file: ", fifo)
	})
	t.Run("TokenFileReload", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "tokens")
		tokentest.WriteFile(t, file, "a: host:1\n")
		f, err := tokens.NewFile(file, tokens.FileOptions{Reload: true})
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(file)
		fifotest.Mkfifo(t, file)
		err = fifotest.Quickly(t, func() error {
			_, err := f.Lookup(t.Context(), "a")
			return err
		})
		fifotest.WantRefused(t, err, "token file: ", file)
	})
	t.Run("TokenDir", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		tokentest.WriteFile(t, filepath.Join(dir, "a"), "a: host:1\n")
		fifotest.Mkfifo(t, filepath.Join(dir, "b"))
		if err := os.Symlink("b", filepath.Join(dir, "c")); err != nil {
			t.Fatal(err)
		}
		var f *tokens.File
		err := fifotest.Quickly(t, func() (err error) {
			f, err = tokens.NewFile(dir, tokens.FileOptions{Reload: true})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		tokentest.WantTarget(t, f, "a", "tcp", "host:1")
	})
	t.Run("TokenFileName", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		fifotest.Mkfifo(t, filepath.Join(dir, "pipe"))
		d, err := tokens.NewFileName(dir)
		if err != nil {
			t.Fatal(err)
		}
		err = fifotest.Quickly(t, func() error {
			_, err := d.Lookup(t.Context(), "pipe")
			return err
		})
		if !errors.Is(err, proxy.ErrUnknownToken) || !strings.Contains(err.Error(), "is not a regular file") {
			t.Errorf("got %v, want an unknown token that is not a regular file", err)
		}
	})
}

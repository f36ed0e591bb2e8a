//go:build unix

package proxy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
)

// mkfifo makes a named pipe at path that nothing writes to: opening it
// blocking would never return.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// quickly returns the error of f, failing the test if f has not returned
// within a second.
func quickly(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Second):
		t.Fatal("blocked: a special file was opened blocking")
		return nil
	}
}

// wantRefused checks that err refuses the named pipe at path.
func wantRefused(t *testing.T, err error, prefix, path string) {
	t.Helper()
	want := prefix + "open " + path + ": is a named pipe, not a regular file"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error with %q", err, want)
	}
}

// TestSpecialFiles: the files the plugins read (token files and
// directories, htpasswd files, JWT keys) are refused, at once, when they
// are named pipes, instead of waiting for a writer for ever.
func TestSpecialFiles(t *testing.T) {
	t.Parallel()
	t.Run("TokenFile", func(t *testing.T) {
		t.Parallel()
		fifo := filepath.Join(t.TempDir(), "tokens")
		mkfifo(t, fifo)
		err := quickly(t, func() error {
			_, err := proxy.NewTokenFile(fifo, proxy.TokenFileOptions{})
			return err
		})
		wantRefused(t, err, "token file: ", fifo)
	})
	t.Run("TokenFileReload", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "tokens")
		writeFile(t, file, "a: host:1\n")
		f, err := proxy.NewTokenFile(file, proxy.TokenFileOptions{Reload: true})
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(file)
		mkfifo(t, file)
		err = quickly(t, func() error {
			_, err := f.Lookup(t.Context(), "a")
			return err
		})
		wantRefused(t, err, "token file: ", file)
	})
	t.Run("TokenDir", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a"), "a: host:1\n")
		mkfifo(t, filepath.Join(dir, "b"))
		if err := os.Symlink("b", filepath.Join(dir, "c")); err != nil {
			t.Fatal(err)
		}
		var f *proxy.TokenFile
		err := quickly(t, func() (err error) {
			f, err = proxy.NewTokenFile(dir, proxy.TokenFileOptions{Reload: true})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		wantTarget(t, f, "a", "tcp", "host:1")
	})
	t.Run("TokenFileName", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		mkfifo(t, filepath.Join(dir, "pipe"))
		d, err := proxy.NewTokenFileName(dir)
		if err != nil {
			t.Fatal(err)
		}
		err = quickly(t, func() error {
			_, err := d.Lookup(t.Context(), "pipe")
			return err
		})
		if !errors.Is(err, proxy.ErrUnknownToken) || !strings.Contains(err.Error(), "is not a regular file") {
			t.Errorf("got %v, want an unknown token that is not a regular file", err)
		}
	})
	t.Run("Htpasswd", func(t *testing.T) {
		t.Parallel()
		fifo := filepath.Join(t.TempDir(), "htpasswd")
		mkfifo(t, fifo)
		err := quickly(t, func() error {
			_, err := proxy.NewBasicAuthFile(fifo)
			return err
		})
		wantRefused(t, err, "htpasswd: ", fifo)
	})
	t.Run("JWTKey", func(t *testing.T) {
		t.Parallel()
		fifo := filepath.Join(t.TempDir(), "key.pem")
		mkfifo(t, fifo)
		err := quickly(t, func() error {
			_, err := proxy.NewJWTTokens(fifo, proxy.JWTOptions{})
			return err
		})
		wantRefused(t, err, "JWT key: ", fifo)
	})
}

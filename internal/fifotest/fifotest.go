//go:build unix

// Package fifotest checks that code which reads files named by an
// operator refuses a named pipe at once instead of waiting for a writer
// for ever: the test helpers that the packages of wsproxy's plugins
// (token stores, htpasswd, JWT keys) share.
package fifotest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Mkfifo makes a named pipe at path, and its directory, that nothing
// writes to: opening it blocking would never return.
func Mkfifo(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Quickly returns the error of f, failing the test if f has not returned
// within a second.
func Quickly(t testing.TB, f func() error) error {
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

// WantRefused checks that err refuses the named pipe at path, with the
// message prefix given ("htpasswd: ").
func WantRefused(t testing.TB, err error, prefix, path string) {
	t.Helper()
	want := prefix + "open " + path + ": is a named pipe, not a regular file"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error with %q", err, want)
	}
}

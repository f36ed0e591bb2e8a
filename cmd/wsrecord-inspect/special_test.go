//go:build unix

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

// TestSpecialFiles: a named pipe given as a recording or a key is
// refused at once with an error that says so (it was opened, waiting for
// a writer for ever); one inside a directory that info walks is skipped.
func TestSpecialFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.wsrec")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	refused := "open " + fifo + ": is a named pipe, not a regular file"
	sealed := filepath.Join(recordings, "sealed-small.wsrec")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		output string // in stdout or stderr (verify reports on stdout)
	}{
		{"Info", []string{"info", fifo}, exitUnreadable, refused},
		{"Frames", []string{"frames", fifo}, exitUnreadable, refused},
		{"Verify", []string{"verify", fifo}, exitUnreadable, refused},
		{"VerifyPubkey", []string{"verify", "--pubkey", fifo, sealed}, exitVerifyUsage, refused},
		{"InfoDir", []string{"info", dir}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			done := make(chan error, 1)
			go func() { done <- run(ctx, tc.args, &stdout, &stderr) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("blocked")
			}
			if got := cli.ExitCode(err); got != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.output) {
				t.Errorf("got exit code %d, stdout %q, stderr %q; want %d with %q", got, stdout.String(), stderr.String(), tc.code, tc.output)
			}
		})
	}
}

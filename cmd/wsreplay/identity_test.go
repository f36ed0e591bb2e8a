package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// TestServeEncrypted plays an encrypted recording with --identity, and
// refuses to start without one or with the wrong one.
func TestServeEncrypted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "enc.wsrec")
	f, err := os.Create(rec)
	if err != nil {
		t.Fatal(err)
	}
	w, err := format.NewWriter(f, format.Header{}, format.WriterOptions{Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteMessage(0, format.TargetToClient, format.Binary, []byte("hello"))
	w.WriteMessage(time.Millisecond, format.TargetToClient, format.Binary, []byte("world"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	idFile, otherFile := filepath.Join(dir, "id.txt"), filepath.Join(dir, "other.txt")
	os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	os.WriteFile(otherFile, []byte(other.String()+"\n"), 0o600)

	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"ErrNoIdentity", []string{"127.0.0.1:0", rec}, cli.ExitFailure, "the recording is encrypted: an identity is needed to read it"},
		{"ErrWrongIdentity", []string{"--identity", otherFile, "127.0.0.1:0", rec}, cli.ExitFailure, "encrypted to other recipients than the identities given"},
		{"ErrIdentityFile", []string{"--identity", rec, "127.0.0.1:0", rec}, cli.ExitUsage, "--identity: identity " + rec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			err := run(t.Context(), tc.args, &bytes.Buffer{}, &stderr)
			if got := cli.ExitCode(err); got != tc.wantCode || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", got, stderr.String(), tc.wantCode, tc.wantStderr)
			}
		})
	}

	cmd := start(t, "--identity", idFile, "--speed", "max", "127.0.0.1:0", rec)
	c := wstest.Dial(t, "ws://"+cmd.addr+"/", wstest.DialOptions{})
	c.Expect(t, "hello")
	c.Expect(t, "world")
	c.ExpectClose(t, ws.StatusNormalClosure)
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
)

// writeEncrypted writes a small recording encrypted to id's recipient and
// id's identity file, and returns their names.
func writeEncrypted(t *testing.T, id *age.X25519Identity) (rec, idFile string) {
	t.Helper()
	dir := t.TempDir()
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, format.Header{Meta: map[string]string{format.MetaUser: "alice", format.MetaProgram: "test"}},
		format.WriterOptions{Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.WriteMessage(time.Duration(i)*time.Second, format.ClientToTarget, format.Text, []byte("secret message")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rec, idFile = filepath.Join(dir, "enc.wsrec"), filepath.Join(dir, "id.txt")
	if err := os.WriteFile(rec, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return rec, idFile
}

// TestIdentity reads an encrypted recording with and without --identity:
// verify needs none; frames says what is missing, and reads it with the
// right identity only.
func TestIdentity(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rec, idFile := writeEncrypted(t, id)
	_, otherFile := writeEncrypted(t, other)
	for _, tc := range []struct {
		name       string
		args       []string
		env        string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"VerifyWithoutIdentity", []string{"verify", rec}, "", 0, ": valid", ""},
		{"FramesWithoutIdentity", []string{"frames", rec}, "", exitUnreadable, "", "the recording is encrypted: an identity is needed to read it: give --identity FILE or $WSRECORD_IDENTITY"},
		{"FramesWrongIdentity", []string{"frames", "--identity", otherFile, rec}, "", exitUnreadable, "", "encrypted to other recipients than the identities given"},
		{"FramesIdentity", []string{"frames", "-i", idFile, rec}, "", 0, "secret message", ""},
		{"FramesIdentityFromEnv", []string{"frames", rec}, idFile, 0, "secret message", ""},
		{"InfoIdentity", []string{"info", "--identity", idFile, rec}, "", 0, "alice", ""},
		{"ErrIdentityFile", []string{"frames", "--identity", rec, rec}, "", cli.ExitUsage, "", "--identity: identity " + rec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WSRECORD_IDENTITY", tc.env)
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, &stdout, &stderr)
			if got := cli.ExitCode(err); got != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", got, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q, want %q in it", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q, want %q in it", stderr.String(), tc.wantStderr)
			}
		})
	}
}

package record_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/record"
)

// TestEncrypted records a session encrypted to an age recipient: with the
// identity it reads back byte for byte with all its metadata; without it,
// the user, token, client and target are not in the file, and Verify
// still says valid.
func TestEncrypted(t *testing.T) {
	t.Parallel()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rec := newRecorder(t, record.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}})
	s, err := rec.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	msgs := randomMessages(500, 3)
	for _, m := range msgs {
		if err := s.Frame(m.dir, m.typ, m.at, m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(0, format.CloseInfo{By: format.ClosedByClient}); err != nil {
		t.Fatal(err)
	}
	names := files(t, dir)
	if len(names) != 1 {
		t.Fatalf("files %v", names)
	}
	r, err := format.Open(names[0], format.ReaderOptions{Identities: []age.Identity{id}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if h := r.Header(); h.Cipher != format.AES256GCM || h.Meta[format.MetaUser] != "alice" || h.Meta[format.MetaToken] != "../etc/passwd" {
		t.Fatalf("header %+v", h)
	}
	var got [][]byte
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		if rec.Kind == format.KindMessage {
			got = append(got, bytes.Clone(rec.Payload))
		}
	}
	if len(got) != len(msgs) {
		t.Fatalf("%d messages, want %d", len(got), len(msgs))
	}
	for i, m := range msgs {
		if !bytes.Equal(got[i], m.data) {
			t.Fatalf("message %d differs", i)
		}
	}

	locked, err := format.Open(names[0], format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer locked.Close()
	for _, k := range []string{format.MetaUser, format.MetaToken, format.MetaClient, format.MetaTarget} {
		if v, ok := locked.Header().Meta[k]; ok {
			t.Errorf("without identity, metadata %s = %q is readable", k, v)
		}
	}
	if _, err := locked.Next(); !errors.Is(err, format.ErrNoIdentity) {
		t.Fatalf("Next without identity: %v", err)
	}
	v, err := locked.Verify(format.VerifyOptions{})
	if err != nil || v.Status != format.Valid || !v.Encrypted || v.Decrypted {
		t.Fatalf("Verify without identity: %+v %v", v, err)
	}
	if _, err := record.New(record.Options{Dir: filepath.Join(dir, "x"), Format: record.FormatWebsockify, Recipients: []age.Recipient{id.Recipient()}}); err == nil {
		t.Fatal("encryption accepted for the websockify format")
	}
}

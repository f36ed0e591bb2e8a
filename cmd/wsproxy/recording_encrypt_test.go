package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/format"
)

// TestRecordEncrypted runs wsproxy with --record-recipient, one key given
// as is and one in a file: either identity reads the recording; without
// one, the client address is unreadable but for --record-public-meta, the
// records cannot be read, and the recording verifies.
func TestRecordEncrypted(t *testing.T) {
	t.Parallel()
	id1, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	id2, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	recipients := filepath.Join(tmp, "recipients.txt")
	if err := os.WriteFile(recipients, []byte("# auditor 2\n"+id2.Recipient().String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "recordings")
	in := startRun(t, "--record-dir", dir, "--record-recipient", id1.Recipient().String(), "--record-recipient", recipients,
		"--record-public-meta", "program,path", "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+in.addr+"/vnc?token=x", nil)
	secret := []byte("typed: my password")
	if err := wsutil.WriteClientBinary(c, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := wsutil.ReadServerBinary(c); err != nil {
		t.Fatal(err)
	}
	ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "done"))))
	readClose(t, c)
	name := waitSealed(t, dir)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, secret) {
		t.Fatal("the recording holds the message in the clear")
	}

	r, err := format.Open(name, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := r.Header()
	if _, ok := h.Meta[format.MetaClient]; ok || h.Meta[format.MetaPath] != "/vnc" || h.Cipher != format.AES256GCM {
		t.Fatalf("without identity: cipher %v, metadata %v", h.Cipher, h.Meta)
	}
	if _, err := r.Next(); !errors.Is(err, format.ErrNoIdentity) {
		t.Fatalf("Next without identity: %v", err)
	}
	if v, err := r.Verify(format.VerifyOptions{}); err != nil || v.Status != format.Valid {
		t.Fatalf("Verify without identity: %+v %v", v, err)
	}

	for _, id := range []age.Identity{id1, id2} {
		r, err := format.Open(name, format.ReaderOptions{Identities: []age.Identity{id}})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if h := r.Header(); h.Meta[format.MetaClient] == "" || h.Meta[format.MetaTarget] == "" {
			t.Fatalf("with identity: metadata %v", h.Meta)
		}
		var got [][]byte
		for {
			rec, err := r.Next()
			if err != nil {
				break
			}
			if rec.Kind == format.KindMessage && rec.Dir == format.ClientToTarget {
				got = append(got, bytes.Clone(rec.Payload))
			}
		}
		if len(got) != 1 || !bytes.Equal(got[0], secret) {
			t.Fatalf("client messages %q, want %q", got, secret)
		}
	}
}

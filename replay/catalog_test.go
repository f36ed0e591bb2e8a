package replay

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

// TestCatalogStatus checks the status that GET /recordings gives each kind
// of recording: recfile's, from reading it through.
func TestCatalogStatus(t *testing.T) {
	t.Parallel()
	fixture := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("../testdata/recordings", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sealed := fixture("sealed-small.wsrec")
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
		want recfile.Status
	}{
		{"sealed.wsrec", sealed, recfile.Sealed},
		{"unsealed.wsrec", fixture("unsealed-killed.wsrec"), recfile.Unsealed},
		{"truncated.wsrec", fixture("truncated-mid-chunk.wsrec"), recfile.Truncated},
		// Cut inside its header: truncated, as format/SPEC.md says, no
		// longer "damaged".
		{"header-cut.wsrec", sealed[:40], recfile.Truncated},
		// Its trailer says sealed, but a chunk does not check out.
		{"tampered.wsrec", fixture("tampered-chunk1.wsrec"), recfile.Damaged},
		{"websockify.txt", fixture("websockify-vnc-session.txt"), recfile.Complete},
	}
	for _, tt := range tests {
		if err := os.WriteFile(filepath.Join(dir, tt.name), tt.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := newCatalog([]string{dir}, nil, recfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	recs, err := c.list()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]Recording)
	for _, r := range recs {
		got[r.Name] = r
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := got[tt.name]
			if !ok {
				t.Fatalf("not listed; got %v", recs)
			}
			if r.Status != tt.want.String() || (r.Error == "") != tt.want.Whole() {
				t.Errorf("got status %q, error %q; want %q", r.Status, r.Error, tt.want)
			}
		})
	}
}

// noStore is a Store with nothing in it, for tests of the catalogue's
// handling of store sources.
type noStore struct{}

func (noStore) List(context.Context, func(StoreEntry) error) error { return nil }
func (noStore) Open(context.Context, string) (StoreFile, error)    { return nil, fs.ErrNotExist }
func (noStore) String() string                                     { return "s3://bucket/prefix/" }

// TestSidecarOfStore: a recording in a Store has no sidecar index, even
// when its source's path happens to name a local file that has one.
func TestSidecarOfStore(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rec.wsrec")
	if err := os.WriteFile(screen.IndexPath(path), []byte("a local index"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := readSidecar(entry{src: &source{path: path}}); err != nil || string(b) != "a local index" {
		t.Fatalf("a file's sidecar: %q, %v", b, err)
	}
	if b, err := readSidecar(entry{src: &source{path: path, store: noStore{}}}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a stored recording's sidecar: %q, %v, want fs.ErrNotExist", b, err)
	}
}

// TestReadyEncryptedSidecar: the sealed sidecar of an encrypted recording
// is at hand for ready, as for get, with the identities that open it: a
// replay opened at a time then seeks through it instead of decoding from
// the start.
func TestReadyEncryptedSidecar(t *testing.T) {
	t.Parallel()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ids := []age.Identity{id}
	path := filepath.Join(t.TempDir(), "enc.wsrec")
	sess := rfbtest.LongSession{Duration: time.Minute}
	sess.WriteWith(t, path, format.WriterOptions{Recipients: []age.Recipient{id.Recipient()}})
	osf, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer osf.Close()
	fi, err := osf.Stat()
	if err != nil {
		t.Fatal(err)
	}
	built, err := screen.BuildIndex(osf, fi.Size(), screen.IndexOptions{Identities: ids})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := built.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(screen.IndexPath(path), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	x := &indexes{identities: ids}
	idx, ok := x.ready(entry{src: &source{path: path}}, osf)
	if !ok {
		t.Fatal("ready: the sealed sidecar was not read")
	}
	if got, want := idx.Keyframes(), built.Keyframes(); !slices.Equal(got, want) {
		t.Errorf("keyframes %v, want %v", got, want)
	}
}

// Package storetest holds a replay.Store for tests: the files of a
// directory served as a Store's objects, each Open counted as the
// request an object store would answer, so that a test can prove how
// often a recording is opened. It is imported by tests only.
package storetest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/wsproxy/wsproxy/replay"
)

// Store is a replay.Store of the regular files under Dir, named by
// their slash-separated paths under it. Create it with New; its methods
// are safe for concurrent use.
type Store struct {
	dir string

	mu    sync.Mutex
	opens map[string]int
}

// New returns a Store of the files under dir.
func New(dir string) *Store {
	return &Store{dir: dir, opens: make(map[string]int)}
}

// List calls fn with each file under the directory, in name order.
func (s *Store) List(ctx context.Context, fn func(replay.StoreEntry) error) error {
	return filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(s.dir, path)
		if err != nil {
			return err
		}
		return fn(replay.StoreEntry{Name: filepath.ToSlash(rel), Size: fi.Size(), Modified: fi.ModTime()})
	})
}

// Open opens the file called name and counts it, also when it fails
// (an object store answers a request for a missing key too). It returns
// an error matching fs.ErrNotExist when there is none.
func (s *Store) Open(ctx context.Context, name string) (replay.StoreFile, error) {
	s.mu.Lock()
	s.opens[name]++
	s.mu.Unlock()
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return nil, fmt.Errorf("storetest: %q: %w", name, fs.ErrNotExist)
	}
	return os.Open(filepath.Join(s.dir, filepath.FromSlash(name)))
}

// String names the store.
func (s *Store) String() string { return "storetest://" + filepath.ToSlash(s.dir) + "/" }

// Opens returns how many times the recording called name was opened.
func (s *Store) Opens(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens[name]
}

// Reset forgets the opens counted so far.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.opens)
}

package replay

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"
	"time"

	"github.com/wsproxy/wsproxy/format/recfile"
)

// Store is a collection of recordings kept elsewhere than in the file
// system, such as a prefix of an object storage bucket, that a Server
// lists and replays beside its paths (ServerOptions.Stores). A Store's
// methods must be safe for concurrent use.
type Store interface {
	// List calls fn with each recording of the store, in name order,
	// until fn returns an error, which List returns.
	List(ctx context.Context, fn func(StoreEntry) error) error
	// Open opens the recording called name for reading. It returns an
	// error matching fs.ErrNotExist when there is none.
	Open(ctx context.Context, name string) (StoreFile, error)
	// String names the store in logs and errors (s3://bucket/prefix/).
	String() string
}

// StoreEntry is a recording listed by a Store.
type StoreEntry struct {
	// Name is a slash-separated name, unique in the store, which
	// selects the recording as a file's path under a directory does.
	Name     string
	Size     int64
	Modified time.Time
}

// StoreFile is a recording opened by a Store: read at offsets (a replay
// streams it), closed once. Stat's Size and ModTime identify its version.
type StoreFile interface {
	io.ReaderAt
	io.Closer
	Stat() (fs.FileInfo, error)
}

// recFile is an open recording of the catalog: an *os.File or a
// StoreFile.
type recFile = StoreFile

// openStored opens the recording of e, which is in a Store.
func (c *catalog) openStored(e entry) (*recfile.File, recFile, error) {
	sf, err := e.src.store.Open(context.Background(), e.rel)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", e.name, err)
	}
	return c.newStored(e, sf)
}

// newStored reads the recording of e, in a Store, from sf, which it
// closes on failure.
func (c *catalog) newStored(e entry, sf StoreFile) (*recfile.File, recFile, error) {
	fi, err := sf.Stat()
	if err != nil {
		sf.Close()
		return nil, nil, err
	}
	f, err := recfile.New(sf, fi.Size(), c.opts)
	if err != nil {
		sf.Close()
		return nil, nil, fmt.Errorf("%s: %w", e.name, err)
	}
	return f, sf, nil
}

// statStored returns the size and modification time of e, in a Store:
// from its listing, or by opening it.
func (e entry) statStored() (fs.FileInfo, error) {
	if e.info != nil {
		return storedInfo{*e.info}, nil
	}
	sf, err := e.src.store.Open(context.Background(), e.rel)
	if err != nil {
		return nil, err
	}
	defer sf.Close()
	return sf.Stat()
}

// storedInfo is a StoreEntry as an fs.FileInfo.
type storedInfo struct{ e StoreEntry }

func (i storedInfo) Name() string       { return path.Base(i.e.Name) }
func (i storedInfo) Size() int64        { return i.e.Size }
func (i storedInfo) Mode() fs.FileMode  { return 0o444 }
func (i storedInfo) ModTime() time.Time { return i.e.Modified }
func (i storedInfo) IsDir() bool        { return false }
func (i storedInfo) Sys() any           { return nil }

// listWorkers bounds the recordings summarised at once by a listing: a
// stored recording's summary waits for two requests, and a first listing
// of a prefix summarises thousands.
const listWorkers = 16

// summarized is the result of catalog.summary for one entry.
type summarized struct {
	rec Recording
	key cacheKey
	ok  bool
}

// summaries returns c.summary of each entry, in order, listWorkers at a
// time.
func summaries(c *catalog, entries []entry) []summarized {
	out := make([]summarized, len(entries))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(listWorkers, len(entries)) {
		wg.Go(func() {
			for i := range next {
				rec, key, ok := c.summary(entries[i])
				out[i] = summarized{rec, key, ok}
			}
		})
	}
	for i := range entries {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/internal/regfile"
)

// Recording describes a recording that a Server serves, as GET /recordings
// lists it. Times and durations are in nanoseconds, as wsrecord-inspect
// info --json gives them.
type Recording struct {
	// Name selects the recording: ?token=NAME or the URL path /NAME. It is
	// a file's base name, or a file's slash-separated path under a
	// directory that was given.
	Name string `json:"name"`
	// Format is "wsrec" or "websockify".
	Format string `json:"format"`
	// Size is the file's size in bytes, and Modified its modification time.
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	// SessionID, Start and Meta are a wsrec recording's header: its session
	// ID, wall-clock start and metadata. They are empty for websockify's.
	SessionID string            `json:"session_id,omitempty"`
	Start     *time.Time        `json:"start,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	// Duration is the time of the last record.
	Duration time.Duration `json:"duration_ns"`
	// Messages each way, and their payload bytes.
	ClientMessages uint64 `json:"client_messages"`
	TargetMessages uint64 `json:"target_messages"`
	ClientBytes    uint64 `json:"client_bytes"`
	TargetBytes    uint64 `json:"target_bytes"`
	// Markers are the recording's marker records, in order: at most
	// MaxListedMarkers; MarkersOmitted counts the others.
	Markers        []Marker `json:"markers"`
	MarkersOmitted int      `json:"markers_omitted,omitempty"`
	// Status is how the recording ends, a recfile.Status, with
	// wsrecord-inspect's words: "sealed" (wsrec) or "complete"
	// (websockify) when it is whole; "unsealed" or "incomplete" when it
	// stops cleanly without its trailer (its writer was killed, or still
	// writes); "truncated" when it is cut inside its header, a chunk or a
	// line, "damaged" when its data is corrupt, and "unreadable" when it
	// cannot be read (not a recording, a newer format version, an I/O
	// error). A replay of a truncated, damaged or unreadable recording
	// plays up to the damage, then closes the connection with 1011.
	Status string `json:"status"`
	// Error says what is wrong with the recording, when it is not whole.
	Error string `json:"error,omitempty"`
}

// Marker is a marker record of a recording.
type Marker struct {
	Time  time.Duration `json:"time_ns"`
	Label string        `json:"label"`
}

// MaxListedMarkers bounds Recording.Markers.
const MaxListedMarkers = 1000

// ErrNotFound is matched by the error for a recording name that the Server
// does not serve.
var ErrNotFound = errors.New("replay: no such recording")

// catalog is the set of recordings of a Server: files, and the recordings
// found under directories when they are looked for, so that recordings
// added to a directory later are served too. Names are looked up in the
// order the paths were given; the first that has a name wins.
//
// Its methods are safe for concurrent use.
type catalog struct {
	sources []source
	opts    recfile.Options

	mu    sync.Mutex
	cache map[cacheKey]*Recording // summaries, by file and version
}

// source is one path given to the Server.
type source struct {
	path  string   // as given
	name  string   // a file's name; empty for a directory
	root  *os.Root // a directory, through which its files are opened
	store Store    // a Store (store.go); nil for a path
}

// cacheKey identifies a version of a file: a file that changes gets a new
// key.
type cacheKey struct {
	path    string
	size    int64
	modTime time.Time
}

// entry is a recording found by lookup or list.
type entry struct {
	name string
	src  *source
	rel  string      // path under src.root, with the OS's separators; the name in src.store
	info *StoreEntry // a Store's listing of it, if listed
}

func newCatalog(paths []string, stores []Store, opts recfile.Options) (*catalog, error) {
	if len(paths) == 0 && len(stores) == 0 {
		return nil, errors.New("replay: no recording given")
	}
	c := &catalog{opts: opts, cache: make(map[cacheKey]*Recording)}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("replay: %w", err)
		}
		if !fi.IsDir() {
			// Fail now for a file that is not a recording at all.
			// and for an encrypted one that no identity given opens.
			src := source{path: p, name: filepath.Base(p)}
			f, osf, err := c.open(entry{name: p, src: &src})
			if err == nil {
				if r := f.Reader(); r != nil {
					if _, kerr := r.Encrypted(); kerr != nil {
						err = fmt.Errorf("%s: %w", p, kerr)
					}
				}
				f.Close()
				osf.Close()
			}
			if err != nil {
				c.close()
				return nil, fmt.Errorf("replay: %w", err)
			}
			c.sources = append(c.sources, src)
			continue
		}
		root, err := os.OpenRoot(p)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("replay: %w", err)
		}
		c.sources = append(c.sources, source{path: p, root: root})
	}
	for _, st := range stores {
		c.sources = append(c.sources, source{path: st.String(), store: st})
	}
	return c, nil
}

// single reports whether the catalog is one file, which every client gets.
func (c *catalog) single() bool {
	return len(c.sources) == 1 && c.sources[0].root == nil && c.sources[0].store == nil
}

func (c *catalog) close() {
	for _, s := range c.sources {
		if s.root != nil {
			s.root.Close()
		}
	}
}

// lookup finds the recording called name; for a single file, any name
// finds it. It returns an error matching ErrNotFound if there is none.
func (c *catalog) lookup(name string) (entry, error) {
	e, sf, err := c.find(name)
	if sf != nil {
		sf.Close()
	}
	return e, err
}

// lookupOpen finds the recording called name, as lookup does, and opens
// it, as open does. A recording in a Store is opened once: the object
// that finding it opened is the one read, one request and one version.
func (c *catalog) lookupOpen(name string) (entry, *recfile.File, recFile, error) {
	e, sf, err := c.find(name)
	if err != nil {
		return entry{}, nil, nil, err
	}
	var (
		f   *recfile.File
		osf recFile
	)
	if sf != nil {
		f, osf, err = c.newStored(e, sf)
	} else {
		f, osf, err = c.open(e)
	}
	return e, f, osf, err
}

// find is lookup that keeps open the StoreFile it opened to find a
// recording in a Store (nil for the others): the caller closes it.
func (c *catalog) find(name string) (entry, StoreFile, error) {
	if c.single() {
		return entry{name: c.sources[0].name, src: &c.sources[0]}, nil, nil
	}
	for i := range c.sources {
		s := &c.sources[i]
		if s.store != nil {
			if _, ok := localName(name); !ok {
				continue
			}
			if f, err := s.store.Open(context.Background(), name); err == nil {
				return entry{name: name, src: s, rel: name}, f, nil
			}
			continue
		}
		if s.root == nil {
			if name == s.name {
				return entry{name: name, src: s}, nil, nil
			}
			continue
		}
		rel, ok := localName(name)
		if !ok {
			continue
		}
		// Through the root: no name, "..", or symbolic link leaves it.
		fi, err := s.root.Stat(rel)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		e := entry{name: name, src: s, rel: rel}
		if isRecording(e) {
			return e, nil, nil
		}
	}
	return entry{}, nil, fmt.Errorf("%w: %q", ErrNotFound, name)
}

// localName returns the file path under a directory for a recording name:
// a slash-separated relative path without empty, "." or ".." elements, and
// without names starting with "." (which list skips).
func localName(name string) (string, bool) {
	if name == "" || strings.ContainsRune(name, '\\') || strings.ContainsRune(name, 0) {
		return "", false
	}
	for elem := range strings.SplitSeq(name, "/") {
		if elem == "" || strings.HasPrefix(elem, ".") {
			return "", false
		}
	}
	rel := filepath.FromSlash(name)
	return rel, filepath.IsLocal(rel)
}

// open opens the recording of e. Close the returned File, then the
// os.File. A special file (a named pipe...) is refused, not opened: it
// could block the open for ever (regfile).
func (c *catalog) open(e entry) (*recfile.File, recFile, error) {
	if e.src.store != nil {
		return c.openStored(e)
	}
	var (
		osf *os.File
		err error
	)
	if e.src.root != nil {
		osf, err = regfile.OpenIn(e.src.root, e.rel)
	} else {
		osf, err = regfile.Open(e.src.path)
	}
	if err != nil {
		return nil, nil, err
	}
	fi, err := osf.Stat()
	if err != nil {
		osf.Close()
		return nil, nil, err
	}
	f, err := recfile.New(osf, fi.Size(), c.opts)
	if err != nil {
		osf.Close()
		return nil, nil, fmt.Errorf("%s: %w", e.name, err)
	}
	return f, osf, nil
}

// isRecording reports whether the file of e starts like a recording.
func isRecording(e entry) bool {
	f, err := regfile.OpenIn(e.src.root, e.rel)
	if err != nil {
		return false
	}
	defer f.Close()
	prefix := make([]byte, recfile.PrefixSize)
	n, _ := io.ReadFull(f, prefix)
	return recfile.Detect(prefix[:n]) != recfile.Unknown
}

// list returns the recordings, sorted by name, each name once (the first
// found). Files under directories that are not recordings are left out.
func (c *catalog) list() ([]Recording, error) {
	var (
		entries []entry
		seen    = make(map[string]bool)
	)
	for i := range c.sources {
		s := &c.sources[i]
		if s.store != nil {
			err := s.store.List(context.Background(), func(se StoreEntry) error {
				if !seen[se.Name] {
					seen[se.Name] = true
					entries = append(entries, entry{name: se.Name, src: s, rel: se.Name, info: &se})
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("replay: %s: %w", s.path, err)
			}
			continue
		}
		if s.root == nil {
			if !seen[s.name] {
				seen[s.name] = true
				entries = append(entries, entry{name: s.name, src: s})
			}
			continue
		}
		err := fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable: not listed
			}
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			regular := d.Type().IsRegular()
			if d.Type()&fs.ModeSymlink != 0 {
				// As lookup finds it: a link to a file inside the directory.
				fi, err := s.root.Stat(filepath.FromSlash(p))
				regular = err == nil && fi.Mode().IsRegular()
			}
			if regular && !seen[p] {
				seen[p] = true
				entries = append(entries, entry{name: p, src: s, rel: filepath.FromSlash(p)})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("replay: %s: %w", s.path, err)
		}
	}

	recs := make([]Recording, 0, len(entries))
	keys := make(map[cacheKey]bool, len(entries))
	for _, s := range summaries(c, entries) {
		if !s.ok {
			continue
		}
		keys[s.key] = true
		recs = append(recs, s.rec)
	}
	// Forget the summaries of files that changed or went away.
	c.mu.Lock()
	for k := range c.cache {
		if !keys[k] {
			delete(c.cache, k)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(recs, func(a, b Recording) int { return cmp.Compare(a.Name, b.Name) })
	return recs, nil
}

// summary returns the listing of e, from the cache if the file has not
// changed. ok is false for a file under a directory that is not a
// recording.
func (c *catalog) summary(e entry) (rec Recording, key cacheKey, ok bool) {
	var (
		fi  fs.FileInfo
		err error
	)
	if e.src.store != nil {
		key.path = e.src.path + "\x00" + e.rel
		fi, err = e.statStored()
	} else if e.src.root != nil {
		fi, err = e.src.root.Stat(e.rel)
		key.path = filepath.Join(e.src.path, e.rel)
	} else {
		fi, err = os.Stat(e.src.path)
		key.path = e.src.path
	}
	if err != nil {
		if e.src.root != nil || e.src.store != nil {
			return rec, key, false
		}
		return Recording{Name: e.name, Status: recfile.Unreadable.String(), Error: err.Error(), Markers: []Marker{}}, key, true
	}
	key.size, key.modTime = fi.Size(), fi.ModTime()
	c.mu.Lock()
	cached := c.cache[key]
	c.mu.Unlock()
	if cached != nil {
		rec = *cached
		rec.Name = e.name
		return rec, key, true
	}
	rec, ok = c.scan(e)
	if !ok {
		return rec, key, false
	}
	rec.Size, rec.Modified = key.size, key.modTime
	c.mu.Lock()
	c.cache[key] = &rec
	c.mu.Unlock()
	return rec, key, true
}

// scan reads a recording through to summarize it.
func (c *catalog) scan(e entry) (Recording, bool) {
	rec := Recording{Name: e.name, Markers: []Marker{}}
	f, osf, err := c.open(e)
	if err != nil {
		if (e.src.root != nil || e.src.store != nil) && errors.Is(err, recfile.ErrUnknownFormat) {
			return rec, false
		}
		rec.Status, rec.Error = recfile.StatusOf(recfile.Unknown, err).String(), err.Error()
		return rec, true
	}
	defer osf.Close()
	defer f.Close()
	// Read through, for the markers and for damage that the trailer of a
	// sealed file does not show: a replay of it would stop there.
	// A stored recording is summarised from its index (ranged reads of
	// a sealed one's header and trailer), not downloaded.
	s, _ := recfile.Summarize(context.Background(), f, recfile.SummaryOptions{Scan: e.src.store == nil, MaxMarkers: MaxListedMarkers})
	rec.Format = s.Format.String()
	if s.Format == recfile.WSRec {
		start := s.Header.Start
		rec.SessionID, rec.Start, rec.Meta = s.Header.SessionID.String(), &start, s.Header.Meta
	}
	rec.Duration = s.Duration
	rec.ClientMessages, rec.TargetMessages, rec.ClientBytes, rec.TargetBytes = s.ClientMessages, s.TargetMessages, s.ClientBytes, s.TargetBytes
	for _, m := range s.Markers {
		rec.Markers = append(rec.Markers, Marker{Time: m.Time, Label: m.Label})
	}
	rec.MarkersOmitted = s.MarkersOmitted
	rec.Status = s.Status.String()
	if s.Err != nil {
		rec.Error = s.Err.Error()
	}
	return rec, true
}

// cleanEnd reports whether err, from recfile.File.Next, ends a recording
// that is to be played as whole: io.EOF, or the end of one whose writer
// stopped between two records.
func cleanEnd(err error) bool {
	return recfile.StatusOf(recfile.Unknown, err).Clean()
}

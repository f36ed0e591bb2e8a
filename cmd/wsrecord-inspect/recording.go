package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/schollz/progressbar/v3"
	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/internal/objstore"
	"github.com/wsproxy/wsproxy/internal/regfile"
	"golang.org/x/term"
)

// barMinSize is the smallest file a progress bar is shown for: smaller
// ones are read before a bar would be seen.
const barMinSize = 32 << 20

// barMinRead is the smallest read that moves a progress bar.
const barMinRead = 256

// recording is a recording file opened by a command.
type recording struct {
	*recfile.File
	name string
	ids  []age.Identity   // the identities it was opened with
	osf  *os.File         // nil for an object
	obj  *objstore.Object // an s3:// recording; nil for a file
	br   *barReader
	bar  *progressbar.ProgressBar // nil without a progress bar
}

// readFlags are the flags of every command that opens recordings.
type readFlags struct {
	Identity []string `short:"i" type:"path" env:"WSRECORD_IDENTITY" placeholder:"FILE" help:"age identity file (as age-keygen writes it) that opens encrypted recordings; repeatable. Without one, an encrypted recording can be verified and summarised, but not read."`
	s3Flags  `embed:""`

	ids    []age.Identity
	idsErr error
	loaded bool
}

// identities reads the identity files once.
func (f *readFlags) identities() ([]age.Identity, error) {
	if !f.loaded {
		f.loaded = true
		for _, name := range f.Identity {
			ids, err := format.ReadIdentities(name, regfile.ReadFile)
			if err != nil {
				f.idsErr = &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--identity: %w", err)}
				break
			}
			f.ids = append(f.ids, ids...)
		}
	}
	return f.ids, f.idsErr
}

// open opens the named recording, with the identities of --identity for
// an encrypted one. The error is the command's: exit status 4 if the file
// cannot be read at all or no identity given opens it, 5 if its header is
// damaged or cut off, 2 for an identity file that cannot be read.
func (f *readFlags) open(name string) (*recording, error) {
	ids, err := f.identities()
	if err != nil {
		return nil, err
	}
	opts := recfile.Options{Format: format.ReaderOptions{Identities: ids}}
	var r *recording
	if objstore.IsURL(name) {
		r, err = f.openObject(name, opts)
	} else {
		r, err = openRecording(name, opts)
	}
	if err == nil {
		r.ids = ids
	}
	return r, err
}

// openRecording opens the named recording. The error is the command's:
// exit status 4 if the file cannot be read at all, 5 if its header is
// damaged or cut off.
func openRecording(name string, opts recfile.Options) (*recording, error) {
	osf, err := regfile.Open(name) // a named pipe would block, and cannot be read at offsets
	if err != nil {
		return nil, &cli.ExitError{Code: exitUnreadable, Err: err}
	}
	fi, err := osf.Stat()
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%s: is a directory", name)
	}
	if err != nil {
		osf.Close()
		return nil, &cli.ExitError{Code: exitUnreadable, Err: err}
	}
	r := &recording{name: name, osf: osf, br: &barReader{ra: osf}}
	f, err := recfile.New(r.br, fi.Size(), opts)
	if err != nil {
		r.Close()
		return nil, readError(name, err)
	}
	r.File = f
	return r, nil
}

// progress shows a progress bar on stderr, until doneReading or Close,
// that follows how far the file is read from now on, if stderr is a
// terminal and the file large. Commands call it before they read a file
// through, and not when they print to the same terminal meanwhile.
func (r *recording) progress(stderr io.Writer) {
	if r.bar == nil && r.Size() >= barMinSize && isTerminal(stderr) {
		r.bar = progressbar.NewOptions64(r.Size(),
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(filepath.Base(r.name)),
			progressbar.OptionShowBytes(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		r.br.start(r.bar)
	}
}

// doneReading takes the progress bar, if any, off the terminal.
func (r *recording) doneReading() {
	if r.bar != nil {
		r.br.start(nil)
		r.bar.Finish() // clears it
		r.bar = nil
	}
}

// Close closes the recording and takes its progress bar off the terminal.
func (r *recording) Close() error {
	r.doneReading()
	var err error
	if r.File != nil {
		err = r.File.Close()
	}
	if r.osf != nil {
		err = errors.Join(err, r.osf.Close())
	}
	return err
}

// end turns the error that ended reading r into the command's: nil for
// io.EOF; a warning on stderr and nil for a recording that ends early but
// cleanly (unsealed, or without websockify's trailer); otherwise as
// readError.
func (r *recording) end(err error, stderr io.Writer) error {
	r.doneReading()
	switch st := recfile.StatusOf(r.Format(), err); {
	case st.Whole():
		return nil
	case st.Clean():
		warnf(stderr, "%s: %v", r.name, err)
		return nil
	}
	return readError(r.name, err)
}

// readError turns an error of reading the recording name into the
// command's: exit status 5 for a damaged or cut-off recording, 4 for one
// that cannot be read at all (not a recording, an I/O error).
func readError(name string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code := exitUnreadable
	if isDamage(err) {
		code = exitDamaged
	}
	if errors.Is(err, format.ErrNoIdentity) {
		err = fmt.Errorf("%w: give --identity FILE or $WSRECORD_IDENTITY", err)
	}
	return &cli.ExitError{Code: code, Err: fmt.Errorf("%s: %w", name, err)}
}

// isDamage reports whether err says that a recording is damaged or cut off
// (recfile's Damaged and Truncated), rather than unreadable.
func isDamage(err error) bool {
	st := recfile.StatusOf(recfile.Unknown, err)
	return st == recfile.Damaged || st == recfile.Truncated
}

// warnf writes a warning to stderr.
func warnf(stderr io.Writer, f string, args ...any) {
	fmt.Fprintf(stderr, "wsrecord-inspect: warning: "+f+"\n", args...)
}

// notef writes a note to stderr.
func notef(stderr io.Writer, f string, args ...any) {
	fmt.Fprintf(stderr, "wsrecord-inspect: note: "+f+"\n", args...)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// barReader moves a progress bar, once started, to the furthest offset
// read by a read of data: reads of a few bytes are left out, since a
// verifier reads the 12 bytes at the end of a file before it reads the
// file through.
type barReader struct {
	ra  io.ReaderAt
	mu  sync.Mutex
	bar *progressbar.ProgressBar
	max int64
}

func (b *barReader) start(bar *progressbar.ProgressBar) {
	b.mu.Lock()
	b.bar = bar
	b.mu.Unlock()
}

func (b *barReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := b.ra.ReadAt(p, off)
	b.mu.Lock()
	if end := off + int64(n); b.bar != nil && n >= barMinRead && end > b.max {
		b.max = end
		b.bar.Set64(end)
	}
	b.mu.Unlock()
	return n, err
}

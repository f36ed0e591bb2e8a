package recfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/websockify"
)

// wsReader reads a websockify recording as records, clamping times that go
// backwards.
type wsReader struct {
	ra      io.ReaderAt
	size    int64
	opts    websockify.ReaderOptions
	r       *websockify.Reader
	last    time.Duration   // time of the last record returned
	queue   []format.Record // records to return before reading on
	clamped int
	end     *IncompleteError // found once, for the sticky truncation error
}

func newWSReader(ra io.ReaderAt, size int64, opts websockify.ReaderOptions) *wsReader {
	w := &wsReader{ra: ra, size: size, opts: opts}
	w.rewind()
	return w
}

func (w *wsReader) rewind() {
	w.r = websockify.NewReader(io.NewSectionReader(w.ra, 0, w.size), w.opts)
	w.last, w.queue, w.clamped = 0, w.queue[:0], 0
}

func (w *wsReader) next() (format.Record, error) {
	if len(w.queue) > 0 {
		rec := w.queue[0]
		w.queue = w.queue[1:]
		return rec, nil
	}
	fr, err := w.r.Next()
	if err != nil {
		if errors.Is(err, websockify.ErrTruncated) {
			return format.Record{}, w.incomplete(err)
		}
		return format.Record{}, err
	}
	rec := format.Record{Kind: format.KindMessage, Time: fr.Time, Dir: format.TargetToClient, Type: format.Binary, Payload: fr.Data}
	if fr.FromClient {
		rec.Dir = format.ClientToTarget
	}
	if fr.Time < w.last {
		w.clamped++
		rec.Time = w.last
		w.queue = append(w.queue, rec)
		return format.Record{Kind: format.KindMarker, Time: w.last, Label: clampLabel(fr.Time, w.last)}, nil
	}
	w.last = fr.Time
	return rec, nil
}

// seek reads from the start up to the first record at or after t.
func (w *wsReader) seek(t time.Duration) error {
	w.rewind()
	for {
		rec, err := w.next()
		if err == io.EOF || errors.Is(err, ErrIncomplete) {
			return nil
		}
		if err != nil {
			return err
		}
		if rec.Time >= t {
			w.queue = append([]format.Record{rec}, w.queue...)
			return nil
		}
	}
}

// incomplete describes the end of a recording without its trailer: the
// bytes of an unterminated last line are lost, unless that line was a whole
// frame (it ends with the quote and comma of one).
func (w *wsReader) incomplete(cause error) error {
	if w.end != nil {
		return w.end
	}
	end, err := lastLineStart(w.ra, w.size)
	if err != nil {
		return err
	}
	tail := make([]byte, min(w.size-end, 8))
	if _, err := w.ra.ReadAt(tail, w.size-int64(len(tail))); err != nil && err != io.EOF {
		return fmt.Errorf("recfile: read: %w", err)
	}
	tail = bytes.TrimRight(tail, " \t\r")
	if bytes.HasSuffix(tail, []byte("',")) || bytes.HasSuffix(tail, []byte(`",`)) {
		end = w.size
	}
	w.end = &IncompleteError{Format: Websockify, Offset: end, Lost: w.size - end, Err: cause}
	return w.end
}

// lastLineStart returns the offset just after the last '\n' of the size
// bytes of ra, or 0 if there is none.
func lastLineStart(ra io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		b := buf[:end-start]
		if _, err := ra.ReadAt(b, start); err != nil && err != io.EOF {
			return 0, fmt.Errorf("recfile: read at %d: %w", start, err)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// The label of the marker before a clamped frame. Export parses it back.
const (
	clampPrefix = "websockify clock went back: frame stamped "
	clampMiddle = "ms, kept at "
)

func clampLabel(stamped, kept time.Duration) string {
	return clampPrefix + strconv.FormatInt(stamped.Milliseconds(), 10) + clampMiddle + strconv.FormatInt(kept.Milliseconds(), 10) + "ms"
}

// parseClamp returns the original time in a marker made by clampLabel at
// time at.
func parseClamp(label string, at time.Duration) (time.Duration, bool) {
	rest, ok := strings.CutPrefix(label, clampPrefix)
	stamped, _, ok2 := strings.Cut(rest, clampMiddle)
	if !ok || !ok2 {
		return 0, false
	}
	ms, err := strconv.ParseInt(stamped, 10, 64)
	t := time.Duration(ms) * time.Millisecond
	if err != nil || clampLabel(t, at) != label {
		return 0, false
	}
	return t, true
}

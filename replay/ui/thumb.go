package ui

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/render"
	"github.com/wsproxy/wsproxy/replay"
)

// Thumbnail widths in pixels.
const (
	DefaultThumbWidth = 240
	MaxThumbWidth     = 640
)

type thumbKey struct {
	file  fileKey
	at    time.Duration // whole seconds
	width int
}

// thumbCache keeps the PNGs of the last thumbnails made. It is safe for
// concurrent use.
type thumbCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of thumbKey, most recent first
	m     map[thumbKey]*list.Element
	png   map[thumbKey][]byte
}

func newThumbCache(max int) *thumbCache {
	return &thumbCache{max: max, order: list.New(), m: make(map[thumbKey]*list.Element), png: make(map[thumbKey][]byte)}
}

func (c *thumbCache) get(k thumbKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return c.png[k], true
}

func (c *thumbCache) put(k thumbKey, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	c.m[k] = c.order.PushFront(k)
	c.png[k] = b
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(thumbKey)
		delete(c.m, old)
		delete(c.png, old)
	}
}

// serveThumb answers GET /ui/api/thumb?name=NAME[&at=SECONDS][&w=PIXELS]:
// a PNG of the screen at that time (default: the end), from the screen
// model.
func (h *Handler) serveThumb(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rec, err := h.find(q.Get("name"))
	if err != nil {
		h.fail(w, http.StatusNotFound, err)
		return
	}
	k := thumbKey{file: keyOf(rec), at: rec.Duration.Truncate(time.Second), width: DefaultThumbWidth}
	if v := q.Get("at"); v != "" {
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s < 0 || s > 1e9 {
			h.fail(w, http.StatusBadRequest, fmt.Errorf("at: want seconds, not %q", v))
			return
		}
		k.at = (time.Duration(s) * time.Second)
	}
	if v := q.Get("w"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 16 || n > MaxThumbWidth {
			h.fail(w, http.StatusBadRequest, fmt.Errorf("w: want 16 to %d pixels", MaxThumbWidth))
			return
		}
		k.width = n
	}
	b, ok := h.thumb.get(k)
	if !ok {
		if b, err = h.makeThumb(r, rec.Name, k); err != nil {
			h.fail(w, http.StatusNotFound, err)
			return
		}
		h.thumb.put(k, b)
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(b)
}

// indexSource is a Source that has seek indexes: a replay.Server.
type indexSource interface {
	SeekIndexOf(f replay.StoreFile) (*screen.Index, error)
}

// makeThumb decodes the recording to the time of k: from the keyframe
// of its seek index before it when the Source has one (a thumbnail at
// 55 min of an hour-long session then decodes seconds, not the hour),
// else from its start. The recording is opened once, and the index is
// the one of the file opened (replay.Server.SeekIndexOf): a recording
// in object storage costs one request, and the index and the reader
// see the same version of it.
func (h *Handler) makeThumb(r *http.Request, name string, k thumbKey) ([]byte, error) {
	f, osf, err := h.src.Open(name)
	if err != nil {
		return nil, err
	}
	defer osf.Close()
	defer f.Close()
	var x *screen.Index
	if is, ok := h.src.(indexSource); ok && k.at > 0 {
		if x, err = is.SeekIndexOf(osf); err != nil {
			h.log.Debug("ui: thumbnail without a seek index", "recording", name, "err", err)
			x = nil
		}
	}
	p := render.NewPlayer(r.Context(), f, x, screen.Options{})
	s, err := p.At(k.at)
	if s == nil || s.Image() == nil {
		if err == nil {
			err = render.ErrNoScreen
		}
		return nil, fmt.Errorf("no screen at %v: %w", k.at, err)
	}
	if err != nil && !errors.Is(err, render.ErrAfterEnd) {
		h.log.Debug("ui: thumbnail", "recording", name, "err", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, render.Thumbnail(s.Image(), k.width)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

package screen

import (
	"encoding/binary"
	"fmt"
	"image"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb"
)

// DefaultMaxPixels is the largest framebuffer a Screen accepts when
// Options.MaxPixels is zero: 8192×8192, 64 Mi pixels, 256 MiB as RGBA.
// It holds every real desktop (an 8K display is 7680×4320, 32 Mi pixels;
// a wall of four 4K screens is as many) and keeps a hostile claim of
// 65535×65535 (16 GiB) out.
const DefaultMaxPixels = 8192 * 8192

// maxCursorSide bounds each side of a cursor image; TigerVNC's viewer
// accepts 256, and cursors of accessibility settings reach 512.
const maxCursorSide = 1024

// Options configure a Screen. The zero value means the defaults.
type Options struct {
	// MaxPixels is the largest framebuffer (width × height) accepted; a
	// ServerInit or resize over it stops the Screen with ErrTooLarge.
	// Zero means DefaultMaxPixels.
	MaxPixels int
	// MaxRectData is the most data bytes of one rectangle accepted (a
	// full-screen Raw rectangle at 32 bits per pixel is 4 × MaxPixels).
	// Zero means 5 × MaxPixels: the largest honest rectangle, a
	// full-screen one in Raw, Hextile or ZRLE at 32 bits per pixel, with
	// room for its framing.
	MaxRectData int
	// MaxText and MaxBuffer are passed to the rfb.Decoder (see
	// rfb.DecoderOptions). Zero means its defaults.
	MaxText, MaxBuffer int
}

// Screen follows a recorded RFB session and keeps the client's view of
// it: the framebuffer as an image, the desktop name, the cursor image the
// server sent and the pointer position the client sent. Feed it the
// session's records in order; each rectangle is drawn as soon as its
// data is complete.
//
// The first rectangle or message that cannot be decoded stops the Screen:
// Feed returns a *DecodeError and keeps returning it, and the framebuffer
// stays as it was before that rectangle.
//
// A Screen is not safe for concurrent use. Image returns the Screen's own
// framebuffer, which changes with the next Feed: copy it (Snapshot,
// Composite) to keep it. A Screen needs no Close.
type Screen struct {
	opts Options
	dec  *rfb.Decoder

	fb      *image.RGBA // nil before the ServerInit
	name    string
	cmap    *[colourMapSize]rgba
	conv    *converter // for convPF
	convPF  rfb.PixelFormat
	zlib    zstream    // Zlib encoding's stream
	zrle    zstream    // ZRLE's stream
	tight   [4]zstream // Tight's streams
	cursor  cursor
	pointer image.Point
	pointed bool // the client has sent a pointer position

	t        time.Duration // time of the last record fed
	records  int64         // records fed (or skipped by SeekTo)
	updates  int64         // FramebufferUpdates completed
	closing  bool          // feeding a close record: its stops are not errors
	err      error
	trackers []*Tracker
	dirty    Tracker // for Dirty

	scratch []byte
	tile    []byte // a ZRLE tile's pixels, 64×64 in image.RGBA layout
}

// New returns a Screen for one session, starting at its first byte.
func New(opts Options) *Screen {
	if opts.MaxPixels <= 0 {
		opts.MaxPixels = DefaultMaxPixels
	}
	if opts.MaxRectData <= 0 {
		opts.MaxRectData = 5 * opts.MaxPixels
	}
	s := &Screen{opts: opts}
	s.dec = rfb.NewDecoder(s.decoderOptions())
	s.dirty.s = s
	s.trackers = append(s.trackers, &s.dirty)
	return s
}

func (s *Screen) decoderOptions() rfb.DecoderOptions {
	return rfb.DecoderOptions{MaxText: s.opts.MaxText, MaxBuffer: s.opts.MaxBuffer,
		Rect: s.rect, MaxRectData: s.opts.MaxRectData, ColourMap: s.colourMap}
}

// Feed decodes one record of the session, read from a recording in order:
// message records are decoded, a gap record stops the Screen (bytes are
// missing), a close record ends the session. It returns the *DecodeError
// that stopped the Screen, now or before.
func (s *Screen) Feed(rec format.Record) error {
	if s.err != nil {
		return s.err
	}
	s.t = rec.Time
	s.closing = rec.Kind == format.KindClose
	err := s.dec.FeedRecord(rec, s.event)
	s.closing = false
	s.records++
	if err != nil && s.err == nil && err != rfb.ErrEnded {
		s.fail(nil, 0, err)
	}
	return s.err
}

// FeedData decodes payload p of one direction at time t, for sessions
// that do not come from a format.Reader (websockify's recordings). It
// returns what Feed returns.
func (s *Screen) FeedData(dir format.Direction, t time.Duration, p []byte) error {
	return s.Feed(format.Record{Kind: format.KindMessage, Time: t, Dir: dir, Payload: p})
}

// Err returns the *DecodeError that stopped the Screen, or nil.
func (s *Screen) Err() error { return s.err }

// Time returns the time of the last record fed.
func (s *Screen) Time() time.Duration { return s.t }

// Records returns the number of records fed (for a Screen from SeekTo,
// counted from the start of the recording).
func (s *Screen) Records() int64 { return s.records }

// Updates returns the number of FramebufferUpdates completed.
func (s *Screen) Updates() int64 { return s.updates }

// Size returns the framebuffer's size, zero before the ServerInit.
func (s *Screen) Size() image.Point {
	if s.fb == nil {
		return image.Point{}
	}
	return s.fb.Rect.Size()
}

// Name returns the desktop name (ServerInit, DesktopName).
func (s *Screen) Name() string { return s.name }

// Image returns the framebuffer, nil before the ServerInit. It is the
// Screen's own: it changes with the next Feed and is replaced on a resize.
// Every pixel is opaque.
func (s *Screen) Image() *image.RGBA { return s.fb }

// Session returns what the rfb.Decoder knows of the session.
func (s *Screen) Session() rfb.Session { return s.dec.Session() }

// event handles the rfb.Decoder's events.
func (s *Screen) event(e rfb.Event) {
	if s.err != nil {
		return
	}
	switch e.Kind {
	case rfb.KindServerInit:
		s.name = e.Text
		if err := s.resize(e.Width, e.Height); err != nil {
			s.fail(nil, e.Offset, err)
		}
	case rfb.KindDesktopName:
		s.name = e.Text
	case rfb.KindPointer:
		s.pointer, s.pointed = image.Pt(e.X, e.Y), true
		s.damageCursor()
	case rfb.KindUpdate:
		s.updates++
	case rfb.KindStop, rfb.KindEncrypted:
		if s.closing && e.Kind == rfb.KindStop {
			return // a session that ends inside a message is not an error
		}
		r, ok := s.dec.InRect()
		var rp *rfb.Rect
		if ok && e.Dir == format.TargetToClient {
			rp = &r
		}
		err := fmt.Errorf("%w: %s: %s", ErrStopped, side(e.Dir), e.Text)
		if rp != nil && e.Kind == rfb.KindStop {
			if known(r.Encoding) {
				err = fmt.Errorf("%w: %s", ErrCorrupt, e.Text)
			} else {
				err = fmt.Errorf("%w %s: %s", ErrUnsupported, r.Encoding, e.Text)
			}
		}
		s.fail(rp, e.Offset, err)
	}
}

func side(d format.Direction) string {
	if d == format.ClientToTarget {
		return "client"
	}
	return "server"
}

// fail stops the Screen.
func (s *Screen) fail(r *rfb.Rect, offset int64, err error) {
	de := &DecodeError{Time: s.t, Record: s.records, Offset: offset, Err: err}
	if r != nil {
		de.Rect, de.Encoding, de.HasRect = *r, r.Encoding, true
	}
	s.err = de
}

// colourMap handles SetColourMapEntries (RFC 6143 §7.6.2).
func (s *Screen) colourMap(c rfb.ColourMapData) {
	if s.err != nil {
		return
	}
	if s.cmap == nil {
		s.cmap = new([colourMapSize]rgba)
	}
	n := len(c.Data) / 6
	if c.First+n > colourMapSize {
		s.fail(nil, c.Offset, corrupt("colour map entries %d to %d", c.First, c.First+n-1))
		return
	}
	for i := range n {
		b := c.Data[6*i:]
		s.cmap[c.First+i] = pack(b[0], b[2], b[4], 255) // the high byte of each U16
	}
	// Pixels already drawn keep their colours: the framebuffer holds
	// RGBA, as a true-colour viewer's would.
}

// resize replaces the framebuffer by one of w×h, keeping the pixels of
// the area both share (as TigerVNC's viewer does); the rest is black.
func (s *Screen) resize(w, h int) error {
	if w < 0 || h < 0 || w*h > s.opts.MaxPixels {
		return fmt.Errorf("%w: framebuffer of %dx%d, over the limit of %d pixels", ErrTooLarge, w, h, s.opts.MaxPixels)
	}
	if s.fb != nil && s.fb.Rect.Dx() == w && s.fb.Rect.Dy() == h {
		return nil
	}
	fb := image.NewRGBA(image.Rect(0, 0, w, h))
	opaque(fb.Pix)
	if s.fb != nil {
		common := fb.Rect.Intersect(s.fb.Rect)
		for y := common.Min.Y; y < common.Max.Y; y++ {
			copy(fb.Pix[fb.PixOffset(0, y):fb.PixOffset(common.Max.X, y)], s.fb.Pix[s.fb.PixOffset(0, y):])
		}
	}
	s.fb = fb
	for _, t := range s.trackers {
		t.resized = true
		t.r = fb.Rect
	}
	return nil
}

// opaque sets every pixel of p to opaque black.
func opaque(p []byte) {
	for i := 3; i < len(p); i += 4 {
		p[i] = 255
	}
}

// damage records that r changed.
func (s *Screen) damage(r image.Rectangle) {
	for _, t := range s.trackers {
		t.r = t.r.Union(r)
	}
}

func (s *Screen) damageCursor() {
	for _, t := range s.trackers {
		t.cursor = true
	}
}

// set writes colour c at x, y, which the caller has checked.
func (s *Screen) set(x, y int, c rgba) {
	binary.LittleEndian.PutUint32(s.fb.Pix[s.fb.PixOffset(x, y):], uint32(c))
}

// blit copies pix, the pixels of r (which the caller has checked) row
// after row in image.RGBA layout, into the framebuffer.
func (s *Screen) blit(r image.Rectangle, pix []byte) {
	w := 4 * r.Dx()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(s.fb.Pix[s.fb.PixOffset(r.Min.X, y):], pix[:w])
		pix = pix[w:]
	}
}

// fill paints r, which the caller has checked, with c.
func (s *Screen) fill(r image.Rectangle, c rgba) {
	if r.Empty() {
		return
	}
	row := s.fb.Pix[s.fb.PixOffset(r.Min.X, r.Min.Y):s.fb.PixOffset(r.Max.X, r.Min.Y)]
	for i := 0; i < len(row); i += 4 {
		binary.LittleEndian.PutUint32(row[i:], uint32(c))
	}
	for y := r.Min.Y + 1; y < r.Max.Y; y++ {
		copy(s.fb.Pix[s.fb.PixOffset(r.Min.X, y):], row)
	}
}

// Damage is what changed between two calls of Tracker.Take.
type Damage struct {
	// Rect bounds every framebuffer pixel that changed; empty if none did.
	Rect image.Rectangle
	// Resized says the framebuffer was replaced by one of another size
	// (Rect is then all of it).
	Resized bool
	// Cursor says the cursor image or the pointer position changed.
	Cursor bool
}

// Tracker collects the changes to a Screen since its last Take: one per
// viewer of a re-encoding replay, which sends each what changed since
// its last update. A Tracker belongs to its Screen and is not safe for
// concurrent use.
type Tracker struct {
	s       *Screen
	r       image.Rectangle
	resized bool
	cursor  bool
}

// Track returns a new Tracker whose first Take reports the whole
// framebuffer.
func (s *Screen) Track() *Tracker {
	t := &Tracker{s: s, cursor: true}
	if s.fb != nil {
		t.r = s.fb.Rect
	}
	s.trackers = append(s.trackers, t)
	return t
}

// Take returns what changed since the last Take and starts collecting
// anew.
func (t *Tracker) Take() Damage {
	d := Damage{Rect: t.r, Resized: t.resized, Cursor: t.cursor}
	t.r, t.resized, t.cursor = image.Rectangle{}, false, false
	return d
}

// Stop detaches the Tracker from its Screen. It is idempotent.
func (t *Tracker) Stop() {
	for i, o := range t.s.trackers {
		if o == t {
			t.s.trackers = append(t.s.trackers[:i], t.s.trackers[i+1:]...)
			return
		}
	}
}

// Dirty returns what changed since the last call of Dirty (the first
// call: since New). Each viewer of its own should use a Tracker.
func (s *Screen) Dirty() Damage { return s.dirty.Take() }

package render

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
)

// ErrClientMessage is matched by the error that ends a Viewer whose
// client sent a message that could not be read.
var ErrClientMessage = errors.New("render: unreadable client message")

// Viewer is the server side of one viewer's RFB connection after the
// handshake: it reads the viewer's messages (SetPixelFormat,
// SetEncodings, FramebufferUpdateRequest; input events are read and
// ignored: a replay cannot be steered) in one goroutine, writes updates
// in another, and sends the changes of a screen.Screen when its owner
// calls Update.
//
// Flow control is the protocol's own: an update is sent only in answer
// to a FramebufferUpdateRequest, and only once the previous update was
// written. Until then the changes merge in the owner's screen.Tracker,
// so a slow viewer gets fewer, newer frames, and a Viewer holds at most
// one encoded update and one copy of the changed area: its memory is
// bounded by its framebuffer.
//
// Update must be called from one goroutine at a time (the one that owns
// the Screen); Wake, Done, Err and Close are safe for concurrent use.
// Close must be called once the Viewer is no longer used.
type Viewer struct {
	conn net.Conn
	log  func(msg string, args ...any)

	wake chan struct{} // a value when a request arrives or a write ends
	out  chan []byte   // the update being written; cap 1
	done chan struct{} // closed when the connection fails or Close runs
	wg   sync.WaitGroup

	mu        sync.Mutex
	err       error
	pf        rfb.PixelFormat
	pfChanged bool
	encodings []rfb.Encoding
	quality   int
	level     int
	requested bool // a FramebufferUpdateRequest waits for an answer
	full      bool // one of them was not incremental
	writing   bool
	closed    bool

	// Used by Update alone.
	enc        *Encoder
	encPF      rfb.PixelFormat
	sentSize   image.Point
	cursorSent bool
	cursorAt   image.Rectangle // where the cursor was drawn last
	scratch    *image.RGBA
	spare      []byte // a buffer the writer gave back
	size       image.Point
	caughtUp   bool // the last Update had a request and nothing to send
}

// NewViewer starts serving a viewer on conn, whose handshake is done and
// whose ServerInit announced size. The Viewer owns conn and closes it.
// log, if not nil, receives its debug messages.
func NewViewer(conn net.Conn, size image.Point, log func(msg string, args ...any)) *Viewer {
	if log == nil {
		log = func(string, ...any) {}
	}
	v := &Viewer{conn: conn, log: log, wake: make(chan struct{}, 1), out: make(chan []byte, 1), done: make(chan struct{}),
		pf: NativeFormat, quality: -1, level: 1, sentSize: size, size: size}
	v.wg.Add(2)
	go v.readLoop()
	go v.writeLoop()
	return v
}

// Wake returns a channel that receives a value when the Viewer may have
// something to send: a request arrived or a write ended. The owner then
// calls Update.
func (v *Viewer) Wake() <-chan struct{} { return v.wake }

// Done returns a channel closed when the connection ends.
func (v *Viewer) Done() <-chan struct{} { return v.done }

// Err returns why the connection ended: the connection's error, an error
// matching ErrClientMessage or ErrPixelFormat, or net.ErrClosed after
// Close; nil while it runs.
func (v *Viewer) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// Close closes the connection and waits for the Viewer's goroutines. It
// is idempotent.
func (v *Viewer) Close() error {
	v.fail(net.ErrClosed)
	v.wg.Wait()
	return nil
}

// CaughtUp reports whether the last call of Update found the viewer
// asking for an update and nothing to send: the viewer has the screen
// that Update was given. It must be called from Update's goroutine.
func (v *Viewer) CaughtUp() bool { return v.caughtUp }

// Finish ends the connection gracefully after the last update: on a
// connection that can half-close (TCP), it closes the writing side and
// waits up to timeout for the viewer to close its own, reading what the
// viewer still sends, so that the close does not reset the connection
// and lose the last update in flight. The caller still calls Close.
func (v *Viewer) Finish(timeout time.Duration) {
	cw, ok := v.conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	select {
	case <-v.done:
	case <-time.After(timeout):
	}
}

// Idle reports whether nothing is being written and no request waits:
// everything asked for was sent.
func (v *Viewer) Idle() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return !v.writing && !v.requested
}

func (v *Viewer) fail(err error) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	v.err = err
	close(v.done)
	v.mu.Unlock()
	v.conn.Close()
}

func (v *Viewer) signal() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// readLoop reads the viewer's messages through an rfb.Decoder resumed
// after the handshake (RFC 6143 §7.5).
func (v *Viewer) readLoop() {
	defer v.wg.Done()
	dec := rfb.Resume(rfb.DecoderOptions{}, rfb.Checkpoint{PixelFormat: NativeFormat})
	buf := make([]byte, 4096)
	var stop string
	emit := func(e rfb.Event) {
		v.mu.Lock()
		defer v.mu.Unlock()
		switch e.Kind {
		case rfb.KindSetPixelFormat:
			v.pf, v.pfChanged = *e.PixelFormat, true
		case rfb.KindSetEncodings:
			v.encodings = e.Encodings
			v.quality, v.level = -1, 1
			for _, enc := range e.Encodings {
				switch {
				case enc >= rfb.PseudoQualityLevel0 && enc <= rfb.PseudoQualityLevel0+9:
					v.quality = int(enc - rfb.PseudoQualityLevel0)
				case enc >= rfb.PseudoCompressLevel0 && enc <= rfb.PseudoCompressLevel0+9:
					v.level = int(enc - rfb.PseudoCompressLevel0)
				}
			}
		case rfb.KindUpdateRequest:
			v.requested = true
			v.full = v.full || !e.Incremental
		case rfb.KindStop:
			stop = e.Text
		}
	}
	for {
		n, err := v.conn.Read(buf)
		if n > 0 {
			dec.Feed(format.ClientToTarget, 0, buf[:n], emit)
			if stop != "" {
				v.fail(fmt.Errorf("%w: %s", ErrClientMessage, stop))
				return
			}
			v.signal()
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			v.fail(err)
			return
		}
	}
}

// writeLoop writes the updates Update hands it, one at a time.
func (v *Viewer) writeLoop() {
	defer v.wg.Done()
	for {
		select {
		case b := <-v.out:
			if _, err := v.conn.Write(b); err != nil {
				v.fail(err)
				return
			}
			v.mu.Lock()
			v.writing = false
			v.mu.Unlock()
			v.spareBack(b)
			v.signal()
		case <-v.done:
			return
		}
	}
}

// spareBack keeps b for the next update, unless it is larger than a
// framebuffer's worth.
func (v *Viewer) spareBack(b []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if cap(b) <= 4*v.size.X*v.size.Y+1<<16 {
		v.spare = b[:0]
	}
}

// choose returns the first encoding of the viewer's list that an Encoder
// writes, or Raw.
func choose(list []rfb.Encoding) rfb.Encoding {
	for _, e := range list {
		if slices.Contains(Encodings, e) {
			return e
		}
	}
	return rfb.EncodingRaw
}

// Update sends the viewer what changed on s since its last update, as
// tr (a Tracker of s, from the first Update on) reports it, if the
// viewer asked for an update and the previous one was written; else it
// leaves the changes in tr, where they merge with the next ones. The
// recorded cursor is drawn into the pixels at the recorded pointer
// position (the viewer's own pointer does not steer a replay); a viewer
// that offered the Cursor pseudo-encoding is sent an invisible local
// cursor. A framebuffer of another size than the viewer's is announced
// with ExtendedDesktopSize or DesktopSize, whichever it offered first;
// one that offered neither is sent the part inside its framebuffer. It
// returns the Viewer's error once the connection has ended.
func (v *Viewer) Update(s *screen.Screen, tr *screen.Tracker) error {
	v.mu.Lock()
	if v.err != nil {
		err := v.err
		v.mu.Unlock()
		return err
	}
	v.caughtUp = false
	if !v.requested || v.writing || s.Image() == nil {
		v.mu.Unlock()
		return nil
	}
	pf, pfChanged, full := v.pf, v.pfChanged, v.full
	encodings, quality, level := v.encodings, v.quality, v.level
	buf := v.spare
	v.spare = nil
	v.mu.Unlock()

	if v.enc == nil || pf != v.encPF {
		enc, err := NewEncoder(pf)
		if err != nil {
			v.fail(err)
			return err
		}
		v.enc, v.encPF = enc, pf
		full = true
	}
	v.enc.SetQuality(quality)
	v.enc.SetCompression(level)

	d := tr.Take()
	size := s.Size()
	rects := 0
	b := append(buf[:0], 0, 0, 0, 0) // FramebufferUpdate, rectangles patched below
	if pfChanged && !pf.TrueColour {
		b = append(colourMap(), b...)
	}
	head := len(b) - 4
	if size != v.sentSize {
		switch {
		case slices.Contains(encodings, rfb.PseudoExtendedDesktopSize) &&
			(!slices.Contains(encodings, rfb.PseudoDesktopSize) ||
				slices.Index(encodings, rfb.PseudoExtendedDesktopSize) < slices.Index(encodings, rfb.PseudoDesktopSize)):
			b, rects = AppendExtendedDesktopSize(b, size), rects+1
			v.sentSize = size
		case slices.Contains(encodings, rfb.PseudoDesktopSize):
			b, rects = AppendDesktopSize(b, size), rects+1
			v.sentSize = size
		}
		full = true
	}
	if !v.cursorSent && slices.Contains(encodings, rfb.PseudoCursor) {
		b, rects = v.enc.AppendCursor(b, nil, image.Point{}), rects+1
		v.cursorSent = true
	}
	view := image.Rectangle{Max: v.sentSize}.Intersect(image.Rectangle{Max: size})
	area := d.Rect
	c := s.Cursor()
	var cursorAt image.Rectangle
	if c.Visible {
		cursorAt = c.Image.Rect.Add(c.Pos.Sub(c.Hotspot))
	}
	if d.Cursor || cursorAt != v.cursorAt {
		area = area.Union(v.cursorAt).Union(cursorAt)
	}
	if full || d.Resized {
		area = view
	}
	area = area.Intersect(view)
	if !area.Empty() {
		img := v.compose(s, area, c, cursorAt)
		var n int
		var err error
		if b, n, err = v.enc.AppendRect(b, choose(encodings), img, area); err != nil {
			v.fail(err)
			return err
		}
		rects += n
		v.cursorAt = cursorAt
	}
	if rects == 0 {
		// Nothing changed: keep the request for the next change.
		v.spare = buf
		v.caughtUp = true
		return nil
	}
	if rects > 0xffff {
		err := fmt.Errorf("render: update of %d rectangles", rects)
		v.fail(err)
		return err
	}
	binary.BigEndian.PutUint16(b[head+2:], uint16(rects))
	v.mu.Lock()
	v.requested, v.full, v.writing = false, false, true
	if pfChanged {
		v.pfChanged = false
	}
	v.size = size
	v.mu.Unlock()
	v.out <- b
	return nil
}

// compose copies area of the framebuffer into the Viewer's scratch image,
// with the cursor drawn over it, and returns it.
func (v *Viewer) compose(s *screen.Screen, area image.Rectangle, c screen.Cursor, cursorAt image.Rectangle) *image.RGBA {
	n := 4 * area.Dx() * area.Dy()
	if v.scratch == nil || cap(v.scratch.Pix) < n {
		v.scratch = &image.RGBA{Pix: make([]byte, n)}
	}
	img := v.scratch
	img.Pix, img.Stride, img.Rect = img.Pix[:n], 4*area.Dx(), area
	fb := s.Image()
	for y := area.Min.Y; y < area.Max.Y; y++ {
		copy(img.Pix[img.PixOffset(area.Min.X, y):img.PixOffset(area.Max.X, y)], fb.Pix[fb.PixOffset(area.Min.X, y):])
	}
	if c.Visible && cursorAt.Overlaps(area) {
		draw.Draw(img, cursorAt, c.Image, c.Image.Rect.Min, draw.Over)
	}
	return img
}

package render

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"strings"
	"time"

	"golang.org/x/image/draw"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb"
)

// DefaultFPS is the frame rate of FrameOptions' zero value.
const DefaultFPS = 10

// FrameOptions configure Frames. The zero value means the defaults: the
// whole session at its own pace, 10 frames a second, without the cursor.
type FrameOptions struct {
	// FPS is the frame rate of the video. Zero means DefaultFPS.
	FPS float64
	// Speed divides the session's time, as wsreplay's --speed: 2 makes a
	// video half as long as the session. Zero means 1.
	Speed float64
	// From and To select the session times shown; To zero means to the
	// end.
	From, To time.Duration
	// IdleLimit cuts every gap between records longer than it to its
	// length (before Speed), as wsreplay's --idle-limit. Zero means no
	// limit.
	IdleLimit time.Duration
	// Cursor draws the cursor at the pointer position.
	Cursor bool
}

func (o *FrameOptions) defaults() {
	if o.FPS <= 0 {
		o.FPS = DefaultFPS
	}
	if o.Speed <= 0 {
		o.Speed = 1
	}
}

// Clock maps session time to video time under FrameOptions' speed and
// idle limit: it advances with the times of a session's records, in
// order. The zero value is not usable: use NewClock.
type Clock struct {
	speed float64
	idle  time.Duration
	from  time.Duration
	now   time.Duration // session time reached
	video time.Duration // its video time
	segs  []clockSeg
}

// clockSeg starts a piece of the mapping: from session time s on, video
// time is v plus (session time − s)/speed, or v alone where flat.
type clockSeg struct {
	s, v time.Duration
	flat bool
}

// NewClock returns a Clock whose video time 0 is session time opts.From.
func NewClock(opts FrameOptions) *Clock {
	opts.defaults()
	c := &Clock{speed: opts.Speed, idle: opts.IdleLimit, from: opts.From, now: opts.From}
	c.segs = []clockSeg{{s: opts.From}}
	return c
}

func (c *Clock) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.speed)
}

// Advance moves the session clock to t (no earlier than it stands) and
// returns the video time it reaches.
func (c *Clock) Advance(t time.Duration) time.Duration {
	if t <= c.now {
		return c.video
	}
	gap := t - c.now
	if c.idle > 0 && gap > c.idle {
		c.video += c.scale(c.idle)
		c.segs = append(c.segs, clockSeg{s: c.now + c.idle, v: c.video, flat: true}, clockSeg{s: t, v: c.video})
	} else {
		c.video += c.scale(gap)
	}
	c.now = t
	return c.video
}

// Video returns the video time of session time t, which the Clock has
// advanced to or past.
func (c *Clock) Video(t time.Duration) time.Duration {
	if t < c.from {
		return 0
	}
	i := len(c.segs) - 1
	for i > 0 && c.segs[i].s > t {
		i--
	}
	g := c.segs[i]
	if g.flat {
		return g.v
	}
	return g.v + c.scale(t-g.s)
}

// Session returns the session time shown at video time v: the inverse of
// Video, the earliest where Video is flat.
func (c *Clock) Session(v time.Duration) time.Duration {
	i := len(c.segs) - 1
	for i > 0 && c.segs[i].v > v {
		i--
	}
	g := c.segs[i]
	if g.flat {
		return g.s
	}
	return g.s + time.Duration(float64(v-g.v)*c.speed)
}

// Frame is one frame of a video.
type Frame struct {
	// Image is the frame; it is Frames' own and is overwritten by the next
	// frame.
	Image *image.RGBA
	// Index numbers the frames from 0; Video is its time in the video,
	// Session the session time it shows.
	Index          int
	Video, Session time.Duration
}

// FrameStats says what Frames made.
type FrameStats struct {
	Frames int
	// Duration is the video's length: frames / FPS.
	Duration time.Duration
	// Size is the frames' size: the screen's at From, rounded up to even
	// sides for video encoders.
	Size image.Point
	// Resized counts frames of a screen of another size, scaled into the
	// video's.
	Resized int
	// Clock maps the session's times to the video's (for captions).
	Clock *Clock
}

// Frames walks the session from opts.From to opts.To (or its end) and
// calls emit with each frame of a video at opts.FPS: the screen as it
// stands at each frame's time, under the Clock of opts. All frames have
// the size of the screen at From, rounded up to even numbers; a screen
// resized later is scaled into it, keeping its aspect ratio. Frames
// stops at emit's first error and returns it; it returns the Player's
// errors (see Player.At), and ctx's.
func Frames(ctx context.Context, p *Player, opts FrameOptions, emit func(Frame) error) (FrameStats, error) {
	opts.defaults()
	var st FrameStats
	s, err := p.At(opts.From)
	if errors.Is(err, ErrNoScreen) {
		// Start at the first screen.
		for err != nil && errors.Is(err, ErrNoScreen) {
			t, ok := p.NextTime()
			if !ok || opts.To > 0 && t >= opts.To {
				return st, ErrNoScreen
			}
			s, err = p.At(t)
		}
		opts.From = s.Time()
	}
	if err != nil {
		return st, err
	}
	size := s.Size()
	st.Size = image.Pt(size.X+size.X%2, size.Y+size.Y%2)
	frame := image.NewRGBA(image.Rectangle{Max: st.Size})
	var screenBuf *image.RGBA // the screen at another size, before scaling
	clock := NewClock(opts)
	st.Clock = clock
	step := time.Duration(float64(time.Second) / opts.FPS)
	render := func(v time.Duration) error {
		if s.Size() == size {
			s.Composite(frame.SubImage(image.Rectangle{Max: size}).(*image.RGBA), opts.Cursor)
		} else {
			screenBuf = s.Composite(screenBuf, opts.Cursor)
			fit(frame, screenBuf)
			st.Resized++
		}
		err := emit(Frame{Image: frame, Index: st.Frames, Video: v, Session: clock.Session(v)})
		st.Frames++
		return err
	}
	for n := 0; ; n++ {
		if n%256 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		t, ok := p.NextTime()
		last := !ok || opts.To > 0 && t >= opts.To
		if last {
			switch {
			case opts.To > 0:
				t = opts.To
			default:
				t = max(s.Time(), clock.now) + step // show the last screen for a frame
			}
		}
		end := clock.Advance(t)
		for v := time.Duration(st.Frames) * step; v < end; v = time.Duration(st.Frames) * step {
			if err := render(v); err != nil {
				return st, err
			}
		}
		if last {
			break
		}
		p.Step()
		if err := s.Err(); err != nil {
			return st, err
		}
	}
	if e := p.End(); e != nil && !clean(p.f, e) {
		return st, e
	}
	if st.Frames == 0 {
		if err := render(0); err != nil {
			return st, err
		}
	}
	st.Duration = time.Duration(st.Frames) * step
	return st, nil
}

// fit draws src into dst scaled to fit, centred, on black.
func fit(dst, src *image.RGBA) {
	draw.Draw(dst, dst.Rect, image.Black, image.Point{}, draw.Src)
	db, sb := dst.Rect.Size(), src.Rect.Size()
	if sb.X == 0 || sb.Y == 0 {
		return
	}
	w, h := db.X, sb.Y*db.X/sb.X
	if h > db.Y {
		w, h = sb.X*db.Y/sb.Y, db.Y
	}
	at := image.Pt((db.X-w)/2, (db.Y-h)/2)
	draw.ApproxBiLinear.Scale(dst, image.Rectangle{Min: at, Max: at.Add(image.Pt(w, h))}, src, src.Rect, draw.Src, nil)
}

// TypedLines reads f from its start and returns the lines of text typed
// in its RFB session (rfb.KeyTracker), up to session time to (zero: the
// end), and rewinds f.
func TypedLines(ctx context.Context, f *recfile.File, to time.Duration) ([]rfb.Line, error) {
	if err := f.Seek(0); err != nil {
		return nil, err
	}
	dec := rfb.NewDecoder(rfb.DecoderOptions{})
	var (
		keys  rfb.KeyTracker
		lines []rfb.Line
	)
	emit := func(e rfb.Event) {
		if l, ok := keys.Add(e); ok {
			lines = append(lines, l)
		}
	}
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rec, err := f.Next()
		if err != nil {
			if !clean(f, err) {
				return nil, err
			}
			break
		}
		if to > 0 && rec.Time >= to {
			break
		}
		if err := dec.FeedRecord(rec, emit); err != nil {
			break // nothing more to decode: keys stop here
		}
	}
	if l, ok := keys.Flush(); ok {
		lines = append(lines, l)
	}
	return lines, f.Seek(0)
}

// CaptionHold is how long a typed line stays on screen after its last key.
const CaptionHold = 2 * time.Second

// WriteWebVTT writes lines as a WebVTT subtitle track (W3C WebVTT): each
// line shows in video time from its first key to CaptionHold after its
// last, or until the next line starts, under clock. Lines outside the
// video, [0, length), are left out.
func WriteWebVTT(w io.Writer, lines []rfb.Line, clock *Clock, length time.Duration) (int, error) {
	var b strings.Builder
	b.WriteString("WEBVTT\n")
	n := 0
	for i, l := range lines {
		start, end := clock.Video(l.Time), clock.Video(l.End)+clock.scale(CaptionHold)
		if i+1 < len(lines) {
			end = min(end, clock.Video(lines[i+1].Time))
		}
		end = min(end, length)
		if l.Time < clock.from || start >= length || end <= start {
			continue
		}
		fmt.Fprintf(&b, "\n%s --> %s\n%s\n", vttTime(start), vttTime(end), vttEscape(l.Text))
		n++
	}
	_, err := io.WriteString(w, b.String())
	return n, err
}

func vttTime(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// vttEscape escapes a cue's text (WebVTT's cue text may hold tags and
// must not hold "-->"), and keeps it on one line.
var vttEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\n", " ", "\r", " ")

func vttEscape(s string) string {
	if s == "" {
		return " "
	}
	return vttEscaper.Replace(s)
}

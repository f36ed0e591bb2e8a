package render

import (
	"context"
	"image"
	"image/color"
	"time"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/wsproxy/wsproxy/format/rfb/screen"
)

// Defaults of SheetOptions and ChangeOptions.
const (
	DefaultColumns    = 4
	DefaultThumbWidth = 320
	DefaultThreshold  = 0.05
	DefaultSettle     = time.Second
)

// Layout of a contact sheet, in pixels.
const (
	sheetGap     = 8  // between and around cells
	labelHeight  = 17 // under each thumbnail: basicfont's 13-pixel face and a margin
	labelPadding = 3
)

// Colours of a contact sheet.
var (
	sheetBackground = color.RGBA{0x20, 0x20, 0x20, 0xff}
	labelColour     = color.RGBA{0xf0, 0xf0, 0xf0, 0xff}
)

// Thumb is one cell of a contact sheet.
type Thumb struct {
	// Time is the session time it shows.
	Time time.Duration
	// Label is written under it.
	Label string
	// Image is the thumbnail; nil draws an empty cell (a time before the
	// first screen).
	Image *image.RGBA
}

// SheetOptions configure a contact sheet. The zero value means the
// defaults.
type SheetOptions struct {
	// Columns is the number of thumbnails a row. Zero means
	// DefaultColumns.
	Columns int
	// ThumbWidth is the width of a thumbnail in pixels; its height keeps
	// the screen's aspect ratio. Zero means DefaultThumbWidth.
	ThumbWidth int
}

func (o *SheetOptions) defaults() {
	if o.Columns <= 0 {
		o.Columns = DefaultColumns
	}
	if o.ThumbWidth <= 0 {
		o.ThumbWidth = DefaultThumbWidth
	}
}

// Thumbnail returns src scaled to width pixels wide (and at least one
// pixel high), bilinearly.
func Thumbnail(src image.Image, width int) *image.RGBA {
	b := src.Bounds()
	h := max(1, (b.Dy()*width+b.Dx()/2)/max(1, b.Dx()))
	dst := image.NewRGBA(image.Rect(0, 0, width, h))
	draw.ApproxBiLinear.Scale(dst, dst.Rect, src, b, draw.Src, nil)
	return dst
}

// Sheet lays thumbs out in a grid, in order, row by row, each with its
// label under it. Cells are as large as the largest thumbnail.
func Sheet(thumbs []Thumb, opts SheetOptions) *image.RGBA {
	opts.defaults()
	cols := min(opts.Columns, max(1, len(thumbs)))
	rows := (len(thumbs) + cols - 1) / cols
	cell := image.Pt(opts.ThumbWidth, 0)
	for _, th := range thumbs {
		if th.Image != nil {
			cell.Y = max(cell.Y, th.Image.Rect.Dy())
			cell.X = max(cell.X, th.Image.Rect.Dx())
		}
	}
	if cell.Y == 0 {
		cell.Y = cell.X * 10 / 16
	}
	pitch := cell.Add(image.Pt(sheetGap, sheetGap+labelHeight))
	sheet := image.NewRGBA(image.Rect(0, 0, sheetGap+cols*pitch.X, sheetGap+max(1, rows)*pitch.Y))
	draw.Draw(sheet, sheet.Rect, image.NewUniform(sheetBackground), image.Point{}, draw.Src)
	face := basicfont.Face7x13
	for i, th := range thumbs {
		at := image.Pt(sheetGap+i%cols*pitch.X, sheetGap+i/cols*pitch.Y)
		if th.Image != nil {
			draw.Draw(sheet, th.Image.Rect.Sub(th.Image.Rect.Min).Add(at), th.Image, th.Image.Rect.Min, draw.Src)
		}
		d := font.Drawer{Dst: sheet, Src: image.NewUniform(labelColour), Face: face,
			Dot: fixed.P(at.X, at.Y+cell.Y+labelPadding+face.Ascent)}
		d.DrawString(fitLabel(th.Label, cell.X/face.Advance))
	}
	return sheet
}

// fitLabel cuts l to n characters.
func fitLabel(l string, n int) string {
	r := []rune(l)
	if len(r) <= n {
		return l
	}
	return string(r[:max(0, n)])
}

// ChangeOptions configure Changes. The zero value means the defaults.
type ChangeOptions struct {
	// Threshold is the part of the screen (0 to 1) that updates must have
	// covered since the last change taken for a new one. Zero means
	// DefaultThreshold.
	Threshold float64
	// Settle is how long the screen must stay unchanged after updates for
	// them to be taken as a change, so that a picture shows the result
	// and not the middle of a redraw. Zero means DefaultSettle.
	Settle time.Duration
	// Max is the most changes taken; zero means no limit.
	Max int
	// To stops at this session time; zero means at the end.
	To time.Duration
}

// Changes walks the session from the Player's position to its end, and
// calls take with the Screen each time it settles after a change: after
// updates that cover at least opts.Threshold of the screen, once the
// screen stays unchanged for opts.Settle (or at the end of the session).
// t is the time of the last update of the change. It stops at take's
// first error, or ctx's, and returns it.
func Changes(ctx context.Context, p *Player, opts ChangeOptions, take func(t time.Duration, s *screen.Screen) error) error {
	if opts.Threshold <= 0 {
		opts.Threshold = DefaultThreshold
	}
	if opts.Settle <= 0 {
		opts.Settle = DefaultSettle
	}
	var (
		covered float64       // part of the screen updated since the last change taken
		last    time.Duration // time of the last update
		pending bool          // covered reached the threshold
		taken   int
	)
	flush := func() error {
		pending, covered = false, 0
		taken++
		return take(last, p.Screen())
	}
	for n := 0; opts.Max <= 0 || taken < opts.Max; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		t, ok := p.NextTime()
		if ok && opts.To > 0 && t >= opts.To {
			ok = false
		}
		if pending && (!ok || t-last >= opts.Settle) {
			if err := flush(); err != nil {
				return err
			}
		}
		if !ok {
			break
		}
		p.Step()
		s := p.Screen()
		if s.Err() != nil {
			return s.Err()
		}
		d := s.Dirty()
		if d.Rect.Empty() || s.Image() == nil {
			continue
		}
		fb := s.Image().Rect
		covered += float64(d.Rect.Dx()*d.Rect.Dy()) / float64(max(1, fb.Dx()*fb.Dy()))
		last = t
		pending = pending || covered >= opts.Threshold
	}
	if e := p.End(); e != nil && !clean(p.f, e) {
		return e
	}
	return nil
}

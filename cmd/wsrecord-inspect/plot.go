package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/wsproxy/wsproxy/format/traffic"
)

// The stats image: three panels, throughput each way and message sizes,
// drawn with the standard library's image packages and the fixed 7x13 font
// of golang.org/x/image (ASCII only).
const (
	plotWidth  = 960
	plotHeight = 720
	plotLeft   = 80 // room for the y axis labels
	plotRight  = 20
	panelGap   = 56
)

var (
	colorBackground = color.RGBA{0xff, 0xff, 0xff, 0xff}
	colorAxis       = color.RGBA{0x60, 0x60, 0x60, 0xff}
	colorText       = color.RGBA{0x20, 0x20, 0x20, 0xff}
	colorClient     = color.RGBA{0x1f, 0x77, 0xb4, 0xff} // client→target
	colorTarget     = color.RGBA{0xff, 0x7f, 0x0e, 0xff} // target→client
)

// plotStats draws s.
func plotStats(s *recordingStats) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, plotWidth, plotHeight))
	draw.Draw(img, img.Bounds(), image.NewUniform(colorBackground), image.Point{}, draw.Src)
	p := plotter{img: img}
	p.text(plotLeft, 20, fmt.Sprintf("%s: %s, %d records", filepath.Base(s.File), fmtDuration(s.Duration), s.Records), colorText)

	panelH := (plotHeight - 40 - 3*panelGap) / 3
	top := 40 + panelGap - 16
	p.throughput(image.Rect(plotLeft, top, plotWidth-plotRight, top+panelH), "client -> target", s.Client.Throughput, s.Slot, s.Duration, colorClient)
	top += panelH + panelGap
	p.throughput(image.Rect(plotLeft, top, plotWidth-plotRight, top+panelH), "target -> client", s.Target.Throughput, s.Slot, s.Duration, colorTarget)
	top += panelH + panelGap
	p.sizes(image.Rect(plotLeft, top, plotWidth-plotRight, top+panelH), s)
	return img
}

type plotter struct{ img *image.RGBA }

// text draws s with its baseline's left end at x, y.
func (p plotter) text(x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: p.img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// textRight draws s ending at x.
func (p plotter) textRight(x, y int, s string, c color.Color) {
	p.text(x-font.MeasureString(basicfont.Face7x13, s).Round(), y, s, c)
}

func (p plotter) fill(r image.Rectangle, c color.Color) {
	draw.Draw(p.img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// axes draws the left and bottom axes of r, with the peak and 0 at the
// left.
func (p plotter) axes(r image.Rectangle, peak string) {
	p.fill(image.Rect(r.Min.X-1, r.Min.Y, r.Min.X, r.Max.Y+1), colorAxis)
	p.fill(image.Rect(r.Min.X-1, r.Max.Y, r.Max.X, r.Max.Y+1), colorAxis)
	p.textRight(r.Min.X-6, r.Min.Y+10, peak, colorText)
	p.textRight(r.Min.X-6, r.Max.Y, "0", colorText)
}

// throughput draws bytes per slot as bars in r.
func (p plotter) throughput(r image.Rectangle, name string, slots []uint64, slot, dur time.Duration, c color.Color) {
	var peak uint64
	for _, v := range slots {
		peak = max(peak, v)
	}
	p.text(r.Min.X, r.Min.Y-8, fmt.Sprintf("%s: bytes per %s, peak %s (%s/s)", name, slot, fmtBytes(peak), fmtBytes(uint64(float64(peak)/slot.Seconds()))), c)
	p.axes(r, fmtBytes(peak))
	p.text(r.Min.X, r.Max.Y+16, "0s", colorText)
	p.textRight(r.Max.X, r.Max.Y+16, fmtDuration(dur), colorText)
	if peak == 0 {
		return
	}
	w := float64(r.Dx()) / float64(len(slots))
	for i, v := range slots {
		if v == 0 {
			continue
		}
		h := max(int(float64(v)/float64(peak)*float64(r.Dy())+0.5), 1)
		x0, x1 := r.Min.X+int(float64(i)*w), r.Min.X+int(float64(i+1)*w)
		p.fill(image.Rect(x0, r.Max.Y-h, max(x1-1, x0+1), r.Max.Y), c)
	}
}

// sizes draws the message size classes of both directions as pairs of
// bars in r.
func (p plotter) sizes(r image.Rectangle, s *recordingStats) {
	lo, hi, peak := traffic.ClassRange(&s.Client, &s.Target)
	p.text(r.Min.X, r.Min.Y-8, "messages by size (bytes, at least)", colorText)
	p.fill(image.Rect(r.Max.X-264, r.Min.Y-17, r.Max.X-254, r.Min.Y-7), colorClient)
	p.text(r.Max.X-248, r.Min.Y-8, "client -> target", colorText)
	p.fill(image.Rect(r.Max.X-128, r.Min.Y-17, r.Max.X-118, r.Min.Y-7), colorTarget)
	p.text(r.Max.X-112, r.Min.Y-8, "target -> client", colorText)
	p.axes(r, strconv.FormatUint(peak, 10))
	if hi < 0 {
		return
	}
	n := hi - lo + 1
	w := float64(r.Dx()) / float64(n)
	for k := lo; k <= hi; k++ {
		x := r.Min.X + int(float64(k-lo)*w)
		bw := max(int(w/2)-3, 1)
		for j, d := range []struct {
			n uint64
			c color.Color
		}{{s.Client.Classes[k], colorClient}, {s.Target.Classes[k], colorTarget}} {
			if d.n == 0 {
				continue
			}
			h := max(int(float64(d.n)/float64(peak)*float64(r.Dy())+0.5), 1)
			x0 := x + 2 + j*(bw+1)
			p.fill(image.Rect(x0, r.Max.Y-h, x0+bw, r.Max.Y), d.c)
		}
		if n <= 16 || (k-lo)%2 == 0 {
			low, _ := traffic.ClassBounds(k)
			p.text(x+2, r.Max.Y+16, shortSize(low), colorText)
		}
	}
}

// shortSize writes a power of two of bytes shortly: 512, 1K, 64M.
func shortSize(n uint64) string {
	for _, u := range []string{"", "K", "M", "G"} {
		if n < 1024 || u == "G" {
			return strconv.FormatUint(n, 10) + u
		}
		n >>= 10
	}
	return ""
}

package ui_test

import (
	"cmp"
	"image/color"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	. "github.com/wsproxy/wsproxy/internal/rfbtest"
)

// Screen of the synthetic sessions.
const fixW, fixH = 64, 48

// fixColours are the colours of the screen from each ten seconds on.
var fixColours = []color.RGBA{
	{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255},
	{255, 255, 255, 255}, {255, 255, 0, 255}, {0, 255, 255, 255},
}

// fixDuration is the length of a synthetic session.
const fixDuration = 60 * time.Second

// session describes a synthetic VNC session to write.
type session struct {
	name  string
	start time.Time
	meta  map[string]string
	typed string // typed at 25 s, then Return
}

// writeSession writes a sealed recording of a VNC session under dir: a
// 64×48 screen filled with fixColours[i] from i×10 s on, s.typed typed
// at 25 s, a click at (10, 20) at 35 s, "copied text" copied in the
// viewer at 45 s, and its end at fixDuration. Between the changes
// nothing is sent (idle).
func writeSession(t testing.TB, dir string, s session) string {
	t.Helper()
	var recs []format.Record
	add := func(at time.Duration, dir format.Direction, b []byte) {
		recs = append(recs, format.Record{Kind: format.KindMessage, Time: at, Dir: dir, Payload: b})
	}
	in, out := format.ClientToTarget, format.TargetToClient
	ms := time.Millisecond
	add(0, out, []byte("RFB 003.008\n"))
	add(1*ms, in, []byte("RFB 003.008\n"))
	add(2*ms, out, U8(1, 1))
	add(3*ms, in, U8(1))
	add(4*ms, out, U32(0))
	add(5*ms, in, U8(1))
	add(6*ms, out, Cat(U16(fixW, fixH), U8(32, 24, 0, 1), U16(255, 255, 255), U8(16, 8, 0, 0, 0, 0), U32(4), []byte("test")))
	add(7*ms, in, Cat(U8(2, 0), U16(1), U32(0)))
	for i, c := range fixColours {
		px := make([]byte, 0, fixW*fixH*4)
		for range fixW * fixH {
			px = append(px, c.B, c.G, c.R, 0)
		}
		at := time.Duration(i) * 10 * time.Second
		if i == 0 {
			at = 10 * ms
		}
		add(at, out, Cat(U8(0, 0), U16(1), U16(0, 0, fixW, fixH), U32(0), px))
	}
	at := 25 * time.Second
	for _, r := range s.typed + "\r" {
		k := int64(r)
		if r == '\r' {
			k = 0xff0d
		}
		add(at, in, Cat(U8(4, 1, 0, 0), U32(k)))
		add(at+20*ms, in, Cat(U8(4, 0, 0, 0), U32(k)))
		at += 50 * ms
	}
	add(35*time.Second, in, Cat(U8(5, 1), U16(10, 20)))
	add(35*time.Second+50*ms, in, Cat(U8(5, 0), U16(10, 20)))
	add(45*time.Second, in, Cat(U8(6, 0, 0, 0), U32(11), []byte("copied text")))
	slices.SortStableFunc(recs, func(a, b format.Record) int { return cmp.Compare(a.Time, b.Time) })
	recs = append(recs, format.Record{Kind: format.KindClose, Time: fixDuration, Close: format.CloseInfo{By: format.ClosedByClient, Code: 1000}})

	path := filepath.Join(dir, filepath.FromSlash(s.name))
	WriteFile(t, path, format.Header{Start: s.start, Meta: s.meta}, format.WriterOptions{}, recs)
	return path
}

// colourAt is the colour of the synthetic screen at t.
func colourAt(t time.Duration) color.RGBA {
	return fixColours[min(len(fixColours)-1, int(t/(10*time.Second)))]
}

package rfb

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// rectRecorder collects what the Rect and ColourMap hooks receive.
type rectRecorder struct {
	rects   []RectData
	colours []ColourMapData
}

func (r *rectRecorder) options(maxData int) DecoderOptions {
	return DecoderOptions{MaxRectData: maxData,
		Rect: func(d RectData) {
			d.Data = slices.Clone(d.Data)
			r.rects = append(r.rects, d)
		},
		ColourMap: func(c ColourMapData) {
			c.Data = slices.Clone(c.Data)
			r.colours = append(r.colours, c)
		}}
}

func TestRectHook(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat(u8(1, 2, 3, 4), 6) // 3x2 Raw at 32bpp
	copyRect := u16(7, 9)
	cmap := cat(u8(1, 0), u16(5, 2), u16(0xffff, 0, 0x8000, 1, 2, 3))
	upd := cat(updateHeader(3), rectHeader(1, 2, 3, 2, EncodingRaw), raw, rectHeader(0, 0, 3, 2, EncodingCopyRect), copyRect,
		rectHeader(0, 0, 0, 0, PseudoLastRect))
	session := slices.Concat(handshake, []chunk{server(upd), server(cmap)})
	for _, split := range []int{0, 1, 7, 13} {
		var rec rectRecorder
		d := NewDecoder(rec.options(0))
		var evs []Event
		for i, c := range session {
			b := c.b
			// Cut each server record into pieces of split bytes.
			for len(b) > 0 {
				n := len(b)
				if split > 0 && c.dir == format.TargetToClient {
					n = min(n, split)
				}
				evs = append(evs, feed(t, d, c.dir, time.Duration(i)*time.Second, b[:n])...)
				b = b[n:]
			}
		}
		checkClean(t, evs)
		if len(rec.rects) != 3 {
			t.Fatalf("split %d: %d rects, want 3", split, len(rec.rects))
		}
		want := []struct {
			enc  Encoding
			data []byte
		}{{EncodingRaw, raw}, {EncodingCopyRect, copyRect}, {PseudoLastRect, nil}}
		for i, w := range want {
			got := rec.rects[i]
			if got.Rect.Encoding != w.enc || !bytes.Equal(got.Data, w.data) || got.Truncated || got.Index != i {
				t.Errorf("split %d: rect %d: %s %x truncated %v index %d, want %s %x", split, i, got.Rect.Encoding, got.Data,
					got.Truncated, got.Index, w.enc, w.data)
			}
			if got.PixelFormat != noVNCFormat && got.PixelFormat.BitsPerPixel != 32 {
				t.Errorf("rect %d: pixel format %s", i, got.PixelFormat)
			}
		}
		if got, want := rec.rects[1].Offset, int64(4+12+len(raw)); got-rec.rects[0].Offset+4 != want {
			t.Errorf("split %d: second rect at %d, first at %d", split, got, rec.rects[0].Offset)
		}
		if len(rec.colours) != 1 || rec.colours[0].First != 5 || !bytes.Equal(rec.colours[0].Data, cmap[6:]) {
			t.Errorf("split %d: colour maps %+v", split, rec.colours)
		}
	}

	t.Run("Truncated", func(t *testing.T) {
		var rec rectRecorder
		d := NewDecoder(rec.options(10))
		for _, c := range session {
			feed(t, d, c.dir, 0, c.b)
		}
		if len(rec.rects) != 3 || !rec.rects[0].Truncated || len(rec.rects[0].Data) != 10 || rec.rects[0].Rect.Bytes != int64(len(raw)) {
			t.Fatalf("rects %+v", rec.rects)
		}
		if rec.rects[1].Truncated || !bytes.Equal(rec.rects[1].Data, copyRect) {
			t.Errorf("rect after the truncated one: %+v", rec.rects[1])
		}
	})
}

// TestCheckpoint resumes a decoder at every point a checkpoint is taken
// in a real capture and checks that the rest decodes to the same events.
func TestCheckpoint(t *testing.T) {
	t.Parallel()
	recs := readFixture(t, fixtureSession)
	full := decodeRecords(t, recs)
	d := NewDecoder(DecoderOptions{})
	var before []Event
	points := 0
	for i, rec := range recs {
		if err := d.FeedRecord(rec, func(e Event) { before = append(before, e) }); err != nil {
			t.Fatal(err)
		}
		cp, err := d.Checkpoint()
		if err != nil {
			continue
		}
		points++
		r := Resume(DecoderOptions{}, cp)
		if ses, want := r.Session(), d.Session(); ses.Name != want.Name || ses.Width != want.Width || len(ses.Encodings) != len(want.Encodings) {
			t.Errorf("resumed session %+v, want %+v", ses, want)
		}
		after := slices.Clone(before)
		for _, rec := range recs[i+1:] {
			if err := r.FeedRecord(rec, func(e Event) { after = append(after, e) }); err != nil {
				t.Fatal(err)
			}
		}
		after = append(after, end(r, 0)...)
		if !equalEvents(after, full) {
			t.Fatalf("resumed after record %d: events differ", i)
		}
	}
	if points < 20 {
		t.Errorf("%d checkpoints in %d records, want at least 20", points, len(recs))
	}
	if _, err := NewDecoder(DecoderOptions{}).Checkpoint(); err != ErrNotResumable {
		t.Errorf("checkpoint before the handshake: %v, want ErrNotResumable", err)
	}
}

// TestSetPixelFormatRecordedBeforeServerInit decodes sessions whose
// client asks for 8 bits per pixel: wsproxy records a target→client
// message once it was written to the client, so a client that answers
// ServerInit at once can have its SetPixelFormat recorded first. The
// server cannot have sent an update in its own format after ServerInit
// when SetPixelFormat was the client's first message: the update is in
// the client's.
func TestSetPixelFormatRecordedBeforeServerInit(t *testing.T) {
	t.Parallel()
	pf8 := PixelFormat{BitsPerPixel: 8, Depth: 8}
	init := handshake[len(handshake)-1]
	spf := client(setPixelFormat(pf8), setEncodings(EncodingRaw), updateRequest(false, 0, 0, 320, 240))
	upd := server(updateHeader(2), rectHeader(0, 0, 4, 1, EncodingRaw), u8(1, 2, 3, 4), rectHeader(0, 1, 2, 1, EncodingRaw), u8(5, 6))
	for _, tt := range []struct {
		name   string
		chunks []chunk
	}{
		{"InOrder", slices.Concat(handshake, []chunk{spf, upd})},
		{"SetPixelFormatFirst", slices.Concat(handshake[:len(handshake)-1], []chunk{spf, init, upd})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var rec rectRecorder
			d := NewDecoder(rec.options(0))
			var evs []Event
			for i, c := range tt.chunks {
				evs = append(evs, feed(t, d, c.dir, time.Duration(i)*time.Millisecond, c.b)...)
			}
			checkClean(t, evs)
			if len(rec.rects) != 2 {
				t.Fatalf("%d rects, want 2", len(rec.rects))
			}
			for i, want := range [][]byte{u8(1, 2, 3, 4), u8(5, 6)} {
				if got := rec.rects[i]; got.PixelFormat != pf8 || !bytes.Equal(got.Data, want) {
					t.Errorf("rect %d: %s %x, want %s %x", i, got.PixelFormat, got.Data, pf8, want)
				}
			}
			if s := d.Session(); s.PixelFormat == nil || *s.PixelFormat != testFormat || s.ClientPixelFormat == nil || *s.ClientPixelFormat != pf8 {
				t.Errorf("session formats %v, client %v", s.PixelFormat, s.ClientPixelFormat)
			}
		})
	}
}

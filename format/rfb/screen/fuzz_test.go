package screen

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

// fuzzRecords encodes records for FuzzScreen: per record a byte whose low
// bit is the direction, a length byte, and that many payload bytes.
func fuzzRecords(recs []format.Record) []byte {
	var b []byte
	for _, r := range recs {
		if r.Kind != format.KindMessage {
			continue
		}
		p := r.Payload
		for first := true; first || len(p) > 0; first = false {
			n := min(len(p), 255)
			b = append(b, byte(r.Dir), byte(n))
			b = append(b, p[:n]...)
			p = p[n:]
		}
	}
	return b
}

// fuzzDecode feeds the records of data to a Screen, cut in two if split,
// and returns its framebuffer and error.
func fuzzDecode(data []byte, split bool) ([]byte, error) {
	s := New(Options{MaxPixels: 1 << 16, MaxRectData: 1 << 20, MaxBuffer: 1})
	var err error
	for i := 0; len(data) >= 2 && err == nil; i++ {
		n := min(int(data[1]), len(data)-2)
		dir, p := format.Direction(data[0]&1), data[2:2+n]
		data = data[2+n:]
		t := time.Duration(i) * time.Millisecond
		if split && len(p) > 1 {
			if err = s.FeedData(dir, t, p[:len(p)/2]); err != nil {
				break
			}
			p = p[len(p)/2:]
		}
		err = s.FeedData(dir, t, p)
	}
	if img := s.Snapshot(true); img != nil {
		return img.Pix, err
	}
	return nil, err
}

// FuzzScreen decodes arbitrary sessions: no input may panic, use memory
// beyond the limits, or decode differently when its records are cut in
// two.
func FuzzScreen(f *testing.F) {
	for _, name := range captures {
		f.Add(fuzzRecords(rfbtest.Records(f, filepath.Join(fixtureDir, name))))
	}
	f.Add(fuzzRecords(websockifyRecords(f)))
	// Hand-built sessions with every encoding.
	img := newTestImage(1, rgb888LE, 20, 20, 6)
	var z zlibWriter
	hand := cat([]byte("RFB 003.008\n"), u8(1, 1), u32(0), u16(32, 32), pixelFormatBytes(rgb888LE), u32(1), []byte("x"),
		update(cat(rectHeader(0, 0, 20, 20, rfb.EncodingHextile), encodeHextile(rgb888LE, img)),
			cat(rectHeader(1, 1, 20, 20, rfb.EncodingZRLE), lengthPrefixed(z.compress(encodeZRLETiles(rgb888LE, img)))),
			cat(rectHeader(2, 2, 20, 20, rfb.EncodingTight), tightBasic(rgb888LE, img, 1, 1, &z, 0)),
			cat(rectHeader(0, 0, 20, 20, rfb.EncodingRRE), encodeRRE(rgb888LE, img, false))))
	f.Add(fuzzRecords([]format.Record{
		{Kind: format.KindMessage, Dir: format.TargetToClient, Payload: hand[:12]},
		{Kind: format.KindMessage, Dir: format.ClientToTarget, Payload: []byte("RFB 003.008\n\x01\x01")},
		{Kind: format.KindMessage, Dir: format.TargetToClient, Payload: hand[12:]},
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, err1 := fuzzDecode(data, false)
		halves, err2 := fuzzDecode(data, true)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("records cut in two: error %v, whole: %v", err2, err1)
		}
		if err1 == nil && !bytes.Equal(whole, halves) {
			t.Fatal("records cut in two decode to other pixels")
		}
	})
}

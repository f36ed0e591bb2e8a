package rfb

import (
	"slices"
	"testing"

	"github.com/wsproxy/wsproxy/format"
)

// BenchmarkDecoder measures decoding throughput on streams fed in 64 KiB
// records, websockify's read size.
func BenchmarkDecoder(b *testing.B) {
	var raw, hextile, pointer []byte
	for range 16 { // 16 full-screen 1920x1080 Raw updates
		raw = cat(raw, updateHeader(1), rectHeader(0, 0, 1920, 1080, EncodingRaw), zeros(1920*1080*4))
	}
	tile := cat(u8(2|8|16), zeros(4), u8(20), zeros(20*6))
	hextile = cat(updateHeader(1), rectHeader(0, 0, 1920, 1088, EncodingHextile))
	for range 120 * 68 {
		hextile = append(hextile, tile...)
	}
	for i := range 100000 {
		pointer = append(pointer, pointerEvent(Buttons(i&1), i%1920, i%1080)...)
	}
	var fixture []chunk
	for _, r := range readFixture(b, fixtureSession) {
		if r.Kind == format.KindMessage {
			fixture = append(fixture, chunk{r.Dir, r.Payload})
		}
	}
	for _, bm := range []struct {
		name   string
		chunks []chunk
	}{
		{"Raw", split(server(raw))},
		{"Hextile", split(server(hextile))},
		{"PointerEvents", split(client(pointer))},
		{"XvncSession", fixture},
	} {
		b.Run(bm.name, func(b *testing.B) {
			chunks := bm.chunks
			if bm.name != "XvncSession" {
				chunks = append(slices.Clone(handshake), chunks...)
			}
			var n int64
			for _, c := range chunks {
				n += int64(len(c.b))
			}
			b.SetBytes(n)
			b.ReportAllocs()
			emit := func(e Event) {
				if e.Kind == KindStop {
					b.Fatal(e)
				}
			}
			for b.Loop() {
				d := NewDecoder(DecoderOptions{})
				for _, c := range chunks {
					if err := d.Feed(c.dir, 0, c.b, emit); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// split cuts a chunk into 64 KiB records.
func split(c chunk) []chunk {
	var out []chunk
	for p := c.b; len(p) > 0; {
		n := min(len(p), 64<<10)
		out = append(out, chunk{c.dir, p[:n]})
		p = p[n:]
	}
	return out
}

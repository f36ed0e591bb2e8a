package rfb

import (
	"slices"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// fuzzRecords encodes records for FuzzDecoder: per record a byte whose low
// bit is the direction, a length byte, and that many payload bytes.
func fuzzRecords(chunks []chunk) []byte {
	var b []byte
	for _, c := range chunks {
		p := c.b
		for first := true; first || len(p) > 0; first = false {
			n := min(len(p), 255)
			b = append(b, byte(c.dir), byte(n))
			b = append(b, p[:n]...)
			p = p[n:]
		}
	}
	return b
}

func parseFuzzRecords(b []byte) []chunk {
	var chunks []chunk
	for len(b) >= 2 {
		n := min(int(b[1]), len(b)-2)
		chunks = append(chunks, chunk{format.Direction(b[0] & 1), b[2 : 2+n]})
		b = b[2+n:]
	}
	return chunks
}

func FuzzDecoder(f *testing.F) {
	for _, name := range []string{fixtureSession, fixtureAuthOK, fixtureAuthBad, fixtureRFB33} {
		var chunks []chunk
		for _, r := range readFixture(f, name) {
			if r.Kind == format.KindMessage {
				chunks = append(chunks, chunk{r.Dir, r.Payload})
			}
		}
		f.Add(fuzzRecords(chunks))
	}
	for _, tests := range [][]messageTest{clientTests, serverTests} {
		for _, tt := range tests {
			f.Add(fuzzRecords(append(slices.Clone(handshake), tt.chunks...)))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		chunks := parseFuzzRecords(data)
		opts := DecoderOptions{MaxText: 64, MaxBuffer: 1}
		whole := fuzzDecode(t, opts, chunks, false)
		halves := fuzzDecode(t, opts, chunks, true)
		if !equalEvents(whole, halves) {
			t.Fatalf("records cut in two decode differently:\n%v\n%v", summaries(whole), summaries(halves))
		}
		TypedText(whole)
	})
}

// fuzzDecode feeds chunks, each cut in two if split, checking the
// decoder's memory bounds, and returns the events.
func fuzzDecode(t *testing.T, opts DecoderOptions, chunks []chunk, split bool) []Event {
	d := NewDecoder(opts)
	var evs []Event
	feed := func(c chunk, at time.Duration) {
		got := feed(t, d, c.dir, at, c.b)
		for _, e := range got {
			limited := e.Kind == KindClientCutText || e.Kind == KindServerCutText || e.Kind == KindDesktopName ||
				e.Kind == KindServerInit || e.Kind == KindSecurityResult
			if limited && len(e.Text) > 3*opts.MaxText {
				t.Fatalf("%s: %d bytes of text", e.Kind, len(e.Text))
			}
			_ = e.String()
		}
		evs = append(evs, got...)
		if n := max(d.c.pending(), d.s.pending()); n > maxPeek {
			t.Fatalf("%d bytes held", n)
		}
	}
	for i, c := range chunks {
		at := time.Duration(i) * time.Millisecond
		if split {
			h := len(c.b) / 2
			feed(chunk{c.dir, c.b[:h]}, at)
			feed(chunk{c.dir, c.b[h:]}, at)
			continue
		}
		feed(c, at)
	}
	return append(evs, end(d, time.Hour)...)
}

package screen

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

// BenchmarkCapture decodes the longest real capture and reports how many
// times faster than real time it decodes (session duration / decode
// time).
func BenchmarkCapture(b *testing.B) {
	recs := rfbtest.Records(b, filepath.Join(fixtureDir, indexCapture))
	var bytes int64
	for _, r := range recs {
		bytes += int64(len(r.Payload))
	}
	session := recs[len(recs)-1].Time
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		s := New(Options{})
		for _, r := range recs {
			if err := s.Feed(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	if perOp > 0 {
		b.ReportMetric(float64(session)/float64(perOp), "x-realtime")
	}
}

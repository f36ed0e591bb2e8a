package screen_test

import (
	"fmt"
	"image/png"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
)

// Decode a recording to its last screen, with the cursor, as a PNG.
func Example() {
	r, err := format.Open("../../../testdata/rfb/xvnc-none-noVNC-like.wsrec", format.ReaderOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	s := screen.New(screen.Options{})
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if err := s.Feed(rec); err != nil {
			log.Fatal(err) // a *screen.DecodeError names the record and rectangle
		}
	}
	fmt.Println(s.Size(), s.Name(), s.Updates() > 0)
	if err := png.Encode(io.Discard, s.Snapshot(true)); err != nil {
		log.Fatal(err)
	}
	// Output: (400,300) wsproxy-test true
}

// Show the screen at a time through the recording's seek index, built
// and kept beside it on first use, then play on from there.
func ExampleIndex_SeekTo() {
	dir, _ := os.MkdirTemp("", "screen")
	defer os.RemoveAll(dir)
	rec := filepath.Join(dir, "session.wsrec")
	b, _ := os.ReadFile("../../../testdata/rfb/xvnc-none-noVNC-like.wsrec")
	os.WriteFile(rec, b, 0o644)

	x, err := screen.OpenIndex(rec, screen.IndexPath(rec), screen.IndexOptions{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := format.Open(rec, format.ReaderOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	s, err := x.SeekTo(r, 500*time.Millisecond)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("at", s.Time() <= 500*time.Millisecond, s.Size())
	// A viewer's tracker says what to send it after each record.
	viewer := s.Track()
	rec2, _ := r.Next()
	s.Feed(rec2)
	d := viewer.Take()
	fmt.Println("first take covers the screen:", d.Rect == s.Image().Rect)
	// Output:
	// at true (320,240)
	// first take covers the screen: true
}

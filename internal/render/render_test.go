package render

import (
	"image"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format/rfb"
)

func TestParseTime(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 25, 23, 50, 0, 500_000_000, time.UTC)
	tests := []struct {
		name   string
		in     string
		start  time.Time
		length time.Duration
		want   time.Duration
		err    string
	}{
		{name: "Offset", in: "12m30s", want: 750 * time.Second},
		{name: "OffsetNoStart", in: "1.5s", start: time.Time{}, want: 1500 * time.Millisecond},
		{name: "RFC3339", in: "2026-11-26T00:50:00.5+01:00", want: 0},
		{name: "TimeOfDay", in: "23:55:00.5", want: 5 * time.Minute},
		{name: "TimeOfDayMinutes", in: "23:51", want: 59500 * time.Millisecond},
		{name: "PastMidnight", in: "00:10:00.5", length: time.Hour, want: 20 * time.Minute},
		{name: "ErrBeforeStart", in: "00:10:00", length: 10 * time.Minute, err: "before the session's start"},
		{name: "ErrNegative", in: "-1s", err: "negative"},
		{name: "ErrGarbage", in: "soon", err: "not an offset"},
		{name: "ErrNoStart", in: "12:00:00", start: time.Time{}, err: "no start time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start
			if tt.name == "OffsetNoStart" || tt.name == "ErrNoStart" {
				s = tt.start
			}
			got, err := ParseTime(tt.in, s, tt.length)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestEveryAndSpread(t *testing.T) {
	t.Parallel()
	got, err := Every(time.Second, 3500*time.Millisecond, 10)
	if err != nil || len(got) != 4 || got[3] != 3*time.Second {
		t.Errorf("Every: got %v, %v", got, err)
	}
	if _, err := Every(time.Millisecond, time.Hour, 100); err == nil {
		t.Error("Every over the limit: got no error")
	}
	if _, err := Every(0, time.Hour, 100); err == nil {
		t.Error("Every(0): got no error")
	}
	if got := Spread(time.Second, 5*time.Second, 4); got[0] != 2*time.Second || got[3] != 5*time.Second {
		t.Errorf("Spread: got %v", got)
	}
}

func TestLabel(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		t     time.Duration
		start time.Time
		want  string
	}{
		{1500 * time.Millisecond, time.Time{}, "1.5s"},
		{12*time.Minute + 30*time.Second, start, "12:30.0 14:12:30Z"},
		{time.Hour + 2*time.Minute + 3400*time.Millisecond, time.Time{}, "1:02:03.4"},
	} {
		if got := Label(tt.t, tt.start); got != tt.want {
			t.Errorf("Label(%v): got %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	c := NewClock(FrameOptions{Speed: 2, IdleLimit: 3 * time.Second, From: 10 * time.Second})
	steps := []struct{ at, want time.Duration }{
		{10 * time.Second, 0},
		{12 * time.Second, time.Second},                     // 2 s at speed 2
		{22 * time.Second, 2500 * time.Millisecond},         // a 10 s gap cut to 3 s
		{22500 * time.Millisecond, 2750 * time.Millisecond}, // 0.5 s
		{22 * time.Second, 2750 * time.Millisecond},         // never back
	}
	for _, s := range steps {
		if got := c.Advance(s.at); got != s.want {
			t.Errorf("Advance(%v): got %v, want %v", s.at, got, s.want)
		}
	}
	for _, tt := range []struct{ session, video time.Duration }{
		{5 * time.Second, 0},
		{11 * time.Second, 500 * time.Millisecond},
		{13 * time.Second, 1500 * time.Millisecond}, // in the gap, before the cut
		{16 * time.Second, 2500 * time.Millisecond}, // in the cut: its end
		{22 * time.Second, 2500 * time.Millisecond},
		{22500 * time.Millisecond, 2750 * time.Millisecond},
	} {
		if got := c.Video(tt.session); got != tt.video {
			t.Errorf("Video(%v): got %v, want %v", tt.session, got, tt.video)
		}
	}
	for _, tt := range []struct{ video, session time.Duration }{
		{time.Second, 12 * time.Second},
		{2500 * time.Millisecond, 22 * time.Second}, // the end of the cut: the next record
		{2600 * time.Millisecond, 22200 * time.Millisecond},
	} {
		if got := c.Session(tt.video); got != tt.session {
			t.Errorf("Session(%v): got %v, want %v", tt.video, got, tt.session)
		}
	}
}

func TestWriteWebVTT(t *testing.T) {
	t.Parallel()
	c := NewClock(FrameOptions{})
	c.Advance(10 * time.Second)
	lines := []rfb.Line{
		{Time: time.Second, End: 1500 * time.Millisecond, Text: "ls <Tab> & -->", Return: true},
		{Time: 2 * time.Second, End: 2 * time.Second, Text: "x"},
		{Time: 9 * time.Second, End: 12 * time.Second, Text: "late"},
		{Time: 20 * time.Second, End: 21 * time.Second, Text: "after the end"},
	}
	var b strings.Builder
	n, err := WriteWebVTT(&b, lines, c, 10*time.Second)
	if err != nil || n != 3 {
		t.Fatalf("got %d cues, %v; want 3", n, err)
	}
	want := "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nls &lt;Tab&gt; &amp; --&gt;\n" +
		"\n00:00:02.000 --> 00:00:04.000\nx\n" +
		"\n00:00:09.000 --> 00:00:10.000\nlate\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestSheet(t *testing.T) {
	t.Parallel()
	src := image.NewRGBA(image.Rect(0, 0, 640, 400))
	for i := range src.Pix {
		src.Pix[i] = 0xff // white
	}
	th := Thumbnail(src, 160)
	if th.Rect.Size() != image.Pt(160, 100) {
		t.Fatalf("thumbnail of %v, want 160x100", th.Rect.Size())
	}
	thumbs := []Thumb{{Label: "0.5s", Image: th}, {Label: "1.0s", Image: th}, {Label: "1.5s"}}
	sheet := Sheet(thumbs, SheetOptions{Columns: 2, ThumbWidth: 160})
	pitchX, pitchY := 160+sheetGap, 100+sheetGap+labelHeight
	if want := image.Pt(sheetGap+2*pitchX, sheetGap+2*pitchY); sheet.Rect.Size() != want {
		t.Fatalf("sheet of %v, want %v", sheet.Rect.Size(), want)
	}
	white := color.RGBA{0xff, 0xff, 0xff, 0xff}
	for _, c := range []struct {
		x, y int
		want color.RGBA
	}{
		{sheetGap + 80, sheetGap + 50, white},                    // first thumbnail
		{sheetGap + pitchX + 80, sheetGap + 50, white},           // second
		{sheetGap + 80, sheetGap + pitchY + 50, sheetBackground}, // the third has no image
		{sheetGap / 2, sheetGap / 2, sheetBackground},            // margin
	} {
		if got := sheet.RGBAAt(c.x, c.y); got != c.want {
			t.Errorf("pixel %d,%d: got %v, want %v", c.x, c.y, got, c.want)
		}
	}
	// Each label is drawn: some pixel of its strip has the label colour.
	for i := range thumbs {
		x0, y0 := sheetGap+i%2*pitchX, sheetGap+i/2*pitchY+100
		found := false
		for y := y0; y < y0+labelHeight && !found; y++ {
			for x := x0; x < x0+40; x++ {
				if sheet.RGBAAt(x, y) == labelColour {
					found = true
					break
				}
			}
		}
		if !found {
			t.Errorf("label %d not drawn", i)
		}
	}
}

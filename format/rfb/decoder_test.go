package rfb

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// TestEventTimes checks that an event carries the time of the record that
// completed its message, even when the decoder held it back because the
// other direction had to be decoded first.
func TestEventTimes(t *testing.T) {
	t.Parallel()
	// A client that pipelines: its choice and ClientInit arrive (at 2s)
	// before the server's offer (at 3s), as they were sent.
	evs := decode(t, server(version("003.008")), client(version("003.008"), u8(1), u8(1)),
		server(u8(1, 1), u32(0), serverInit(8, 8, testFormat, "d")))
	var got []string
	for _, e := range evs {
		got = append(got, e.Time.String()+" "+side(e.Dir)+" "+string(e.Kind))
	}
	want := []string{"1s server version", "2s client version", "3s server security-types", "2s client security",
		"2s client client-init", "3s server security-result", "3s server server-init"}
	if !slices.Equal(got, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestOffsets(t *testing.T) {
	t.Parallel()
	evs := decode(t, append(slices.Clone(handshake), client(keyEvent(true, 'a'), keyEvent(false, 'a')),
		server(u8(2), updateHeader(1), rectHeader(0, 0, 1, 1, EncodingRaw)), server(zeros(4), u8(2)))...)
	var got []int64
	for _, e := range evs[handshakeEvents:] {
		got = append(got, e.Offset)
	}
	// The server stream: version 12, types 2, result 4, ServerInit 24+4.
	if want := []int64{14, 22, 46, 47, 67}; !slices.Equal(got, want) {
		t.Errorf("offsets %v, want %v", got, want)
	}
}

func TestMaxText(t *testing.T) {
	t.Parallel()
	d := NewDecoder(DecoderOptions{MaxText: 4})
	var evs []Event
	for _, c := range append(slices.Clone(handshake),
		client(cutText(msgClientCutText, "abcdefgh"), keyEvent(true, 'k')),
		client(extendedCutText(msgClientCutText, clipProvide|clipText, clipboardProvide("0123456789"))),
		server(updateHeader(1), rectHeader(0, 0, 0, 0, PseudoDesktopName), str32("long name"), u8(2))) {
		evs = append(evs, feed(t, d, c.dir, 0, c.b)...)
	}
	got := summaries(evs[handshakeEvents:])
	want := []string{`client client-cut-text "abcd" (truncated)`, "client key down k",
		"client client-cut-text extended provide text (truncated)", "server desktop-name long", "server update 1 rects 29 B: DesktopName 0,0 0x0 (13 B)",
		"server bell"}
	if !slices.Equal(got, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	// ServerInit's name was cut too: "desk" is exactly 4 bytes, so not.
	if evs[6].Truncated {
		t.Error("a 4-byte name truncated at 4")
	}
}

func TestMaxBuffer(t *testing.T) {
	t.Parallel()
	d := NewDecoder(DecoderOptions{MaxBuffer: 100}) // counts as maxPeek
	// The client's version arrives, then lots of client data, while the
	// server has not offered security types: the client must wait.
	feed(t, d, format.ClientToTarget, 0, version("003.008"))
	if evs := feed(t, d, format.ClientToTarget, time.Second, make([]byte, maxPeek)); len(evs) != 0 {
		t.Fatalf("got %v", summaries(evs))
	}
	evs := feed(t, d, format.ClientToTarget, time.Second, make([]byte, 1))
	if len(evs) != 1 || evs[0].Kind != KindStop || !strings.Contains(evs[0].Text, "262145 bytes buffered, over the limit of 262144") {
		t.Fatalf("got %v", summaries(evs))
	}
	if got := d.c.pending(); got != 0 {
		t.Errorf("%d bytes still held", got)
	}
	// The server goes on alone.
	evs = feed(t, d, format.TargetToClient, 2*time.Second, version("003.008"))
	if got := summaries(evs); !slices.Equal(got, []string{"server version 3.8"}) {
		t.Errorf("got %v", got)
	}
}

func TestLargeDataIsNotBuffered(t *testing.T) {
	t.Parallel()
	d := NewDecoder(DecoderOptions{})
	for _, c := range handshake {
		feed(t, d, c.dir, 0, c.b)
	}
	// A 4096x4096 Raw rectangle (64 MiB) arrives 1 MiB at a time.
	feed(t, d, format.TargetToClient, 0, cat(updateHeader(1), rectHeader(0, 0, 4096, 4096, EncodingRaw)))
	chunk := make([]byte, 1<<20)
	var evs []Event
	for range 64 {
		evs = append(evs, feed(t, d, format.TargetToClient, time.Second, chunk)...)
		if n := d.s.pending(); n != 0 {
			t.Fatalf("%d bytes held", n)
		}
	}
	if got := summaries(evs); !slices.Equal(got, []string{"server update 1 rects 64.0 MiB: Raw 0,0 4096x4096 (64.0 MiB)"}) {
		t.Errorf("got %v", got)
	}
}

func TestFeedRecord(t *testing.T) {
	t.Parallel()
	d := NewDecoder(DecoderOptions{})
	var evs []Event
	feed := func(r format.Record) {
		if err := d.FeedRecord(r, func(e Event) { evs = append(evs, e) }); err != nil {
			t.Fatal(err)
		}
	}
	feed(format.Record{Kind: format.KindOpen})
	feed(format.Record{Kind: format.KindMessage, Dir: format.TargetToClient, Time: time.Second, Payload: version("003.008")})
	feed(format.Record{Kind: format.KindMarker, Label: "hello"})
	feed(format.Record{Kind: format.KindGap, Time: 2 * time.Second, Gap: format.GapInfo{Records: 3}})
	feed(format.Record{Kind: format.KindMessage, Dir: format.ClientToTarget, Time: 3 * time.Second, Payload: version("003.008")})
	feed(format.Record{Kind: format.KindClose, Time: 4 * time.Second})
	want := []string{"server version 3.8", "client stop 3 records lost: decoding of the client stream stops",
		"server stop 3 records lost: decoding of the server stream stops"}
	if got := summaries(evs); !slices.Equal(got, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	if err := d.Feed(format.ClientToTarget, 0, nil, nil); !errors.Is(err, ErrEnded) {
		t.Errorf("Feed after the close record: %v, want ErrEnded", err)
	}
	if evs := end(d, 0); evs != nil {
		t.Errorf("second End: %v", evs)
	}
}

func TestFeedErrors(t *testing.T) {
	t.Parallel()
	d := NewDecoder(DecoderOptions{})
	if err := d.Feed(format.Direction(2), 0, []byte("x"), nil); !errors.Is(err, ErrDirection) {
		t.Errorf("got %v, want ErrDirection", err)
	}
	d.End(0, nil)
	if err := d.Feed(format.ClientToTarget, 0, nil, nil); !errors.Is(err, ErrEnded) {
		t.Errorf("got %v, want ErrEnded", err)
	}
}

func TestEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []chunk
		want   []string
	}{
		{"Clean", []chunk{client(keyEvent(true, 'a'))}, []string{"client key down a"}},
		{"MidUpdate", []chunk{server(updateHeader(2), rectHeader(0, 0, 1, 1, EncodingRaw), zeros(4))},
			[]string{"server stop the server stream ends inside a FramebufferUpdate, after 1 rectangles"}},
		{"MidPixels", []chunk{server(updateHeader(1), rectHeader(0, 0, 10, 10, EncodingRaw), zeros(4))},
			[]string{"server stop the server stream ends inside a FramebufferUpdate, after 1 rectangles"}},
		{"MidText", []chunk{client(cutText(msgClientCutText, "abcdef")[:10])},
			[]string{"client stop the client stream ends inside a message, 4 bytes short"}},
		{"MidMessage", []chunk{client(keyEvent(true, 'a')[:5])},
			[]string{"client stop the client stream ends inside a message, 5 bytes into it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := afterHandshake(t, tt.chunks...); !slices.Equal(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

package rfb

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/websockify"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

// readFixture returns the records of a wsrec fixture in testdata/rfb.
func readFixture(t testing.TB, name string) []format.Record {
	t.Helper()
	return rfbtest.Records(t, filepath.Join(fixtureDir, name))
}

func decodeRecords(t testing.TB, recs []format.Record) []Event {
	t.Helper()
	d := NewDecoder(DecoderOptions{})
	var evs []Event
	for _, rec := range recs {
		if err := d.FeedRecord(rec, func(e Event) { evs = append(evs, e) }); err != nil {
			t.Fatal(err)
		}
	}
	return append(evs, end(d, 0)...)
}

// checkClean fails the test if decoding stopped anywhere.
func checkClean(t *testing.T, evs []Event) {
	t.Helper()
	for _, e := range ofKind(evs, KindStop, KindEncrypted) {
		t.Errorf("unexpected %s", e)
	}
}

func TestXvncSession(t *testing.T) {
	t.Parallel()
	recs := readFixture(t, fixtureSession)
	evs := decodeRecords(t, recs)
	checkClean(t, evs)

	wantStart := []string{"server version 3.8", "client version 3.8", "server security-types None", "client security None",
		"server security-result ok", "client client-init shared",
		`server server-init 320x240 "wsproxy-test" 32bpp depth 24 little-endian true-colour r255<<16 g255<<8 b255<<0`}
	if got := summaries(evs[:len(wantStart)]); !slices.Equal(got, wantStart) {
		t.Errorf("handshake:\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(wantStart, "\n\t"))
	}

	var lines []string
	for _, l := range TypedText(evs) {
		if !l.Return {
			t.Errorf("line %q not ended by Return", l.Text)
		}
		lines = append(lines, l.Text)
	}
	if !slices.Equal(lines, captureLines) {
		t.Errorf("typed %q, want %q", lines, captureLines)
	}

	var clicks [][3]int
	for _, e := range ofKind(evs, KindPointer) {
		if e.Pressed != 0 {
			clicks = append(clicks, [3]int{e.X, e.Y, int(e.Pressed)})
		}
	}
	if !slices.Equal(clicks, captureClicks) {
		t.Errorf("clicks %v, want %v", clicks, captureClicks)
	}

	var fromClient, fromServer []string
	for _, e := range ofKind(evs, KindClientCutText, KindServerCutText) {
		if e.Text == "" {
			continue
		}
		if e.Kind == KindClientCutText {
			fromClient = append(fromClient, e.Text)
		} else {
			fromServer = append(fromServer, e.Text)
		}
	}
	if want := []string{captureCutText, captureExtendedText}; !slices.Equal(fromClient, want) {
		t.Errorf("client clipboard %q, want %q", fromClient, want)
	}
	if want := []string{captureSelection}; !slices.Equal(fromServer, want) {
		t.Errorf("server clipboard %q, want %q", fromServer, want)
	}

	resized := slices.ContainsFunc(evs, func(e Event) bool {
		return e.Kind == KindResize && e.Width == captureResize[0] && e.Height == captureResize[1] && e.Reason == 1 && e.Status == 0
	})
	if !resized {
		t.Errorf("no resize to %v requested by the client", captureResize)
	}
	if len(ofKind(evs, KindBell)) == 0 {
		t.Error("no bell")
	}

	seen := map[Encoding]bool{}
	for _, e := range ofKind(evs, KindUpdate) {
		for _, r := range e.Rects {
			seen[r.Encoding] = true
		}
	}
	for _, enc := range append(slices.Clone(captureSweep), EncodingCopyRect, PseudoLastRect, PseudoVMwareCursor,
		PseudoExtendedDesktopSize, PseudoQEMUExtendedKey, PseudoQEMULEDState) {
		if !seen[enc] {
			t.Errorf("no %s rectangle", enc)
		}
	}

	s := NewDecoder(DecoderOptions{})
	for _, rec := range recs {
		s.FeedRecord(rec, nil)
	}
	ses := s.Session()
	if ses.Name != captureDesktop || ses.Width != captureResize[0] || ses.Height != captureResize[1] || ses.Auth != "ok" ||
		ses.ClientPixelFormat == nil || *ses.ClientPixelFormat != noVNCFormat {
		t.Errorf("session %+v", ses)
	}
}

// TestXvncRechunked decodes the real session cut into records differently:
// each record halved, and consecutive records of one direction merged.
func TestXvncRechunked(t *testing.T) {
	t.Parallel()
	recs := readFixture(t, fixtureSession)
	want := decodeRecords(t, recs)

	var halved []format.Record
	for _, r := range recs {
		if r.Kind == format.KindMessage && len(r.Payload) > 1 {
			a, b := r, r
			a.Payload, b.Payload = r.Payload[:len(r.Payload)/2], r.Payload[len(r.Payload)/2:]
			halved = append(halved, a, b)
			continue
		}
		halved = append(halved, r)
	}
	if got := decodeRecords(t, halved); !equalEvents(got, want) {
		t.Errorf("halved records decode differently")
	}

	var merged []format.Record
	for _, r := range recs {
		if n := len(merged); n > 0 && r.Kind == format.KindMessage && merged[n-1].Kind == format.KindMessage && merged[n-1].Dir == r.Dir {
			merged[n-1].Payload = append(slices.Clone(merged[n-1].Payload), r.Payload...)
			merged[n-1].Time = r.Time
			continue
		}
		merged = append(merged, r)
	}
	got := decodeRecords(t, merged)
	if !slices.EqualFunc(got, want, func(a, b Event) bool { return a.Summary() == b.Summary() && a.Offset == b.Offset }) {
		t.Errorf("merged records decode differently")
	}
}

func TestXvncVNCAuth(t *testing.T) {
	t.Parallel()
	evs := decodeRecords(t, readFixture(t, fixtureAuthOK))
	checkClean(t, evs)
	want := []string{"server version 3.8", "client version 3.8", "server security-types VNCAuth", "client security VNCAuth",
		"server auth VNC authentication challenge", "client auth VNC authentication response", "server security-result ok",
		"client client-init shared"}
	if got := summaries(evs[:len(want)]); !slices.Equal(got, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	if lines := TypedText(evs); len(lines) != 1 || lines[0].Text != "x" {
		t.Errorf("typed %v, want x", lines)
	}
}

func TestXvncWrongPassword(t *testing.T) {
	t.Parallel()
	evs := decodeRecords(t, readFixture(t, fixtureAuthBad))
	want := []string{"server version 3.8", "client version 3.8", "server security-types VNCAuth", "client security VNCAuth",
		"server auth VNC authentication challenge", "client auth VNC authentication response",
		`server security-result failed "Authentication failure"`}
	if got := summaries(evs); !slices.Equal(got, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestXvncRFB33(t *testing.T) {
	t.Parallel()
	evs := decodeRecords(t, readFixture(t, fixtureRFB33))
	checkClean(t, evs)
	want := []string{"server version 3.3", "client version 3.3", "server security None (decided by the server)",
		"client client-init shared"}
	if got := summaries(evs[:len(want)]); !slices.Equal(got, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	u := ofKind(evs, KindUpdate)
	if len(u) == 0 || !hasRect(u[0], EncodingHextile) {
		t.Errorf("updates %v, want Hextile", summaries(u))
	}
}

// TestWebsockifySession decodes the client side of a session recorded
// through Debian's websockify in front of Xvnc (testdata/recordings): 8-bit
// Raw, then ZRLE, keys, clicks and a ClientCutText.
func TestWebsockifySession(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../testdata/recordings/websockify-vnc-session.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := websockify.NewReader(f, websockify.ReaderOptions{})
	d := NewDecoder(DecoderOptions{})
	var evs []Event
	for {
		fr, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dir := format.TargetToClient
		if fr.FromClient {
			dir = format.ClientToTarget
		}
		evs = append(evs, feed(t, d, dir, fr.Time, fr.Data)...)
	}
	evs = append(evs, end(d, 0)...)
	checkClean(t, evs)

	var lines []string
	for _, l := range TypedText(evs) {
		lines = append(lines, l.Text)
	}
	if want := []string{`'\"`, "a"}; !slices.Equal(lines, want) {
		t.Errorf("typed %q, want %q", lines, want)
	}
	var clicks []string
	for _, e := range ofKind(evs, KindPointer) {
		if e.Pressed != 0 || e.Released != 0 {
			clicks = append(clicks, e.Summary())
		}
	}
	if want := []string{"pointer 127,92 press left", "pointer 255,15 release left"}; !slices.Equal(clicks, want) {
		t.Errorf("clicks %q, want %q", clicks, want)
	}
	cut := ofKind(evs, KindClientCutText)
	if want := "it's \"quoted\" \\ back\\slash\n\ttab\r\x00\x7f\u0080ÿ"; len(cut) != 1 || cut[0].Text != want {
		t.Errorf("clipboard %v, want %q", summaries(cut), want)
	}
	u := ofKind(evs, KindUpdate)
	if len(u) != 3 || !hasRect(u[0], EncodingRaw) || !hasRect(u[1], EncodingZRLE) {
		t.Errorf("updates\n\t%s", strings.Join(summaries(u), "\n\t"))
	}
}

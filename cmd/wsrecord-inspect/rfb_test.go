package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb"
)

// rfbFixtures holds the RFB sessions that format/rfb keeps: real Xvnc
// sessions (testdata/rfb/README.md says what each holds).
const rfbFixtures = "../../testdata/rfb"

// xvncSession is the richest of them: typed lines, clicks, clipboard both
// ways, a resize and every common encoding.
const xvncSession = "xvnc-none-noVNC-like.wsrec"

// makeRFBFixtures writes, under dir/rfb, the damaged and encrypted RFB
// sessions of the golden cases:
//
//	xvnc-truncated.wsrec    xvncSession in 2 KiB chunks, cut in the middle
//	                        of the chunk after the line "hello World"
//	xvnc-tampered.wsrec     the same, sealed, with a byte of that chunk flipped
//	websockify-cut.txt      websockify-vnc-session.txt cut after the pointer
//	                        events, mid-frame
//	vencrypt-x509.wsrec     a VeNCrypt session that chose X509Vnc: TLS follows
func makeRFBFixtures(dir string) error {
	dir = filepath.Join(dir, "rfb")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	h, recs, err := readWSRec(filepath.Join(rfbFixtures, xvncSession))
	if err != nil {
		return err
	}
	sealed, ends, err := rewrite(h, recs, 2048)
	if err != nil {
		return err
	}
	// The first chunk to end after the first line typed.
	k := slices.IndexFunc(ends, func(e chunkEnd) bool { return e.time > 1250*time.Millisecond })
	if k < 0 || k+1 >= len(ends) {
		return errors.New("rfb fixtures: no chunk after 1.25s")
	}
	mid := (ends[k].offset + ends[k+1].offset) / 2
	tampered := bytes.Clone(sealed)
	tampered[mid] ^= 0x01

	ws, err := os.ReadFile(filepath.Join(recordings, "websockify-vnc-session.txt"))
	if err != nil {
		return err
	}
	// The frame of the ClientCutText, the first after the pointer events,
	// cut after its first bytes.
	cut := bytes.Index(ws, []byte("'}600}"))
	if cut < 0 {
		return errors.New("rfb fixtures: no frame at 600 ms in the websockify recording")
	}

	vencrypt, err := vencryptSession()
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{
		"xvnc-truncated.wsrec": sealed[:mid],
		"xvnc-tampered.wsrec":  tampered,
		"websockify-cut.txt":   ws[:cut+20],
		"vencrypt-x509.wsrec":  vencrypt,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readWSRec reads a wsrec file whole, for TestMain (readRecords is for
// tests).
func readWSRec(name string) (format.Header, []format.Record, error) {
	r, err := format.Open(name, format.ReaderOptions{})
	if err != nil {
		return format.Header{}, nil, err
	}
	defer r.Close()
	var recs []format.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return r.Header(), recs, nil
		}
		if err != nil {
			return format.Header{}, nil, err
		}
		rec.Payload = bytes.Clone(rec.Payload)
		recs = append(recs, rec)
	}
}

// chunkEnd is where a chunk of a recording ends, and the time of the last
// record written before.
type chunkEnd struct {
	offset int
	time   time.Duration
}

// rewrite writes recs as a sealed recording with header h in chunks of
// chunkSize, and returns it with where its chunks end.
func rewrite(h format.Header, recs []format.Record, chunkSize int) ([]byte, []chunkEnd, error) {
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, h, format.WriterOptions{ChunkSize: chunkSize, FlushInterval: -1})
	if err != nil {
		return nil, nil, err
	}
	var ends []chunkEnd
	size := buf.Len()
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			return nil, nil, err
		}
		if buf.Len() != size {
			size = buf.Len()
			ends = append(ends, chunkEnd{size, rec.Time})
		}
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), ends, nil
}

// vencryptSession is a recorded session whose client chose VeNCrypt's
// X509Vnc: after the choice, both sides talk TLS.
func vencryptSession() ([]byte, error) {
	id, err := format.ParseSessionID("ec0ec0ec0ec0ec0ec0ec0ec0ec0ec0ec")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, format.Header{SessionID: id, Start: testNow.Add(-time.Hour), Meta: map[string]string{
		format.MetaTarget: "vnc-tls.example:5900",
	}}, format.WriterOptions{FlushInterval: -1})
	if err != nil {
		return nil, err
	}
	u32 := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		return b
	}
	const client, server = format.ClientToTarget, format.TargetToClient
	tlsRecord := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
	steps := []struct {
		dir format.Direction
		p   []byte
	}{
		{server, []byte("RFB 003.008\n")},
		{client, []byte("RFB 003.008\n")},
		{server, []byte{2, 19, 2}}, // VeNCrypt, VNCAuth
		{client, []byte{19}},       // VeNCrypt
		{server, []byte{0, 2}},     // VeNCrypt version 0.2
		{client, []byte{0, 2}},     //
		{server, []byte{0, 2}},     // version accepted, 2 subtypes:
		{server, u32(261, 258)},    // X509Vnc, TLSVnc
		{client, u32(261)},         // X509Vnc
		{server, []byte{1}},        // accepted: TLS from here on
		{client, tlsRecord},        // ClientHello
		{server, bytes.Repeat(tlsRecord, 40)},
		{client, bytes.Repeat([]byte{0x17, 0x03, 0x03, 0, 4, 1, 2, 3, 4}, 30)},
	}
	if err := w.Write(format.Record{Kind: format.KindOpen}); err != nil {
		return nil, err
	}
	t := time.Duration(0)
	for _, s := range steps {
		t += 3 * time.Millisecond
		if err := w.WriteMessage(t, s.dir, format.Binary, s.p); err != nil {
			return nil, err
		}
	}
	if err := w.Write(format.Record{Kind: format.KindClose, Time: t + time.Second, Close: format.CloseInfo{By: format.ClosedByClient, Code: 1000}}); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TestRFBJSON checks that rfb --json writes the session, then events that
// format/rfb reads back, and keys --json lines of rfb.Line.
func TestRFBJSON(t *testing.T) {
	t.Parallel()
	name := filepath.Join(rfbFixtures, xvncSession)
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"rfb", "--json", "--all", name}, &stdout, &stderr); err != nil {
		t.Fatalf("rfb --json: %v\n%s", err, &stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	var ses struct {
		Kind string `json:"kind"`
		rfb.Session
	}
	if err := json.Unmarshal([]byte(lines[0]), &ses); err != nil || ses.Kind != "session" || ses.Name != "wsproxy-test" || ses.Width != 320 {
		t.Fatalf("first line %s: %+v, %v; want the session", lines[0], ses, err)
	}
	var evs []rfb.Event
	for _, l := range lines[1:] {
		var e rfb.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %s: %v", l, err)
		}
		evs = append(evs, e)
	}
	// --all: every event, as the decoder emits them.
	_, recs := readRecords(t, name)
	d := rfb.NewDecoder(rfb.DecoderOptions{})
	var want []rfb.Event
	for _, rec := range recs {
		if err := d.FeedRecord(rec, func(e rfb.Event) { want = append(want, e) }); err != nil {
			t.Fatal(err)
		}
	}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d", len(evs), len(want))
	}
	for i := range want {
		if got, want := evs[i].String(), want[i].String(); got != want {
			t.Errorf("event %d: got %s, want %s", i, got, want)
		}
	}

	stdout.Reset()
	if err := run(t.Context(), []string{"keys", "--json", name}, &stdout, &stderr); err != nil {
		t.Fatalf("keys --json: %v\n%s", err, &stderr)
	}
	var got []string
	dec := json.NewDecoder(&stdout)
	for {
		var l rfb.Line
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Text)
	}
	var texts []string
	for _, l := range rfb.TypedText(want) {
		texts = append(texts, l.Text)
	}
	if !slices.Equal(got, texts) {
		t.Errorf("keys --json: got %q, want %q", got, texts)
	}
}

// TestRFBExitCodes checks the exit statuses of rfb and keys.
func TestRFBExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want int
	}{
		{"OK", filepath.Join(rfbFixtures, xvncSession), cli.ExitOK},
		{"Websockify", filepath.Join(recordings, "websockify-vnc-session.txt"), cli.ExitOK},
		{"Encrypted", filepath.Join(fix, "rfb", "vencrypt-x509.wsrec"), cli.ExitOK},
		{"AuthFailed", filepath.Join(rfbFixtures, "xvnc-vncauth-wrong-password.wsrec"), cli.ExitOK},
		{"ErrTruncated", filepath.Join(fix, "rfb", "xvnc-truncated.wsrec"), exitDamaged},
		{"ErrTampered", filepath.Join(fix, "rfb", "xvnc-tampered.wsrec"), exitDamaged},
		{"ErrWebsockifyCut", filepath.Join(fix, "rfb", "websockify-cut.txt"), exitDamaged},
		{"ErrNotRFB", filepath.Join(recordings, "sealed-small.wsrec"), cli.ExitFailure},
		{"ErrEmpty", filepath.Join(recordings, "sealed-empty.wsrec"), cli.ExitFailure},
		{"ErrNotARecording", filepath.Join(recordings, "websockify-vnc-session.client.json"), exitUnreadable},
		{"ErrMissing", filepath.Join(recordings, "missing.wsrec"), exitUnreadable},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"rfb", "keys"} {
			t.Run(cmd+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				var stdout, stderr bytes.Buffer
				err := run(t.Context(), []string{cmd, tt.file}, &stdout, &stderr)
				if got := cli.ExitCode(err); got != tt.want {
					t.Errorf("got exit code %d (%v), want %d", got, err, tt.want)
				}
				if tt.want == exitDamaged && stdout.Len() == 0 {
					t.Error("nothing printed before the damage")
				}
			})
		}
	}
}

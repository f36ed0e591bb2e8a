package rfbfile_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/format/rfb/rfbfile"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// xvncSession is a real session of noVNC-like client with Xvnc: see
// testdata/rfb/README.md.
const xvncSession = "../../../testdata/rfb/xvnc-none-noVNC-like.wsrec"

const recordings = "../../../testdata/recordings"

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// write writes recs as a wsrec recording in chunks of about 2 KiB, sealed
// or not, and returns it with the offsets where its chunks end.
func write(t testing.TB, recs []format.Record, seal bool) ([]byte, []int) {
	t.Helper()
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, format.Header{}, format.WriterOptions{FlushInterval: -1, ChunkSize: 2048})
	if err != nil {
		t.Fatal(err)
	}
	var ends []int
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if n := buf.Len(); len(ends) == 0 || n > ends[len(ends)-1] {
			ends = append(ends, n)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	ends = append(ends, buf.Len())
	if seal {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes(), ends
}

// decodeAll decodes recs with an rfb.Decoder, as Decode should.
func decodeAll(recs []format.Record) []rfb.Event {
	d := rfb.NewDecoder(rfb.DecoderOptions{})
	var evs []rfb.Event
	emit := func(e rfb.Event) { evs = append(evs, e) }
	var last time.Duration
	for _, rec := range recs {
		d.FeedRecord(rec, emit)
		last = rec.Time
	}
	d.End(last, emit)
	return evs
}

func open(t testing.TB, b []byte) *recfile.File {
	t.Helper()
	f, err := recfile.New(bytes.NewReader(b), int64(len(b)), recfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

type decoded struct {
	events     []rfb.Event
	res        rfbfile.Result
	err        error
	incomplete int // events emitted before OnIncomplete, -1 if not called
}

func decode(t testing.TB, ctx context.Context, b []byte, to time.Duration) decoded {
	t.Helper()
	d := decoded{incomplete: -1}
	opts := rfbfile.Options{To: to, OnIncomplete: func(*recfile.IncompleteError) { d.incomplete = len(d.events) }}
	d.res, d.err = rfbfile.Decode(ctx, open(t, b), opts, func(e rfb.Event, ses func() rfb.Session) {
		if e.Kind == rfb.KindServerInit && ses().Width == 0 {
			t.Errorf("the session at the ServerInit has no size")
		}
		d.events = append(d.events, e)
	})
	return d
}

func kinds(evs []rfb.Event) []rfb.Kind {
	var ks []rfb.Kind
	for _, e := range evs {
		ks = append(ks, e.Kind)
	}
	return ks
}

func TestDecode(t *testing.T) {
	t.Parallel()
	sealed := readFile(t, xvncSession)
	recs := rfbtest.RecordsOf(t, sealed)
	all := decodeAll(recs)
	if len(all) < 100 || slices.Contains(kinds(all), rfb.KindStop) {
		t.Fatalf("the fixture decodes to %d events, %v", len(all), kinds(all))
	}
	rechunked, ends := write(t, recs, true)
	unsealed, _ := write(t, recs, false)
	// Cut inside the middle chunk, and the same chunk with a bit flipped.
	mid := len(ends) / 2
	cut := (ends[mid-1] + ends[mid]) / 2
	flipped := bytes.Clone(rechunked)
	flipped[cut] ^= 1

	tests := []struct {
		name       string
		data       []byte
		to         time.Duration
		wantEvents func([]rfb.Event) bool
		status     recfile.Status // of the error, Sealed for none
		incomplete bool
	}{
		{"Sealed", sealed, 0, func(evs []rfb.Event) bool { return slices.EqualFunc(evs, all, sameEvent) }, recfile.Sealed, false},
		{"Rechunked", rechunked, 0, func(evs []rfb.Event) bool { return slices.EqualFunc(evs, all, sameEvent) }, recfile.Sealed, false},
		{"Unsealed", unsealed, 0, func(evs []rfb.Event) bool { return slices.EqualFunc(evs, all, sameEvent) }, recfile.Sealed, true},
		{"To", sealed, 1250 * time.Millisecond, func(evs []rfb.Event) bool {
			return len(evs) > 10 && len(evs) < len(all) && slices.EqualFunc(evs, all[:len(evs)], sameEvent) && evs[len(evs)-1].Time < 1250*time.Millisecond
		}, recfile.Sealed, false},
		{"Truncated", rechunked[:cut], 0, func(evs []rfb.Event) bool {
			return len(evs) > 10 && len(evs) < len(all) && slices.EqualFunc(evs, all[:len(evs)], sameEvent)
		}, recfile.Truncated, false},
		{"Damaged", flipped, 0, func(evs []rfb.Event) bool {
			return len(evs) > 10 && len(evs) < len(all) && slices.EqualFunc(evs, all[:len(evs)], sameEvent)
		}, recfile.Damaged, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := decode(t, t.Context(), tt.data, tt.to)
			if got := recfile.StatusOf(recfile.WSRec, d.err); got != tt.status {
				t.Fatalf("got error %v (%v), want %v", d.err, got, tt.status)
			}
			if !tt.wantEvents(d.events) {
				t.Errorf("got %d events (of %d), not those wanted", len(d.events), len(all))
			}
			if d.res.Session.ServerVersion == "" || d.res.Session.Width == 0 || d.res.Encrypted {
				t.Errorf("got session %+v, encrypted %v", d.res.Session, d.res.Encrypted)
			}
			if (d.res.Incomplete != nil) != tt.incomplete || (d.incomplete >= 0) != tt.incomplete {
				t.Errorf("got Incomplete %v, OnIncomplete after %d events; want it: %v", d.res.Incomplete, d.incomplete, tt.incomplete)
			}
			if tt.incomplete && d.incomplete != len(d.events) {
				t.Errorf("OnIncomplete after %d events, want after the %d", d.incomplete, len(d.events))
			}
		})
	}
}

// TestDecodeOrder checks that OnIncomplete comes before the events that
// ending the decoder emits: here a KindStop for a message cut off.
func TestDecodeOrder(t *testing.T) {
	t.Parallel()
	recs := rfbtest.RecordsOf(t, readFile(t, xvncSession))
	// The first framebuffer update's message, cut after 10 bytes.
	i := slices.IndexFunc(recs, func(r format.Record) bool {
		return r.Kind == format.KindMessage && r.Dir == format.TargetToClient && len(r.Payload) > 100 && r.Payload[0] == 0
	})
	if i < 0 {
		t.Fatal("no framebuffer update in the fixture")
	}
	cut := slices.Clone(recs[:i+1])
	cut[i].Payload = cut[i].Payload[:10]
	unsealed, _ := write(t, cut, false)
	d := decode(t, t.Context(), unsealed, 0)
	if d.err != nil || d.incomplete < 0 {
		t.Fatalf("got %v, OnIncomplete at %d", d.err, d.incomplete)
	}
	after := kinds(d.events[d.incomplete:])
	if !slices.Equal(after, []rfb.Kind{rfb.KindStop}) {
		t.Errorf("after OnIncomplete: got %v, want [stop]", after)
	}
}

func TestDecodeNotRFB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string
		reason string
	}{
		{"Stream", "sealed-small.wsrec", "not an RFB stream (starts "},
		{"Empty", "sealed-empty.wsrec", "no RFB protocol version in the recording"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := decode(t, t.Context(), readFile(t, filepath.Join(recordings, tt.file)), 0)
			nr, ok := errors.AsType[*rfbfile.NotRFBError](d.err)
			if !ok || !errors.Is(d.err, rfbfile.ErrNotRFB) || !strings.HasPrefix(nr.Reason, tt.reason) {
				t.Fatalf("got %v, want a *NotRFBError: %s...", d.err, tt.reason)
			}
			if nr.Error() != "rfbfile: not an RFB session: "+nr.Reason {
				t.Errorf("got message %q", nr.Error())
			}
			if len(d.events) != 0 {
				t.Errorf("got events %v, want none", kinds(d.events))
			}
		})
	}
}

func TestDecodeEncrypted(t *testing.T) {
	t.Parallel()
	const client, server = format.ClientToTarget, format.TargetToClient
	msg := func(ms int, dir format.Direction, p string) format.Record {
		return format.Record{Kind: format.KindMessage, Time: time.Duration(ms) * time.Millisecond, Dir: dir, Payload: []byte(p)}
	}
	recs := []format.Record{
		msg(1, server, "RFB 003.008\n"),
		msg(2, client, "RFB 003.008\n"),
		msg(3, server, "\x01\x12"), // one security type: TLS
		msg(4, client, "\x12"),     // TLS
		msg(5, client, "\x16\x03\x01\x02\x00"),
		msg(6, server, "\x16\x03\x03\x00\x40"),
	}
	b, _ := write(t, recs, true)
	d := decode(t, t.Context(), b, 0)
	if d.err != nil || !d.res.Encrypted || !d.res.Session.Encrypted {
		t.Fatalf("got %v, encrypted %v, session %+v; want encrypted", d.err, d.res.Encrypted, d.res.Session)
	}
	if k := kinds(d.events); len(k) == 0 || k[len(k)-1] != rfb.KindEncrypted {
		t.Errorf("got events %v, want them to end with encrypted", k)
	}
}

func TestDecodeCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	d := decode(t, ctx, readFile(t, xvncSession), 0)
	if !errors.Is(d.err, context.Canceled) || len(d.events) != 0 {
		t.Errorf("got %v after %d events, want context.Canceled", d.err, len(d.events))
	}
}

// sameEvent compares the fields of events that tests tell apart.
func sameEvent(a, b rfb.Event) bool {
	return a.Kind == b.Kind && a.Time == b.Time && a.Dir == b.Dir && a.Summary() == b.Summary()
}

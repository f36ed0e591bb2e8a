package traffic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/traffic"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const fixtures = "../../testdata/recordings"

func open(t *testing.T, b []byte) *recfile.File {
	t.Helper()
	f, err := recfile.New(bytes.NewReader(b), int64(len(b)), recfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		file     string
		slots    int
		duration time.Duration
		slot     time.Duration
		records  uint64
		client   traffic.Direction // but Classes
		target   traffic.Direction
		status   recfile.Status // of the error returned
	}{
		{
			name: "Sealed", file: "sealed-small.wsrec", slots: 10,
			duration: 54920972, slot: 10 * time.Millisecond, records: 40,
			client: traffic.Direction{Messages: 18, Bytes: 3015, MinSize: 16, MaxSize: 295, MeanSize: 167.5,
				Throughput: []uint64{285, 953, 190, 335, 874, 378},
				Sizes:      []traffic.SizeCount{{16, 31, 1}, {64, 127, 4}, {128, 255, 11}, {256, 511, 2}}},
			target: traffic.Direction{Messages: 18, Bytes: 2408, MinSize: 18, MaxSize: 261, MeanSize: 2408.0 / 18,
				Throughput: []uint64{627, 0, 349, 890, 363, 179},
				Sizes:      []traffic.SizeCount{{16, 31, 1}, {32, 63, 1}, {64, 127, 7}, {128, 255, 8}, {256, 511, 1}}},
			status: recfile.Sealed,
		},
		{
			name: "Empty", file: "sealed-empty.wsrec",
			slot: time.Millisecond, records: 0,
			client: traffic.Direction{Throughput: []uint64{0}, Sizes: []traffic.SizeCount{}},
			target: traffic.Direction{Throughput: []uint64{0}, Sizes: []traffic.SizeCount{}},
			status: recfile.Sealed,
		},
		{
			// Its index gives the duration of the chunks before the cut.
			name: "Truncated", file: "truncated-mid-chunk.wsrec", slots: 4,
			duration: 31722964, slot: 10 * time.Millisecond, records: 19,
			client: traffic.Direction{Messages: 10, Bytes: 1428, MinSize: 16, MaxSize: 263, MeanSize: 142.8},
			target: traffic.Direction{Messages: 8, Bytes: 1255},
			status: recfile.Truncated,
		},
		{
			// Read twice: once for the duration, once to count.
			name: "Websockify", file: "websockify-vnc-session.txt", slots: 30,
			duration: 1402 * time.Millisecond, slot: 50 * time.Millisecond, records: 35,
			client: traffic.Direction{Messages: 27, Bytes: 258, MinSize: 1, MaxSize: 44, MeanSize: 258.0 / 27,
				Throughput: []uint64{52, 0, 0, 0, 0, 0, 0, 30, 40, 38, 12, 12, 44, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10}},
			target: traffic.Direction{Messages: 8, Bytes: 77280},
			status: recfile.Complete,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := open(t, fixture(t, tt.file))
			s, err := traffic.Read(t.Context(), f, traffic.Options{Slots: tt.slots})
			if s == nil {
				t.Fatalf("no Stats; error %v", err)
			}
			if got := recfile.StatusOf(f.Format(), err); got != tt.status {
				t.Errorf("got error %v (%v), want %v", err, got, tt.status)
			}
			if s.Duration != tt.duration || s.Slot != tt.slot || s.Records != tt.records {
				t.Errorf("got duration %v, slot %v, %d records; want %v, %v, %d", s.Duration, s.Slot, s.Records, tt.duration, tt.slot, tt.records)
			}
			for _, d := range []struct {
				name      string
				got, want traffic.Direction
			}{{"client", s.Client, tt.client}, {"target", s.Target, tt.target}} {
				got, want := d.got, d.want
				if got.Messages != want.Messages || got.Bytes != want.Bytes {
					t.Errorf("%s: got %d messages, %d bytes; want %d, %d", d.name, got.Messages, got.Bytes, want.Messages, want.Bytes)
				}
				if want.MaxSize > 0 && (got.MinSize != want.MinSize || got.MaxSize != want.MaxSize || got.MeanSize != want.MeanSize) {
					t.Errorf("%s: got sizes %d, %d, %v; want %d, %d, %v", d.name, got.MinSize, got.MaxSize, got.MeanSize, want.MinSize, want.MaxSize, want.MeanSize)
				}
				if want.Throughput != nil && !slices.Equal(got.Throughput, want.Throughput) {
					t.Errorf("%s: got throughput %v, want %v", d.name, got.Throughput, want.Throughput)
				}
				if len(got.Throughput) != int(s.Duration/s.Slot)+1 {
					t.Errorf("%s: got %d slots for %v in slots of %v", d.name, len(got.Throughput), s.Duration, s.Slot)
				}
				if want.Sizes != nil && !slices.Equal(got.Sizes, want.Sizes) {
					t.Errorf("%s: got sizes %v, want %v", d.name, got.Sizes, want.Sizes)
				}
				var sum, inSizes uint64
				for _, n := range got.Throughput {
					sum += n
				}
				for _, c := range got.Sizes {
					inSizes += c.Count
					if got.Classes[traffic.SizeClass(int(c.Min))] != c.Count {
						t.Errorf("%s: class of %d: got %d in Classes, %d in Sizes", d.name, c.Min, got.Classes[traffic.SizeClass(int(c.Min))], c.Count)
					}
				}
				if sum != got.Bytes || inSizes != got.Messages {
					t.Errorf("%s: throughput adds up to %d bytes, sizes to %d messages; want %d, %d", d.name, sum, inSizes, got.Bytes, got.Messages)
				}
			}
		})
	}
}

func TestReadJSON(t *testing.T) {
	t.Parallel()
	s, err := traffic.Read(t.Context(), open(t, fixture(t, "sealed-empty.wsrec")), traffic.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"duration_ns":0,"slot_ns":1000000,"records":0,` +
		`"client":{"messages":0,"bytes":0,"min_size":0,"max_size":0,"mean_size":0,"throughput":[0],"sizes":[]},` +
		`"target":{"messages":0,"bytes":0,"min_size":0,"max_size":0,"mean_size":0,"throughput":[0],"sizes":[]}}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	sealed := fixture(t, "sealed-small.wsrec")
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		slots int
		want  error // nil: any error
	}{
		{"ErrSlotsNegative", t.Context(), -1, nil},
		{"ErrSlotsOverMax", t.Context(), traffic.MaxSlots + 1, nil},
		{"Canceled", canceled, 0, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := traffic.Read(tt.ctx, open(t, sealed), traffic.Options{Slots: tt.slots})
			if s != nil || err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("got %v, %v; want no Stats and an error (%v)", s, err, tt.want)
			}
		})
	}
	t.Run("Damaged", func(t *testing.T) {
		t.Parallel()
		// The trailer gives the duration; the chunks before the damage
		// are counted.
		s, err := traffic.Read(t.Context(), open(t, fixture(t, "tampered-chunk1.wsrec")), traffic.Options{})
		if s == nil || recfile.StatusOf(recfile.WSRec, err) != recfile.Damaged {
			t.Fatalf("got %v, %v; want Stats and damage", s, err)
		}
		if s.Duration != 54920972 || s.Records == 0 || s.Records >= 40 {
			t.Errorf("got duration %v, %d records; want the trailer's, some records", s.Duration, s.Records)
		}
	})
}

func TestSizeClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		size   int
		class  int
		lo, hi uint64
	}{
		{"Empty", 0, 0, 0, 0},
		{"One", 1, 1, 1, 1},
		{"Two", 2, 2, 2, 3},
		{"Three", 3, 2, 2, 3},
		{"KiB", 1024, 11, 1024, 2047},
		{"Largest", 1<<32 - 1, 32, 1 << 31, 1<<32 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := traffic.SizeClass(tt.size)
			lo, hi := traffic.ClassBounds(k)
			if k != tt.class || lo != tt.lo || hi != tt.hi {
				t.Errorf("got class %d [%d, %d], want %d [%d, %d]", k, lo, hi, tt.class, tt.lo, tt.hi)
			}
			if k >= traffic.SizeClasses {
				t.Errorf("class %d is not below SizeClasses", k)
			}
		})
	}
}

func TestClassRange(t *testing.T) {
	t.Parallel()
	var a, b traffic.Direction
	if lo, hi, peak := traffic.ClassRange(&a, &b); hi != -1 || peak != 0 {
		t.Errorf("no messages: got %d, %d, %d; want hi -1, peak 0", lo, hi, peak)
	}
	a.Classes[3], a.Classes[5], b.Classes[9], b.Classes[5] = 2, 7, 1, 4
	if lo, hi, peak := traffic.ClassRange(&a, &b); lo != 3 || hi != 9 || peak != 7 {
		t.Errorf("got %d, %d, %d; want 3, 9, 7", lo, hi, peak)
	}
}

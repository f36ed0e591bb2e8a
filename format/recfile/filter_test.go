package recfile_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
)

func TestFilter(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	client := format.Record{Kind: format.KindMessage, Time: 10 * ms, Dir: format.ClientToTarget, Payload: []byte("RFB 003.008\n")}
	target := format.Record{Kind: format.KindMessage, Time: 20 * ms, Dir: format.TargetToClient, Payload: []byte{1, 2}}
	marker := format.Record{Kind: format.KindMarker, Time: 30 * ms, Label: "login"}
	closeRec := format.Record{Kind: format.KindClose, Time: 40 * ms}
	recs := []format.Record{client, target, marker, closeRec}
	tests := []struct {
		name string
		flt  recfile.Filter
		want []bool // Match, for each of recs
	}{
		{"Zero", recfile.Filter{}, []bool{true, true, true, true}},
		{"From", recfile.Filter{From: 20 * ms}, []bool{false, true, true, true}},
		{"DirClient", recfile.Filter{Dir: new(format.ClientToTarget)}, []bool{true, false, false, false}},
		{"DirTarget", recfile.Filter{Dir: new(format.TargetToClient)}, []bool{false, true, false, false}},
		{"MinSize", recfile.Filter{MinSize: 3}, []bool{true, false, false, false}},
		{"GrepPayload", recfile.Filter{Grep: regexp.MustCompile(`^RFB`)}, []bool{true, false, false, false}},
		{"GrepLabel", recfile.Filter{Grep: regexp.MustCompile(`log`)}, []bool{false, false, true, false}},
		{"GrepBytes", recfile.Filter{Grep: regexp.MustCompile(`\x01\x02`)}, []bool{false, true, false, false}},
		{"All", recfile.Filter{From: 5 * ms, Dir: new(format.ClientToTarget), MinSize: 12, Grep: regexp.MustCompile(`\n$`)}, []bool{true, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i := range recs {
				if got := tt.flt.Match(&recs[i]); got != tt.want[i] {
					t.Errorf("Match(%s at %v) = %v, want %v", recs[i].Kind, recs[i].Time, got, tt.want[i])
				}
			}
		})
	}
	t.Run("Past", func(t *testing.T) {
		t.Parallel()
		flt := recfile.Filter{To: 30 * ms}
		for i, want := range []bool{false, false, true, true} {
			if got := flt.Past(&recs[i]); got != want {
				t.Errorf("Past(%v) = %v, want %v", recs[i].Time, got, want)
			}
		}
		var zero recfile.Filter
		if zero.Past(&closeRec) {
			t.Error("the zero Filter is past a record")
		}
	})
}

func TestFilterSeek(t *testing.T) {
	t.Parallel()
	sealed := fixture(t, "sealed-small.wsrec")
	tests := []struct {
		name   string
		data   []byte
		from   time.Duration
		seeked bool
	}{
		{"WSRec", sealed, 30 * time.Millisecond, true},
		{"WSRecFromZero", sealed, 0, false},
		{"Websockify", fixture(t, "websockify-vnc-session.txt"), 400 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFile(t, tt.data)
			flt := recfile.Filter{From: tt.from}
			seeked, err := flt.Seek(f)
			if err != nil || seeked != tt.seeked {
				t.Fatalf("got %v, %v; want %v, nil", seeked, err, tt.seeked)
			}
			rec, err := f.Next()
			if err != nil {
				t.Fatal(err)
			}
			if seeked && rec.Time < tt.from || !seeked && rec.Time > 5*time.Millisecond {
				t.Errorf("first record at %v after Seek from %v (moved: %v)", rec.Time, tt.from, seeked)
			}
		})
	}
}

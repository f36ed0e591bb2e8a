package record

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// fakeGuard returns a syncGuard that vouches for devices 1 and 2, whose
// syncfs fails with errs[dev] and is counted in syncs.
func fakeGuard(syncs map[uint64]int, errs map[uint64]error) *syncGuard {
	g := &syncGuard{fss: map[uint64]*guardedFS{}}
	for _, dev := range []uint64{1, 2} {
		g.fss[dev] = &guardedFS{syncFS: func() error { syncs[dev]++; return errs[dev] }}
	}
	return g
}

// TestSyncBatchGuard: the files of a batch on a guarded file system are
// closed without their own fsync once the guard's syncfs succeeded, and
// only then; any failure of the guard since a file was created makes it
// fsynced alone.
func TestSyncBatchGuard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		devs       []uint64 // a file on each; 0: not guarded
		stale      []bool   // the file's token predates a failure
		errs       map[uint64]error
		wantGuard  map[uint64]int // guard syncfs calls
		wantFsyncs []int          // per file
		wantWarn   bool
	}{
		{name: "Clean", devs: []uint64{1, 1, 1}, wantGuard: map[uint64]int{1: 1}, wantFsyncs: []int{0, 0, 0}},
		{name: "Alone", devs: []uint64{1}, wantGuard: map[uint64]int{}, wantFsyncs: []int{1}},
		{name: "AloneOnItsFS", devs: []uint64{1, 1, 2}, wantGuard: map[uint64]int{1: 1}, wantFsyncs: []int{0, 0, 1}},
		{name: "Unguarded", devs: []uint64{1, 0, 1, 0}, wantGuard: map[uint64]int{1: 1}, wantFsyncs: []int{0, 1, 0, 1}},
		{name: "ErrSyncfs", devs: []uint64{1, 1, 2, 2}, errs: map[uint64]error{1: errors.New("EIO")},
			wantGuard: map[uint64]int{1: 1, 2: 1}, wantFsyncs: []int{1, 1, 1, 1}, wantWarn: true},
		{name: "ErrEarlier", devs: []uint64{1, 1, 1}, stale: []bool{false, true, false},
			wantGuard: map[uint64]int{1: 1}, wantFsyncs: []int{0, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			syncs := map[uint64]int{}
			g := fakeGuard(syncs, tt.errs)
			g.fails.Store(1) // a failure before: stale tokens hold 0
			var jobs []syncJob
			var files []*syncCountFile
			for i, dev := range tt.devs {
				f := &syncCountFile{}
				files = append(files, f)
				var tok guardToken
				if dev != 0 {
					tok = guardToken{dev: dev, fails: 1, ok: true}
					if tt.stale != nil && tt.stale[i] {
						tok.fails = 0
					}
				}
				jobs = append(jobs, syncJob{f: f, name: "f", tok: tok})
			}
			var logged bytes.Buffer
			syncBatch(slog.New(slog.NewTextHandler(&logged, nil)), g, jobs)
			for dev, want := range tt.wantGuard {
				if syncs[dev] != want {
					t.Errorf("device %d: %d guard syncfs calls, want %d", dev, syncs[dev], want)
				}
			}
			if len(syncs) != len(tt.wantGuard) {
				t.Errorf("guard syncfs calls %v, want %v", syncs, tt.wantGuard)
			}
			for i, f := range files {
				if f.syncs != tt.wantFsyncs[i] || f.closes != 1 {
					t.Errorf("file %d (device %d): %d fsyncs and %d closes, want %d and 1", i, tt.devs[i], f.syncs, f.closes, tt.wantFsyncs[i])
				}
			}
			if got := strings.Contains(logged.String(), "level=WARN"); got != tt.wantWarn {
				t.Errorf("log:\n%s\nwant a warning: %v", logged.String(), tt.wantWarn)
			}
			if tt.wantWarn && g.fails.Load() != 2 {
				t.Errorf("fails = %d after a failed syncfs, want 2", g.fails.Load())
			}
		})
	}
}

// TestSyncGuardClean: a token is clean while no guard syncfs has failed
// since it was taken.
func TestSyncGuardClean(t *testing.T) {
	t.Parallel()
	syncs := map[uint64]int{}
	errs := map[uint64]error{}
	g := fakeGuard(syncs, errs)
	tok := guardToken{dev: 1, fails: g.fails.Load(), ok: true}
	if ok, err := g.sync(1); !ok || err != nil || !g.clean(tok) {
		t.Fatalf("sync: %v, %v; clean %v, want true, nil, true", ok, err, g.clean(tok))
	}
	errs[2] = errors.New("EIO")
	if ok, err := g.sync(2); ok || err == nil {
		t.Fatalf("sync of the failing device: %v, %v, want false and its error", ok, err)
	}
	if g.clean(tok) {
		t.Error("a token taken before a failure is still clean")
	}
	if g.clean(guardToken{}) {
		t.Error("the zero token is clean")
	}
	if ok, err := g.sync(3); ok || err != nil {
		t.Errorf("sync of an unguarded device: %v, %v, want false, nil", ok, err)
	}
}

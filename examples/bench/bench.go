//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
)

// bench holds what the workloads share.
type bench struct {
	o       options
	log     io.Writer
	dir     string // temporary: the wsproxy build, relay logs
	relays  map[string]*relaySpec
	fdLimit uint64
	maxIdle int // most idle sessions the open file limit allows
}

// newBench checks the relays' binaries, builds wsproxy if needed and raises
// the open file limit for the idle sessions.
func newBench(ctx context.Context, o options, log io.Writer) (*bench, error) {
	dir, err := os.MkdirTemp("", "wsproxy-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, log: log, dir: dir}
	if err := b.init(ctx); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) init(ctx context.Context) error {
	if b.o.wsproxy == "" && (slices.Contains(b.o.only, "wsproxy") || slices.Contains(b.o.only, "recording") || slices.Contains(b.o.only, "encrypted")) {
		b.o.wsproxy = filepath.Join(b.dir, "wsproxy")
		fmt.Fprintln(b.log, "building wsproxy: go build -o", b.o.wsproxy, "github.com/wsproxy/wsproxy/cmd/wsproxy")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.o.wsproxy, "github.com/wsproxy/wsproxy/cmd/wsproxy")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build wsproxy (run from the module, or give -wsproxy): %w\n%s", err, out)
		}
	}
	b.relays = relaySpecs(b.o)
	for _, name := range b.o.only {
		spec := b.relays[name]
		path, err := exec.LookPath(spec.bin)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		spec.bin = path
	}

	// Each idle session takes two descriptors here (client and target) and
	// two in the relay, which inherits the limit; fdSpare are left for the
	// rest (listeners, logs, epoll).
	const fdSpare = 64
	limit, err := raiseFileLimit(uint64(2*b.o.idleConns + fdSpare))
	if err != nil {
		return err
	}
	b.fdLimit = limit
	b.maxIdle = max(1, int(limit-fdSpare)/2)
	return nil
}

func (b *bench) close() { os.RemoveAll(b.dir) }

// raiseFileLimit raises the soft limit on open files to want, raising the
// hard limit too where allowed (as root), else to the hard limit. It returns
// the new soft limit.
func raiseFileLimit(want uint64) (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur >= want {
		return l.Cur, nil
	}
	if l.Max < want {
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) == nil {
			return want, nil
		}
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("raise open file limit: %w", err)
	}
	return l.Cur, nil
}

// measurement is the result of one workload through one relay.
type measurement struct {
	Workload string             `json:"workload"`
	Relay    string             `json:"relay"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	Seconds  float64            `json:"seconds,omitempty"` // time measured
	Note     string             `json:"note,omitempty"`
	Error    string             `json:"error,omitempty"`
}

// measure runs w through spec -count times and returns the median run.
func (b *bench) measure(ctx context.Context, w workload, spec *relaySpec) measurement {
	var runs []measurement
	var errs []error
	for range b.o.count {
		m, err := w.run(b, ctx, spec)
		if err != nil {
			errs = append(errs, err)
			fmt.Fprintf(b.log, "%-8s %-10s error: %v\n", w.key, spec.name, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		m.Workload, m.Relay = w.key, spec.name
		fmt.Fprintf(b.log, "%-8s %-10s %s\n", w.key, spec.name, m.summary())
		runs = append(runs, m)
	}
	if len(runs) == 0 {
		return measurement{Workload: w.key, Relay: spec.name, Error: errors.Join(errs...).Error()}
	}
	slices.SortFunc(runs, func(x, y measurement) int {
		return cmpFloat(x.Metrics[w.primary], y.Metrics[w.primary])
	})
	m := runs[len(runs)/2]
	if len(errs) > 0 {
		m.Note = joinNotes(m.Note, fmt.Sprintf("%d of %d runs failed: %v", len(errs), b.o.count, errs[0]))
	}
	return m
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (m measurement) summary() string {
	var s string
	for _, k := range []string{mbps, cpuPerGB, p50, p99, cpuPerTrip, kibPer, pssPer, idleConns, connPerS, cpuPerConn, connErrs} {
		if v, ok := m.Metrics[k]; ok {
			s += fmt.Sprintf("%s=%s ", k, number(v))
		}
	}
	s += fmt.Sprintf("(%.2fs)", m.Seconds)
	if m.Note != "" {
		s += " " + m.Note
	}
	return s
}

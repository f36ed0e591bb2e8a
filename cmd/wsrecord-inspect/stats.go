package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math/bits"
	"time"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
)

type statsCmd struct {
	File  string `arg:"" help:"The recording (wsrec or websockify)."`
	Width int    `default:"60" help:"Columns of the throughput charts (10 to 1000)."`
	PNG   string `name:"png" help:"Also draw the charts into this PNG image." placeholder:"FILE"`
	Force bool   `help:"Replace the --png file if it exists."`
	JSON  bool   `name:"json" help:"Print JSON: totals, bytes per time slot and message size classes for each direction."`
}

func (c *statsCmd) Help() string {
	return `Reads the whole recording and charts, for each direction, the bytes sent over
time (the session is cut into --width equal slots of 1, 2 or 5 times a power
of ten milliseconds; each column is the bytes of one slot, scaled to the
busiest), and the distribution of message sizes in classes that double: 0,
1, 2-3, 4-7 bytes and so on. --png draws the same charts into an image.`
}

func (c *statsCmd) Validate() error {
	if c.Width < 10 || c.Width > 1000 {
		return fmt.Errorf("--width %d: want 10 to 1000", c.Width)
	}
	return nil
}

// sizeClasses is the number of message size classes: 0, then [2^(k-1),
// 2^k) for k from 1, up to the largest payload a record holds.
const sizeClasses = 34

// sizeClass returns the class of a message of n bytes.
func sizeClass(n int) int { return bits.Len(uint(n)) }

// classBounds returns the smallest and largest size of class k.
func classBounds(k int) (lo, hi uint64) {
	if k == 0 {
		return 0, 0
	}
	return 1 << (k - 1), 1<<k - 1
}

// dirStats is the statistics of one direction.
type dirStats struct {
	Messages   uint64      `json:"messages"`
	Bytes      uint64      `json:"bytes"`
	MinSize    int         `json:"min_size"`
	MaxSize    int         `json:"max_size"`
	MeanSize   float64     `json:"mean_size"`
	Throughput []uint64    `json:"throughput"` // bytes per slot
	Sizes      []sizeCount `json:"sizes"`      // non-empty classes

	classes [sizeClasses]uint64
}

type sizeCount struct {
	Min   uint64 `json:"min"`
	Max   uint64 `json:"max"`
	Count uint64 `json:"count"`
}

// recordingStats is what stats finds.
type recordingStats struct {
	File       string   `json:"file"`
	DurationNS int64    `json:"duration_ns"`
	SlotNS     int64    `json:"slot_ns"`
	Records    uint64   `json:"records"`
	Client     dirStats `json:"client"` // client→target
	Target     dirStats `json:"target"` // target→client
}

func (s *recordingStats) duration() time.Duration { return time.Duration(s.DurationNS) }
func (s *recordingStats) slot() time.Duration     { return time.Duration(s.SlotNS) }

func (s *recordingStats) dir(d format.Direction) *dirStats {
	if d == format.ClientToTarget {
		return &s.Client
	}
	return &s.Target
}

func (c *statsCmd) Run(ctx context.Context, kctx *kong.Context) error {
	r, err := openRecording(c.File)
	if err != nil {
		return err
	}
	defer r.Close()
	r.progress(kctx.Stderr)
	s := &recordingStats{File: c.File}
	s.DurationNS = int64(span(r))
	slot := niceSlot(s.duration(), c.Width)
	s.SlotNS = int64(slot)
	cols := int(s.duration()/slot) + 1
	s.Client.Throughput, s.Target.Throughput = make([]uint64, cols), make([]uint64, cols)
	s.Client.MinSize, s.Target.MinSize = -1, -1

	var end error
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := r.Next()
		if err != nil {
			end = err
			break
		}
		s.Records++
		if rec.Kind != format.KindMessage {
			continue
		}
		d, size := s.dir(rec.Dir), len(rec.Payload)
		d.Messages++
		d.Bytes += uint64(size)
		if d.MinSize < 0 || size < d.MinSize {
			d.MinSize = size
		}
		d.MaxSize = max(d.MaxSize, size)
		d.classes[sizeClass(size)]++
		d.Throughput[min(int(rec.Time/slot), cols-1)] += uint64(size)
	}
	r.doneReading()
	for _, d := range []*dirStats{&s.Client, &s.Target} {
		d.MinSize = max(d.MinSize, 0)
		if d.Messages > 0 {
			d.MeanSize = float64(d.Bytes) / float64(d.Messages)
		}
		d.Sizes = []sizeCount{}
		for k, n := range d.classes {
			if n > 0 {
				lo, hi := classBounds(k)
				d.Sizes = append(d.Sizes, sizeCount{Min: lo, Max: hi, Count: n})
			}
		}
	}

	out := bufio.NewWriter(kctx.Stdout)
	if c.JSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
	} else {
		printStats(out, s)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if c.PNG != "" {
		if err := c.writePNG(s, kctx.Stdout); err != nil {
			return err
		}
	}
	return r.end(end, kctx.Stderr)
}

func (c *statsCmd) writePNG(s *recordingStats, stdout io.Writer) error {
	out, err := createOutput(c.PNG, c.Force, 0o644, stdout)
	if err != nil {
		return err
	}
	defer out.abort()
	if err := png.Encode(out, plotStats(s)); err != nil {
		return err
	}
	return out.commit()
}

// span returns the time of a recording's last record: from the index of a
// wsrec file, else by reading it through (r is then back at its start).
func span(r *recording) time.Duration {
	if r.Format() == recfile.WSRec {
		if s, err := r.Reader().Summary(); err == nil {
			return s.Duration
		}
	}
	var last time.Duration
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		last = rec.Time
	}
	r.Seek(0) // an error here comes again from Next
	return last
}

// niceSlot returns the shortest duration of 1, 2 or 5 times a power of ten
// milliseconds that cuts d into at most cols slots.
func niceSlot(d time.Duration, cols int) time.Duration {
	for slot := time.Millisecond; ; slot *= 10 {
		for _, m := range []time.Duration{1, 2, 5} {
			if d/(m*slot) < time.Duration(cols) {
				return m * slot
			}
		}
	}
}

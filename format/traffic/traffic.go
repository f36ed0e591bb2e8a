package traffic

import (
	"context"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
)

// SizeClasses is the number of message size classes: class 0 holds empty
// messages, class k from 1 the sizes from 2^(k-1) to 2^k - 1, up to the
// largest payload a record holds.
const SizeClasses = 34

// SizeClass returns the class of a message of n bytes.
func SizeClass(n int) int { return bits.Len(uint(n)) }

// ClassBounds returns the smallest and largest size of class k.
func ClassBounds(k int) (lo, hi uint64) {
	if k == 0 {
		return 0, 0
	}
	return 1 << (k - 1), 1<<k - 1
}

// DefaultSlots is the number of slots of Options whose Slots is zero.
const DefaultSlots = 60

// MaxSlots bounds Options.Slots.
const MaxSlots = 1 << 16

// Options configure Read. The zero value means the defaults.
type Options struct {
	// Slots is the most slots the recording's duration is cut into, for
	// Direction.Throughput: each slot is the shortest of 1, 2 or 5 times
	// a power of ten milliseconds that gives no more. Zero means
	// DefaultSlots; more than MaxSlots is an error.
	Slots int
}

// Stats is the traffic of a recording. Its JSON is wsrecord-inspect stats
// --json's (but the file name).
type Stats struct {
	// Duration is the time of the recording's last record, and Slot the
	// time each element of Direction.Throughput covers.
	Duration time.Duration `json:"duration_ns"`
	Slot     time.Duration `json:"slot_ns"`
	// Records counts every record read, messages or not.
	Records uint64 `json:"records"`
	// Client is what the client sent to the target, Target what the
	// target sent to the client.
	Client Direction `json:"client"`
	Target Direction `json:"target"`
}

// Dir returns the traffic of direction d.
func (s *Stats) Dir(d format.Direction) *Direction {
	if d == format.ClientToTarget {
		return &s.Client
	}
	return &s.Target
}

// Direction is the traffic of one direction.
type Direction struct {
	Messages uint64 `json:"messages"`
	// Bytes counts the messages' payload bytes.
	Bytes uint64 `json:"bytes"`
	// MinSize, MaxSize and MeanSize are the messages' sizes in bytes: all
	// zero when there are none.
	MinSize  int     `json:"min_size"`
	MaxSize  int     `json:"max_size"`
	MeanSize float64 `json:"mean_size"`
	// Throughput is the payload bytes of the messages of each slot of
	// Stats.Slot, from time 0: one more slot than fit in the duration, so
	// that the last record has one.
	Throughput []uint64 `json:"throughput"`
	// Sizes are the non-empty size classes, smallest first; Classes counts
	// the messages of every class.
	Sizes   []SizeCount         `json:"sizes"`
	Classes [SizeClasses]uint64 `json:"-"`
}

// ClassRange returns the lowest and highest size class that holds a
// message in any of dirs, and the most messages one class holds there;
// hi is -1 when there is no message.
func ClassRange(dirs ...*Direction) (lo, hi int, peak uint64) {
	lo, hi = SizeClasses, -1
	for _, d := range dirs {
		for k, n := range d.Classes {
			if n > 0 {
				lo, hi = min(lo, k), max(hi, k)
				peak = max(peak, n)
			}
		}
	}
	return lo, hi, peak
}

// SizeCount is the number of messages of a size class.
type SizeCount struct {
	Min   uint64 `json:"min"`
	Max   uint64 `json:"max"`
	Count uint64 `json:"count"`
}

// Read counts the traffic of the recording f, from its start: a wsrec
// recording's duration comes from its index, a websockify recording is
// read twice (to learn its duration, then to count). f must be positioned
// at its start, and is left at its end.
//
// Read returns the error that ended reading f, if it was not io.EOF (an
// *recfile.IncompleteError for a recording that ends early, the reader's
// error for damage), with the Stats of the records before it. It returns
// nil Stats and ctx's error if ctx ends first, and an error for Slots
// over MaxSlots.
//
// Read reads f, which is not safe for concurrent use: calls on different
// Files may run concurrently.
func Read(ctx context.Context, f *recfile.File, opts Options) (*Stats, error) {
	slots := opts.Slots
	switch {
	case slots == 0:
		slots = DefaultSlots
	case slots < 0 || slots > MaxSlots:
		return nil, fmt.Errorf("traffic: %d slots: want 1 to %d", slots, MaxSlots)
	}
	dur, err := span(ctx, f)
	if err != nil {
		return nil, err
	}
	s := &Stats{Duration: dur, Slot: niceSlot(dur, slots)}
	cols := int(dur/s.Slot) + 1
	s.Client.Throughput, s.Target.Throughput = make([]uint64, cols), make([]uint64, cols)
	s.Client.MinSize, s.Target.MinSize = -1, -1

	var end error
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rec, err := f.Next()
		if err != nil {
			end = err
			break
		}
		s.Records++
		if rec.Kind != format.KindMessage {
			continue
		}
		d, size := s.Dir(rec.Dir), len(rec.Payload)
		d.Messages++
		d.Bytes += uint64(size)
		if d.MinSize < 0 || size < d.MinSize {
			d.MinSize = size
		}
		d.MaxSize = max(d.MaxSize, size)
		d.Classes[SizeClass(size)]++
		d.Throughput[min(int(rec.Time/s.Slot), cols-1)] += uint64(size)
	}
	for _, d := range []*Direction{&s.Client, &s.Target} {
		d.MinSize = max(d.MinSize, 0)
		if d.Messages > 0 {
			d.MeanSize = float64(d.Bytes) / float64(d.Messages)
		}
		d.Sizes = []SizeCount{}
		for k, n := range d.Classes {
			if n > 0 {
				lo, hi := ClassBounds(k)
				d.Sizes = append(d.Sizes, SizeCount{Min: lo, Max: hi, Count: n})
			}
		}
	}
	if end == io.EOF {
		end = nil
	}
	return s, end
}

// span returns the time of a recording's last record: from the index of a
// wsrec file, else by reading it through (f is then back at its start;
// an error of reading comes again from Next). It returns an error only
// when ctx ends.
func span(ctx context.Context, f *recfile.File) (time.Duration, error) {
	if r := f.Reader(); r != nil {
		if s, err := r.Summary(); err == nil {
			return s.Duration, nil
		}
	}
	var last time.Duration
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		rec, err := f.Next()
		if err != nil {
			break
		}
		last = rec.Time
	}
	f.Seek(0) // an error here comes again from Next
	return last, nil
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

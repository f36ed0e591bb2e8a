package replay

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Speed limits, and the speed of "max".
const (
	MinSpeed = 0.1
	MaxSpeed = 100
	// SpeedMax plays without waiting: each message is sent as soon as the
	// client has taken the one before (Options.Speed "max").
	SpeedMax = math.MaxFloat64
)

// DefaultPaceTimeout is the longest a message waits for the client's bytes
// under PaceClient when Options.PaceTimeout is zero.
const DefaultPaceTimeout = 5 * time.Second

// Pace says what sets the pace of a replay besides the recorded times.
type Pace uint8

// Paces.
const (
	// PaceTime sends each message at its recorded time.
	PaceTime Pace = iota
	// PaceClient also waits, before each message, until the client has sent
	// at least as many bytes as the original client had sent by then, so
	// that a handshake and a slow client stay in step with the recording.
	// The recorded client's RFB KeyEvents and PointerEvents after its
	// handshake do not count: a viewer does not retype them, and waiting
	// for them stalled typed sessions. Render mode does its own handshake
	// with the viewer and ignores Pace.
	PaceClient
)

func (p Pace) String() string {
	switch p {
	case PaceTime:
		return "time"
	case PaceClient:
		return "client"
	}
	return fmt.Sprintf("Pace(%d)", uint8(p))
}

// Mode says how a replay is served.
type Mode uint8

// Modes.
const (
	// ModeAuto is ModeRender for RFB (VNC) recordings and ModeBytes for
	// the others.
	ModeAuto Mode = iota
	// ModeRender decodes the recording into a screen and speaks RFB to
	// the viewer itself: its own handshake, updates encoded for the
	// viewer, seeking, pausing and changing speed while connected.
	ModeRender
	// ModeBytes sends the recorded server bytes as they were, byte for
	// byte: for recordings that are not VNC and for reproducing a
	// client's bug.
	ModeBytes
)

func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeRender:
		return "render"
	case ModeBytes:
		return "bytes"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// End says what happens after the last record.
type End uint8

// Ends.
const (
	// EndClose closes the connection with 1000 "Target closed", as wsproxy
	// does when the target closes.
	EndClose End = iota
	// EndHold keeps the connection open, so that a viewer keeps showing the
	// last screen, until the client leaves or the server shuts down.
	EndHold
)

func (e End) String() string {
	switch e {
	case EndClose:
		return "close"
	case EndHold:
		return "hold"
	}
	return fmt.Sprintf("End(%d)", uint8(e))
}

// Options control one playback. The zero value plays the whole recording
// once, at its recorded times (1×, no idle limit), then closes.
//
// Each option has a name, by which Set sets it from text: the name of
// wsreplay's flag and of the query parameter that sets it for one
// connection.
type Options struct {
	// Speed multiplies the pace: 2 plays twice as fast. It is MinSpeed to
	// MaxSpeed, or SpeedMax for no waiting at all. Zero means 1.
	// Name "speed": a number, with or without a trailing "x", or "max".
	Speed float64

	// IdleLimit caps each gap between the records that are played (the
	// messages to the client, markers, the end) at this much recording
	// time, before Speed applies, as asciinema's idle time limit does.
	// Zero means no cap. Name "idle-limit".
	IdleLimit time.Duration

	// Start skips to this offset of the recording: everything before it is
	// sent at once (a client needs the earlier data, such as the RFB
	// handshake and the screen updates, to draw the screen), then the
	// records from Start on are played at their times, counted from
	// Start. Zero means from the beginning. Name "start".
	Start time.Duration

	// Loop plays the recording again, the same way, each time it ends,
	// instead of ending. false means once. Name "loop".
	Loop bool

	// Pace is PaceTime (the zero value) or PaceClient. Name "pace".
	Pace Pace

	// PaceTimeout is the longest PaceClient waits for the client before a
	// message is sent anyway; the bytes still missing are then forgiven.
	// Zero means DefaultPaceTimeout. Name "pace-timeout".
	PaceTimeout time.Duration

	// End is what happens after the last record (EndClose, the zero value,
	// or EndHold). Name "end".
	End End

	// Mode is ModeAuto (the zero value), ModeRender or ModeBytes. Name
	// "mode".
	Mode Mode
}

// OptionNames are the names of the options that Set accepts, in the order
// of the fields of Options.
var OptionNames = []string{"speed", "idle-limit", "start", "loop", "pace", "pace-timeout", "end", "mode"}

// ErrOption is matched by the errors of Set and WithQuery.
var ErrOption = errors.New("replay: invalid option")

// Set sets the option called name from its text form: "speed" ("2",
// "0.5x", "max"), "idle-limit", "start" and "pace-timeout" (seconds, such
// as "90" or "1.5", or a Go duration, such as "1m30s" or "500ms"), "loop"
// ("1", "true", "0", "false"; empty means true), "pace" ("time",
// "client"), "end" ("close", "hold") and "mode" ("auto", "render",
// "bytes"). It returns an error matching
// ErrOption for an unknown name or a value out of range, and leaves o
// unchanged then.
func (o *Options) Set(name, value string) error {
	var err error
	switch name {
	case "speed":
		o.Speed, err = parseSpeed(value, o.Speed)
	case "idle-limit":
		o.IdleLimit, err = parseDuration(value, o.IdleLimit)
	case "start":
		o.Start, err = parseDuration(value, o.Start)
	case "pace-timeout":
		o.PaceTimeout, err = parseDuration(value, o.PaceTimeout)
	case "loop":
		o.Loop, err = parseBool(value, o.Loop)
	case "pace":
		switch value {
		case "time":
			o.Pace = PaceTime
		case "client":
			o.Pace = PaceClient
		default:
			err = errors.New("want time or client")
		}
	case "mode":
		switch value {
		case "auto":
			o.Mode = ModeAuto
		case "render":
			o.Mode = ModeRender
		case "bytes":
			o.Mode = ModeBytes
		default:
			err = errors.New("want auto, render or bytes")
		}
	case "end":
		switch value {
		case "close":
			o.End = EndClose
		case "hold":
			o.End = EndHold
		default:
			err = errors.New("want close or hold")
		}
	default:
		return fmt.Errorf("%w: unknown option %q (known: %s)", ErrOption, name, strings.Join(OptionNames, ", "))
	}
	if err != nil {
		return fmt.Errorf("%w: %s %q: %w", ErrOption, name, value, err)
	}
	return nil
}

// WithQuery returns o with the options named in the query q set (see
// Set); other parameters, such as token, are left for the caller. A
// parameter given twice is an error, as is any error of Set.
func (o Options) WithQuery(q url.Values) (Options, error) {
	for _, name := range OptionNames {
		vs, ok := q[name]
		if !ok {
			continue
		}
		if len(vs) > 1 {
			return o, fmt.Errorf("%w: %s given %d times", ErrOption, name, len(vs))
		}
		if err := o.Set(name, vs[0]); err != nil {
			return o, err
		}
	}
	return o, nil
}

func parseSpeed(s string, old float64) (float64, error) {
	if s == "max" {
		return SpeedMax, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "x"), 64)
	if err != nil || !(f >= MinSpeed && f <= MaxSpeed) {
		return old, fmt.Errorf("want a speed from %g to %g, or max", float64(MinSpeed), float64(MaxSpeed))
	}
	return f, nil
}

// maxDuration bounds the durations Set accepts: 100 years, far beyond any
// recording, and far from overflowing time.Duration in sums.
const maxDuration = 100 * 365 * 24 * time.Hour

// parseDuration parses seconds ("90", "1.5") or a Go duration ("1m30s").
func parseDuration(s string, old time.Duration) (time.Duration, error) {
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if !(f >= 0 && f <= maxDuration.Seconds()) {
			return old, errors.New("want a number of seconds >= 0")
		}
		d = time.Duration(f * float64(time.Second))
	} else {
		d, err = time.ParseDuration(s)
		if err != nil || d < 0 || d > maxDuration {
			return old, errors.New("want seconds (90, 1.5) or a duration (1m30s, 500ms) >= 0")
		}
	}
	return d, nil
}

func parseBool(s string, old bool) (bool, error) {
	if s == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return old, errors.New("want 1, true, 0 or false")
	}
	return b, nil
}

// normalized returns o with its defaults filled in, and an error matching
// ErrOption if a field is out of range.
func (o Options) normalized() (Options, error) {
	switch {
	case o.Speed == 0:
		o.Speed = 1
	case o.Speed != SpeedMax && !(o.Speed >= MinSpeed && o.Speed <= MaxSpeed):
		return o, fmt.Errorf("%w: speed %g: want %g to %g, or SpeedMax", ErrOption, o.Speed, float64(MinSpeed), float64(MaxSpeed))
	}
	if o.PaceTimeout == 0 {
		o.PaceTimeout = DefaultPaceTimeout
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"idle-limit", o.IdleLimit}, {"start", o.Start}, {"pace-timeout", o.PaceTimeout}} {
		if d.d < 0 || d.d > maxDuration {
			return o, fmt.Errorf("%w: %s %v: want 0 to %v", ErrOption, d.name, d.d, maxDuration)
		}
	}
	if o.Pace > PaceClient {
		return o, fmt.Errorf("%w: %v", ErrOption, o.Pace)
	}
	if o.End > EndHold {
		return o, fmt.Errorf("%w: %v", ErrOption, o.End)
	}
	if o.Mode > ModeBytes {
		return o, fmt.Errorf("%w: %v", ErrOption, o.Mode)
	}
	return o, nil
}

// logAttrs describes o for the log.
func (o Options) logAttrs() []any {
	speed := strconv.FormatFloat(o.Speed, 'g', -1, 64)
	if o.Speed == SpeedMax {
		speed = "max"
	}
	attrs := []any{"speed", speed, "start", o.Start, "idle_limit", o.IdleLimit, "loop", o.Loop, "pace", o.Pace.String(), "end", o.End.String(), "mode", o.Mode.String()}
	if o.Pace == PaceClient {
		attrs = append(attrs, "pace_timeout", o.PaceTimeout)
	}
	return attrs
}

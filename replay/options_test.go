package replay_test

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/replay"
)

func TestOptionsSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string
		want        replay.Options // from the zero Options
		err         string         // the error's text, if any
	}{
		{"speed", "2", replay.Options{Speed: 2}, ""},
		{"speed", "0.5x", replay.Options{Speed: 0.5}, ""},
		{"speed", "0.1", replay.Options{Speed: 0.1}, ""},
		{"speed", "100", replay.Options{Speed: 100}, ""},
		{"speed", "max", replay.Options{Speed: replay.SpeedMax}, ""},
		{"speed", "0.09", replay.Options{}, `replay: invalid option: speed "0.09": want a speed from 0.1 to 100, or max`},
		{"speed", "101", replay.Options{}, `replay: invalid option: speed "101": want a speed from 0.1 to 100, or max`},
		{"speed", "NaN", replay.Options{}, `replay: invalid option: speed "NaN": want a speed from 0.1 to 100, or max`},
		{"speed", "", replay.Options{}, `replay: invalid option: speed "": want a speed from 0.1 to 100, or max`},
		{"start", "90", replay.Options{Start: 90 * time.Second}, ""},
		{"start", "1.5", replay.Options{Start: 1500 * time.Millisecond}, ""},
		{"start", "1m30s", replay.Options{Start: 90 * time.Second}, ""},
		{"start", "-1", replay.Options{}, `replay: invalid option: start "-1": want a number of seconds >= 0`},
		{"start", "soon", replay.Options{}, `replay: invalid option: start "soon": want seconds (90, 1.5) or a duration (1m30s, 500ms) >= 0`},
		{"start", "1e300", replay.Options{}, `replay: invalid option: start "1e300": want a number of seconds >= 0`},
		{"idle-limit", "2s", replay.Options{IdleLimit: 2 * time.Second}, ""},
		{"pace-timeout", "500ms", replay.Options{PaceTimeout: 500 * time.Millisecond}, ""},
		{"loop", "", replay.Options{Loop: true}, ""},
		{"loop", "1", replay.Options{Loop: true}, ""},
		{"loop", "false", replay.Options{}, ""},
		{"loop", "yes", replay.Options{}, `replay: invalid option: loop "yes": want 1, true, 0 or false`},
		{"pace", "client", replay.Options{Pace: replay.PaceClient}, ""},
		{"pace", "time", replay.Options{}, ""},
		{"end", "hold", replay.Options{End: replay.EndHold}, ""},
		{"end", "close", replay.Options{}, ""},
		{"token", "x", replay.Options{}, `replay: invalid option: unknown option "token" (known: speed, idle-limit, start, loop, pace, pace-timeout, end, mode)`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			var o replay.Options
			err := o.Set(tt.name, tt.value)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || err.Error() != tt.err) {
				t.Fatalf("got error %v, want %q", err, tt.err)
			}
			if err != nil && !errors.Is(err, replay.ErrOption) {
				t.Errorf("got error %v, want one matching ErrOption", err)
			}
			if o != tt.want {
				t.Errorf("got %+v, want %+v", o, tt.want)
			}
		})
	}
}

func TestOptionsWithQuery(t *testing.T) {
	t.Parallel()
	defaults := replay.Options{Speed: 2, End: replay.EndHold}
	q, _ := url.ParseQuery("token=x&speed=4&start=90s&idle-limit=2s&loop=1&pace=client&end=close&other=y")
	got, err := defaults.WithQuery(q)
	want := replay.Options{Speed: 4, Start: 90 * time.Second, IdleLimit: 2 * time.Second, Loop: true, Pace: replay.PaceClient}
	if err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	// Only what the query names changes.
	got, err = defaults.WithQuery(url.Values{"start": {"1"}})
	if want := (replay.Options{Speed: 2, End: replay.EndHold, Start: time.Second}); err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	if _, err := defaults.WithQuery(url.Values{"speed": {"1", "2"}}); !errors.Is(err, replay.ErrOption) {
		t.Errorf("got %v for a parameter given twice, want ErrOption", err)
	}
}

// FuzzWithQuery feeds query strings, which come from clients, to the
// option parser: it must not panic, and what it accepts must be in range.
func FuzzWithQuery(f *testing.F) {
	for _, s := range []string{"speed=4&start=90s", "idle-limit=2s&loop=1&pace=client&end=hold", "speed=max", "start=1e300", "speed=0.1x&pace-timeout=0", "loop&end=close"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		o, err := replay.Options{}.WithQuery(q)
		if err != nil {
			return
		}
		if o.Speed != 0 && o.Speed != replay.SpeedMax && (o.Speed < replay.MinSpeed || o.Speed > replay.MaxSpeed) {
			t.Errorf("speed %v accepted", o.Speed)
		}
		if o.Start < 0 || o.IdleLimit < 0 || o.PaceTimeout < 0 {
			t.Errorf("negative duration accepted: %+v", o)
		}
		if o.Pace > replay.PaceClient || o.End > replay.EndHold {
			t.Errorf("unknown pace or end accepted: %+v", o)
		}
	})
}

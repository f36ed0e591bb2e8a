package proxy_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
)

// logTap appends what it sees to a shared log, as "name:call".
type logTap struct {
	name     string
	log      *[]string
	delivery bool
}

func (l *logTap) Frame(dir proxy.Direction, _ proxy.MessageType, _ time.Duration, p []byte) error {
	*l.log = append(*l.log, l.name+":frame "+string(p))
	return nil
}

func (l *logTap) Close(ci proxy.CloseInfo) error {
	*l.log = append(*l.log, l.name+":close "+ci.Reason)
	return nil
}

// deliveringTap is a logTap that is a proxy.DeliveryTap.
type deliveringTap struct{ logTap }

func (d *deliveringTap) Delivered() error {
	*d.log = append(*d.log, d.name+":delivered")
	return nil
}

func TestTeeTaps(t *testing.T) {
	t.Parallel()
	var log []string
	factory := func(tp proxy.Tap, err error) func(context.Context, *proxy.SessionInfo) (proxy.Tap, error) {
		return func(context.Context, *proxy.SessionInfo) (proxy.Tap, error) { return tp, err }
	}
	t.Run("None", func(t *testing.T) {
		if proxy.TeeTaps() != nil {
			t.Error("TeeTaps(): want nil")
		}
	})
	t.Run("OK", func(t *testing.T) {
		log = nil
		tee := proxy.TeeTaps(factory(&logTap{name: "a", log: &log}, nil), factory(&deliveringTap{logTap{name: "b", log: &log}}, nil))
		tp, err := tee(t.Context(), &proxy.SessionInfo{})
		if err != nil {
			t.Fatal(err)
		}
		tp.Frame(proxy.TargetToClient, proxy.MessageBinary, 0, []byte("x"))
		tp.(proxy.DeliveryTap).Delivered()
		tp.Close(proxy.CloseInfo{Reason: "done"})
		want := []string{"a:frame x", "b:frame x", "b:delivered", "a:close done", "b:close done"}
		if !slices.Equal(log, want) {
			t.Errorf("got %q, want %q", log, want)
		}
	})
	t.Run("ErrFactory", func(t *testing.T) {
		log = nil
		bad := errors.New("no disk")
		tee := proxy.TeeTaps(factory(&logTap{name: "a", log: &log}, nil), factory(nil, bad))
		if _, err := tee(t.Context(), &proxy.SessionInfo{}); !errors.Is(err, bad) {
			t.Fatalf("got %v, want %v", err, bad)
		}
		want := []string{"a:close Recording unavailable"}
		if !slices.Equal(log, want) {
			t.Errorf("got %q, want %q: the taps made are closed", log, want)
		}
	})
}

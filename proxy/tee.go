package proxy

import (
	"context"
	"errors"
	"time"
)

// TeeTaps returns a tap factory for ServerOptions.NewTap that gives each
// session the taps of all factories, which see every frame in the order
// given; nil when there are none, and the one factory itself when there
// is one. If a factory fails, the taps already made are closed as the
// proxy would close them (1011 "Recording unavailable") and its error is
// returned. The result is as safe for concurrent use as the factories.
func TeeTaps(factories ...func(context.Context, *SessionInfo) (Tap, error)) func(context.Context, *SessionInfo) (Tap, error) {
	switch len(factories) {
	case 0:
		return nil
	case 1:
		return factories[0]
	}
	return func(ctx context.Context, info *SessionInfo) (Tap, error) {
		var t teeTap
		for _, f := range factories {
			tp, err := f(ctx, info)
			if err != nil {
				t.Close(CloseInfo{By: SideProxy, Code: CloseInternalError, Reason: "Recording unavailable"})
				return nil, err
			}
			t = append(t, tp)
		}
		return t, nil
	}
}

// teeTap shows every frame to each of its taps, in order; it is a
// DeliveryTap for the ones that are.
type teeTap []Tap

func (m teeTap) Frame(dir Direction, typ MessageType, at time.Duration, payload []byte) error {
	for _, t := range m {
		if err := t.Frame(dir, typ, at, payload); err != nil {
			return err
		}
	}
	return nil
}

func (m teeTap) Delivered() error {
	for _, t := range m {
		if d, ok := t.(DeliveryTap); ok {
			if err := d.Delivered(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m teeTap) Close(ci CloseInfo) error {
	var errs []error
	for _, t := range m {
		errs = append(errs, t.Close(ci))
	}
	return errors.Join(errs...)
}

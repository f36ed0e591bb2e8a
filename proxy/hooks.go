package proxy

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// PanicError is the error a hook's panic becomes: a panicking Resolver,
// Authenticator or Tap fails its own session (500 before the upgrade, 1011
// after it) instead of the whole server.
type PanicError struct {
	Hook  string // "resolver", "authenticator", "tap", "observer"
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string { return fmt.Sprintf("%s panicked: %v", e.Hook, e.Value) }

// guard runs a hook, turning a panic into a *PanicError logged with its
// stack.
func guard(log *slog.Logger, hook string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			pe := &PanicError{Hook: hook, Value: v, Stack: debug.Stack()}
			log.Error("hook panicked", "hook", hook, "panic", fmt.Sprint(v), "stack", string(pe.Stack))
			err = pe
		}
	}()
	return f()
}

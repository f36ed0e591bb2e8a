package cli

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"Nil", nil, ExitOK},
		{"Plain", errors.New("boom"), ExitFailure},
		{"ExitError", &ExitError{Code: 4, Err: errors.New("chain broken")}, 4},
		{"ExitErrorSilent", &ExitError{Code: 3}, 3},
		{"Wrapped", fmt.Errorf("verify: %w", &ExitError{Code: 4}), 4},
		{"Usagef", Usagef("bad %s", "thing"), ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestExitErrorUnwrap(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	err := error(&ExitError{Code: 3, Err: cause})
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(%v, cause) = false, want true", err)
	}
	if got, want := err.Error(), "cause"; got != want {
		t.Errorf("got message %q, want %q", got, want)
	}
	if got, want := (&ExitError{Code: 3}).Error(), "exit status 3"; got != want {
		t.Errorf("got message %q, want %q", got, want)
	}
}

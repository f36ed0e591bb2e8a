package cli

import (
	"errors"
	"fmt"
)

// Exit statuses shared by the programs. Commands may define others (for
// example a verifier's distinct statuses per kind of damage) by returning
// an *ExitError.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// ExitError is an error that sets the program's exit status. Run reports Err
// on stderr, unless it is nil, which makes the program exit with Code
// silently (the command has already said what it had to say).
type ExitError struct {
	Code int   // exit status; 0 is not useful here, return nil instead
	Err  error // reported on stderr; nil for none
}

// Error returns Err's message, or a note of the exit status when Err is nil.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode returns Code. It makes ExitError a kong.ExitCoder.
func (e *ExitError) ExitCode() int { return e.Code }

// Usagef returns an *ExitError with status ExitUsage, for a command line that
// kong accepted but the command cannot use.
func Usagef(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// ExitCode returns the exit status for err, as returned by Run: ExitOK for
// nil, the Code of an *ExitError in err's chain, and ExitFailure otherwise.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if e, ok := errors.AsType[*ExitError](err); ok {
		return e.Code
	}
	return ExitFailure
}

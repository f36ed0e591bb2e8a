package main

// PLACEHOLDER, to be replaced by the wrap mode's own wrap.go (another
// engineer's): it only lets the package build until that file lands.

import (
	"context"
	"errors"
	"log/slog"
)

// runWrapped starts the command argv and returns the address to relay to,
// and a function that stops the command.
func runWrapped(ctx context.Context, argv []string, mode string, log *slog.Logger) (target string, stop func() error, err error) {
	return "", nil, errors.New("wrap mode is not implemented yet")
}

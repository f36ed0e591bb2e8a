// Package cputime reads the CPU time the process has used, for the
// benchmarks that report CPU per operation: on a machine shared with other
// work that depends on the load much less than wall-clock time does.
package cputime

import "time"

// Self returns the user and system CPU time of every thread of the
// process so far; 0 where the system does not tell it.
func Self() time.Duration { return usage(false) }

// WithChildren returns Self plus the CPU time of the process's children
// that have been waited for (ffmpeg, for example); 0 where the system does
// not tell it.
func WithChildren() time.Duration { return usage(true) }

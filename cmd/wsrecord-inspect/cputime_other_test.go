//go:build !unix

package main

import "time"

// cpuTime returns 0 where the CPU time is not known: the benchmarks then
// report wall-clock ratios only.
func cpuTime() time.Duration { return 0 }

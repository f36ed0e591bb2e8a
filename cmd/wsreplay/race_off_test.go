//go:build !race

package main

// raceEnabled reports whether the race detector is on: timings are then
// several times slower.
const raceEnabled = false

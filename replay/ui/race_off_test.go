//go:build !race

package ui_test

// raceEnabled reports whether the race detector is on: the Go side of
// timings is then several times slower.
const raceEnabled = false

//go:build !race

package replay_test

// raceEnabled reports whether the race detector is on: timings are then
// several times slower and not worth asserting on.
const raceEnabled = false

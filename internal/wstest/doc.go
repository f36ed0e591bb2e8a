// Package wstest holds the test helpers shared by the test packages of the
// module: a WebSocket test client ([Dial], [Conn]), TCP servers for a proxy
// to relay to ([Serve], [Echo]), a log buffer that tests wait on
// ([LogBuffer]) and test certificates ([NewCert]). It is imported by tests
// only, never by the programs or the library.
//
// Every helper takes the test's testing.TB, fails the test when something
// does not work, and stops what it started in t.Cleanup. Helpers that fail
// the test must be called from the goroutine that runs it, as t.Fatal
// requires. Every wait is bounded by [Timeout].
package wstest

import "time"

// Timeout bounds every wait of the package's helpers.
const Timeout = 10 * time.Second

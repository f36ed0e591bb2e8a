package auth_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests of the package when they leak goroutines.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

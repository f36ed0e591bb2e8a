package wsproxytest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Require checks that path, a program (looked up in PATH if path has no
// slash) or a file that the Debian package pkg provides, is there. When it
// is not, it skips the test with a loud message that names pkg, or fails it
// when the environment variable CI is set: a CI machine must have every
// package. It is cmd/internal/vnctest's Require, which examples/ cannot
// import.
func Require(t testing.TB, path, pkg string) {
	t.Helper()
	var err error
	if strings.Contains(path, "/") {
		_, err = os.Stat(path)
	} else {
		_, err = exec.LookPath(path)
	}
	if err == nil {
		return
	}
	msg := "\n" +
		"************************************************************\n" +
		"*** EXAMPLE NOT TESTED: " + path + " is missing.\n" +
		"*** Install the Debian package " + pkg + "\n" +
		"*** (bash .ci/install installs all that the tests need).\n" +
		"************************************************************"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "\n(CI is set, so this fails instead of skipping)")
	}
	t.Skip(msg)
}

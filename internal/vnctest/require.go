package vnctest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Require checks that path, a program (found in PATH if path has no slash)
// or a file that the Debian package pkg provides, is there. When it is not,
// it skips the test with a loud message that names pkg, or fails it when the
// environment variable CI is set: a CI machine must have every package, and a
// skipped end-to-end test there would hide that it did not run. The helpers
// of the package call it for what they need.
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
		"*** END-TO-END TEST NOT RUN: " + path + " is missing.\n" +
		"*** Install the Debian package " + pkg + "\n" +
		"*** (bash .ci/install installs all that the tests need).\n" +
		"************************************************************"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "\n(CI is set, so this fails instead of skipping)")
	}
	t.Skip(msg)
}

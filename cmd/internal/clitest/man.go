package clitest

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/man"
)

// updateMan is set by the go:generate line of each program (go test -run
// '^TestManPage$' -update-man), so that go generate rewrites the pages.
var updateMan = flag.Bool("update-man", false, "rewrite the programs' manual pages instead of checking them")

// AssertManPage checks that file, the checked-in manual page of p, is what
// man.Write writes now, and that groff reads it without a warning. With
// -update-man it rewrites file instead. Without groff it checks the content
// only and skips, or fails when $CI is set.
func AssertManPage(t *testing.T, p cli.Program, file string, seeAlso ...string) {
	t.Helper()
	var page bytes.Buffer
	if err := man.Write(&page, p, seeAlso...); err != nil {
		t.Fatalf("man.Write: %v", err)
	}
	if *updateMan {
		if err := os.WriteFile(file, page.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v: run go generate ./cmd/...", err)
	}
	if !bytes.Equal(got, page.Bytes()) {
		t.Errorf("%s is not the manual page of the current command line: run go generate ./cmd/...", file)
	}

	groff, err := exec.LookPath("groff")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("groff not found (Debian package groff-base): cannot check %s", file)
		}
		t.Skipf("groff not found (Debian package groff-base): %s not checked with groff", file)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(page.Bytes()), &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("groff -man -ww %s: %v\n%s", file, err, stderr.String())
	}
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
	"github.com/wsproxy/wsproxy/internal/vnctest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsrecord-inspect-test-")
	if err == nil {
		err = makeFixtures(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fixtures:", err)
		os.Exit(1)
	}
	fix = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []clitest.Case{
		{Name: "Help", Args: []string{"--help"}, WantStdout: []string{
			"Usage: wsrecord-inspect <command> [flags]",
			"Exit status: 0 on success",
			"Examples:",
			"    wsrecord-inspect info session.wsrec\n",
			"--version            Print the program's version and exit.",
			"-i, --identity=FILE",
			"info <path> ... [flags]",
			"frames <file> [flags]",
			"dump <file> [flags]",
			"verify <file> ... [flags]",
			"convert --output=OUT <in> [flags]",
			"cut --output=OUT <file> [flags]",
			"stats <file> [flags]",
			"rfb <file> [flags]",
			"keys <file> [flags]",
		}},
		{Name: "HelpVerify", Args: []string{"verify", "--help"}, WantStdout: []string{
			"Usage: wsrecord-inspect verify <file> ... [flags]",
			"0  valid", "1  tampered", "2  unsealed", "3  signature missing", "4  unreadable", "64 usage error",
		}},
		{Name: "HelpShort", Args: []string{"-h"}, WantStdout: []string{"Usage: wsrecord-inspect", "Examples:"}},
		{Name: "ErrUnknownFlag", Args: []string{"--bogus"}, WantCode: cli.ExitUsage, WantStderr: []string{
			"wsrecord-inspect: error: unknown flag --bogus\n",
			"Usage: wsrecord-inspect <command> [flags]\n",
			`Run "wsrecord-inspect --help" for more information.`,
		}},
		{Name: "ErrMissingCommand", WantCode: cli.ExitUsage, WantStderr: []string{"wsrecord-inspect: error: expected one of", `Run "wsrecord-inspect --help"`}},
		{Name: "ErrUnknownCommand", Args: []string{"show", "a.wsrec"}, WantCode: cli.ExitUsage, WantStderr: []string{"wsrecord-inspect: error: unexpected argument show", `Run "wsrecord-inspect --help"`}},
		{Name: "ErrUnknownFlagOfCommand", Args: []string{"info", "--bogus", "a.wsrec"}, WantCode: cli.ExitUsage, WantStderr: []string{
			"wsrecord-inspect: error: unknown flag --bogus\n", `Run "wsrecord-inspect info --help"`,
		}},
		{Name: "ErrVerifyUsage", Args: []string{"verify", "--bogus", "a.wsrec"}, WantCode: exitVerifyUsage, WantStderr: []string{
			"wsrecord-inspect: error: unknown flag --bogus\n", `Run "wsrecord-inspect verify --help"`,
		}},
	}
	clitest.RunCases(t, run, tests)
}

func TestRunVersion(t *testing.T) {
	t.Parallel()
	clitest.AssertVersion(t, "wsrecord-inspect", run)
}

// TestExamples runs each example command line of --help, in a directory
// holding the files they name: all must exit 0, and print something or
// write the file they name. It changes the working directory, so it cannot
// run in parallel (parallel tests wait until it is done).
func TestExamples(t *testing.T) {
	dir := t.TempDir()
	copyAs := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyAs(filepath.Join(fix, "recordings", "alice-1.wsrec"), "session.wsrec") // 10 s, signed
	copyAs(filepath.Join(recordings, "websockify-vnc-session.txt"), "websockify.txt")
	copyAs(filepath.Join(recordings, noVNCFixture), "vnc-session.wsrec")
	copyAs(filepath.Join(fix, "signer.pub"), "signer.pub")
	copyAs(filepath.Join(fix, "signer.key"), "signer.key")
	if err := os.CopyFS(filepath.Join(dir, "recordings"), os.DirFS(filepath.Join(fix, "recordings"))); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	examples := clitest.Examples(description, "wsrecord-inspect")
	if len(examples) < 10 {
		t.Fatalf("got examples %q, want one or more for each command", examples)
	}
	for _, args := range examples {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if args[0] == "video" {
				vnctest.Require(t, "ffmpeg", "ffmpeg")
			}
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), args, &stdout, &stderr)
			if err != nil {
				t.Errorf("got error %v (exit code %d), want nil; stderr:\n%s", err, cli.ExitCode(err), &stderr)
			}
			if i := slices.Index(args, "-o"); i >= 0 {
				// One file, or numbered ones (snapshot --every).
				ext := filepath.Ext(args[i+1])
				numbered, _ := filepath.Glob(strings.TrimSuffix(args[i+1], ext) + "-*" + ext)
				if _, err := os.Stat(args[i+1]); err != nil && len(numbered) == 0 {
					t.Errorf("no output: %v", err)
				}
			} else if stdout.Len() == 0 {
				t.Errorf("got no output")
			}
		})
	}
}

package clitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// PrintConfig runs run with args and --print-config, checks that it exits
// with status 0, and returns what it printed, as text and decoded.
func PrintConfig(t *testing.T, run RunFunc, args ...string) (string, map[string]any) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), append(slices.Clone(args), "--print-config"), &stdout, &stderr); err != nil {
		t.Fatalf("%q --print-config: got error %v, want nil; stderr:\n%s", args, err, stderr.String())
	}
	var config map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &config); err != nil {
		t.Fatalf("%q --print-config: %v; stdout:\n%s", args, err, stdout.String())
	}
	return stdout.String(), config
}

// AssertConfigRoundTrip checks that the configuration that --print-config
// prints for args, given to --config (with extra, such as a subcommand and
// its arguments), is printed the same: the file reproduces the command
// line. It returns the configuration printed.
func AssertConfigRoundTrip(t *testing.T, run RunFunc, args []string, extra ...string) string {
	t.Helper()
	first, _ := PrintConfig(t, run, args...)
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	second, _ := PrintConfig(t, run, append([]string{"--config", path}, extra...)...)
	if second != first {
		t.Errorf("--config of what --print-config printed for %q prints:\n%s\nwant the same:\n%s", args, second, first)
	}
	return first
}

// Completions runs run as bash runs a program for complete -C: with the
// line to complete in $COMP_LINE and the cursor at its end in $COMP_POINT.
// It checks that run exits with status 0 and prints nothing on stderr, and
// returns the candidates it printed, sorted. It sets the environment, so
// its test cannot be parallel.
func Completions(t *testing.T, run RunFunc, line string) []string {
	t.Helper()
	t.Setenv("COMP_LINE", line)
	t.Setenv("COMP_POINT", fmt.Sprint(len(line)))
	var stdout, stderr bytes.Buffer
	program, _, _ := strings.Cut(line, " ")
	// bash's arguments: the program, the word to complete, the one before.
	if err := run(t.Context(), []string{program, "", ""}, &stdout, &stderr); err != nil || stderr.Len() > 0 {
		t.Errorf("completing %q: got error %v, stderr %q; want none", line, err, stderr.String())
	}
	got := strings.Fields(stdout.String())
	slices.Sort(got)
	return got
}

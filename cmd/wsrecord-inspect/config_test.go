package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
)

// TestConfigSections checks that a command's options are read from the
// object under its name, and printed there: info and frames both have
// --json, and --to is a duration for frames but a format for convert.
func TestConfigSections(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "inspect.json")
	err := os.WriteFile(file, []byte(`{
  "info": {"json": true, "sort": "size"},
  "frames": {"to": "10s", "dir": "client"},
  "convert": {"to": "jsonl"}
}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := clitest.PrintConfig(t, run, "--config", file, "frames", "x.wsrec")
	want := "{\n  \"frames\": {\n    \"to\": \"10s\",\n    \"dir\": \"client\"\n  }\n}\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	clitest.AssertConfigRoundTrip(t, run, []string{"info", "--sort", "name", "--reverse", "--since", "2026-11-01", "a.wsrec"}, "info", "a.wsrec")
}

// TestCompletion sets the environment, so it cannot be parallel.
func TestCompletion(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"wsrecord-inspect fr", []string{"frames"}},
		{"wsrecord-inspect info --so", []string{"--sort"}},
		{"wsrecord-inspect info --sort ", []string{"duration", "name", "size", "time"}},
		{"wsrecord-inspect convert --to w", []string{"websockify", "wsrec"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			if got := clitest.Completions(t, run, tt.line); !slices.Equal(got, tt.want) {
				t.Errorf("completing %q: got %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

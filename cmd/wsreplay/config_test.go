package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
)

// TestPrintConfigRoundTrip checks that wsreplay reads back what it prints,
// the positional arguments included. It sets the environment, so it cannot
// be parallel.
func TestPrintConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WSREPLAY_SPEED", "4")
	got := clitest.AssertConfigRoundTrip(t, run, []string{
		"--pace", "client", "--end", "hold", "--loop", "--start", "90s", "--log-file", filepath.Join(dir, "log"),
		"127.0.0.1:6080", filepath.Join(dir, "a.wsrec"), filepath.Join(dir, "b.wsrec"),
	})
	clitest.AssertContains(t, "--print-config", got, []string{
		`"source": "127.0.0.1:6080"`, `"recording": [`, `"speed": "4"`, `"pace": "client"`, `"loop": true`,
	})
}

// TestConfigPrecedence sets the environment, so it cannot be parallel.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "wsreplay.json")
	if err := os.WriteFile(file, []byte(`{"source": 6080, "recording": ["file.wsrec"], "speed": 2, "end": "hold"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WSREPLAY_SPEED", "3")
	_, got := clitest.PrintConfig(t, run, "--config", file, "--end", "close")
	want := map[string]any{"source": "6080", "recording": []any{"file.wsrec"}, "speed": "3", "end": "close"}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("got %q: %#v, want %#v", k, got[k], v)
		}
	}
}

// TestCompletion sets the environment, so it cannot be parallel.
func TestCompletion(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"wsreplay --pa", []string{"--pace", "--pace-timeout", "--password", "--password-file"}},
		{"wsreplay --mode ", []string{"auto", "bytes", "render"}},
		{"wsreplay --pace ", []string{"client", "time"}},
		{"wsreplay --end h", []string{"hold"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			if got := clitest.Completions(t, run, tt.line); !slices.Equal(got, tt.want) {
				t.Errorf("completing %q: got %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/logging"
)

func TestHandlers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    logging.Options
		check   func(t *testing.T, line string)
		noDebug bool
	}{
		{"Text", logging.Options{}, func(t *testing.T, line string) {
			if !strings.Contains(line, `msg="session open" session=abc n=3`) {
				t.Errorf("text line %q", line)
			}
		}, true},
		{"JSON", logging.Options{Format: logging.JSON, Verbose: true}, func(t *testing.T, line string) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			if m["msg"] != "session open" || m["session"] != "abc" || m["n"] != 3.0 || m["level"] != "INFO" {
				t.Errorf("JSON line %v", m)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			file := filepath.Join(t.TempDir(), "log")
			tc.opts.File = file
			handlers, closeFile, err := logging.Handlers(&stderr, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			log := logging.New(handlers...)
			log.Info("session open", "session", "abc", "n", 3)
			log.Debug("details")
			closeFile()
			fromFile, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for where, out := range map[string]string{"stderr": stderr.String(), "file": string(fromFile)} {
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if want := map[bool]int{true: 1, false: 2}[tc.noDebug]; len(lines) != want {
					t.Fatalf("%s: %d lines, want %d:\n%s", where, len(lines), want, out)
				}
				tc.check(t, lines[0])
			}
		})
	}
}

func TestHandlersErrors(t *testing.T) {
	t.Parallel()
	if _, _, err := logging.Handlers(&bytes.Buffer{}, logging.Options{Format: "xml"}); err == nil || !strings.Contains(err.Error(), `log format "xml"`) {
		t.Errorf("format xml: err %v", err)
	}
	_, _, err := logging.Handlers(&bytes.Buffer{}, logging.Options{File: filepath.Join(t.TempDir(), "no", "such", "dir", "log")})
	if err == nil || !strings.Contains(err.Error(), "log file:") {
		t.Errorf("missing directory: err %v", err)
	}
	if logging.Level(true) != slog.LevelDebug || logging.Level(false) != slog.LevelInfo {
		t.Error("Level")
	}
}

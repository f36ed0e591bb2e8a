//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRunSocat runs every workload at tiny sizes through socat, the one
// relay that needs neither a build nor Python, and checks the report.
func TestRunSocat(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("socat is not installed (.ci/install installs it)")
		}
		t.Skip("socat is not installed")
	}
	args := []string{"bench", "-only", "socat", "-size", "1MiB", "-frame", "4KiB", "-parallel", "3",
		"-echo-count", "50", "-idle-conns", "20", "-duration", "300ms", "-concurrency", "4", "-json"}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(rep.Command, "-only socat") {
		t.Errorf("got command %q, want the command line", rep.Command)
	}
	if got := len(rep.Measurements); got != len(workloads) {
		t.Fatalf("got %d measurements, want %d: %+v", got, len(workloads), rep.Measurements)
	}
	for i, m := range rep.Measurements {
		w := workloads[i]
		if m.Workload != w.key || m.Relay != "socat" {
			t.Errorf("measurement %d is %s %s, want %s socat", i, m.Workload, m.Relay, w.key)
		}
		if m.Error != "" {
			t.Errorf("%s: error %s", w.key, m.Error)
		}
		if v := m.Metrics[w.primary]; !(v > 0) {
			t.Errorf("%s: got %s %v, want > 0", w.key, w.primary, v)
		}
	}
	if got := rep.Rows[0].Values["socat"]; !(got > 0) {
		t.Errorf("first row: got socat %v, want > 0", got)
	}
	idle := rep.Measurements[4]
	if got := idle.Metrics[idleConns]; got != 20 {
		t.Errorf("idle: got %v sessions, want 20", got)
	}

	// The same report as a table.
	stdout.Reset()
	if err := run(t.Context(), append(args[:len(args)-1:len(args)-1], "-workloads", "echo"), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	for _, want := range []string{"command: bench -only socat", "machine: ", "run socat:", "64 B echo, p50", "µs"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want byteSize
		str  string
	}{
		{"1GiB", 1 << 30, "1GiB"},
		{"64MiB", 64 << 20, "64MiB"},
		{"100MB", 100e6, "100000000"},
		{"4096", 4096, "4KiB"},
		{"1000", 1000, "1000"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var s byteSize
			if err := s.Set(tt.in); err != nil {
				t.Fatal(err)
			}
			if s != tt.want || s.String() != tt.str {
				t.Errorf("got %d %q, want %d %q", s, s.String(), tt.want, tt.str)
			}
		})
	}
	var s byteSize
	if err := s.Set("1XB"); err == nil {
		t.Errorf("got %d for 1XB, want an error", s)
	}
}

// TestFileSystem names the file system of a directory from mountinfo.
func TestFileSystem(t *testing.T) {
	if got := fileSystem("/dev/shm"); !strings.HasPrefix(got, "tmpfs (") {
		t.Errorf("fileSystem(/dev/shm) = %q, want tmpfs (SOURCE)", got)
	}
	if got := fileSystem(t.TempDir()); got == "unknown" || !strings.Contains(got, " (") {
		t.Errorf("fileSystem(TempDir) = %q, want TYPE (SOURCE)", got)
	}
	if got := fileSystem("/nonexistent"); got != "unknown" {
		t.Errorf("fileSystem(/nonexistent) = %q, want unknown", got)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"golang.org/x/sys/unix"
)

// Tests of -D's detach with the test binary as the daemon: detach re-executes
// os.Executable() with the arguments it is given, here
// "-test.run=^TestDetachChild$ -- SCENARIO DIR", and TestDetachChild plays
// the daemon's part of SCENARIO. What it sees of itself once detached, it
// writes to DIR/facts.json.

// detachFacts is what the detached child reports about itself.
type detachFacts struct {
	PID, PPID, SID int
	DevNull        [3]bool // fds 0, 1 and 2 are /dev/null
	StatusClosed   bool    // fd 3, the status pipe, is closed after Ready
	EnvCleared     bool    // detachEnv is not in the environment
	Cwd            string
}

// TestDetachChild is the detached child of the TestDetach cases; run
// directly, it is skipped.
func TestDetachChild(t *testing.T) {
	args := flag.Args()
	if _, ok := os.LookupEnv(detachEnv); !ok || len(args) != 2 {
		t.Skip("the detached child of TestDetach")
	}
	os.Exit(detachChild(args[0], args[1]))
}

// detachChild plays scenario in dir and returns the exit status.
func detachChild(scenario, dir string) int {
	d, err := detach(context.Background(), nil, filepath.Join(dir, "wsproxy.pid"), os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsproxy: error:", err)
		return 1
	}
	defer d.Close()
	switch scenario {
	case "Ready":
		fmt.Fprintln(os.Stderr, "child: starting") // relayed by the parent
		if err := d.Ready(); err != nil {
			panic(err)
		}
		fmt.Fprintln(os.Stderr, "child: after Ready") // to /dev/null
		f := childFacts()
		b, _ := json.Marshal(f)
		tmp := filepath.Join(dir, "facts.tmp")
		os.WriteFile(tmp, b, 0o644)
		os.Rename(tmp, filepath.Join(dir, "facts.json"))
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		select {
		case <-ctx.Done():
		case <-time.After(time.Minute): // never outlive the test
		}
		return 0
	case "Fail":
		fmt.Fprintln(os.Stderr, "wsproxy: error: listen: address already in use")
		return 3
	case "Panic":
		panic("child: boom")
	case "Hang":
		fmt.Fprintln(os.Stderr, "child: hanging")
		os.WriteFile(filepath.Join(dir, "hanging"), nil, 0o644) // after the line above
		time.Sleep(time.Minute)
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown scenario", scenario)
	return 1
}

// childFacts collects detachFacts; it runs right after Ready.
func childFacts() detachFacts {
	var f detachFacts
	_, err := unix.FcntlInt(uintptr(detachStatusFD), unix.F_GETFD, 0)
	f.StatusClosed = errors.Is(err, unix.EBADF)
	f.PID, f.PPID = os.Getpid(), os.Getppid()
	f.SID, _ = unix.Getsid(0)
	var null unix.Stat_t
	unix.Stat(os.DevNull, &null)
	for fd := range 3 {
		var st unix.Stat_t
		f.DevNull[fd] = unix.Fstat(fd, &st) == nil && st.Rdev == null.Rdev && st.Ino == null.Ino
	}
	_, inEnv := os.LookupEnv(detachEnv)
	f.EnvCleared = !inEnv
	f.Cwd, _ = os.Getwd()
	return f
}

// detachArgs are the arguments that make the test binary play scenario.
func detachArgs(scenario, dir string) []string {
	return []string{"-test.run=^TestDetachChild$", "--", scenario, dir}
}

func TestDetachReady(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidPath := filepath.Join(dir, "wsproxy.pid")
	var stderr bytes.Buffer
	start := time.Now()
	d, err := detach(t.Context(), detachArgs("Ready", dir), pidPath, &stderr)
	elapsed := time.Since(start)
	if err != nil || d != nil {
		t.Fatalf("got (%v, %v), want (nil, nil) in the parent; stderr:\n%s", d, err, &stderr)
	}
	if elapsed > 5*time.Second {
		t.Errorf("detach returned after %v, want it to return once the child is ready", elapsed)
	}
	if got, want := stderr.String(), "child: starting\n"; got != want {
		t.Errorf("got relayed stderr %q, want %q (and nothing written after Ready)", got, want)
	}

	var f detachFacts
	pollUntil(t, "the child's facts", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "facts.json"))
		return err == nil && json.Unmarshal(b, &f) == nil
	})
	t.Cleanup(func() { killAndReap(f.PID) })

	parentSID, _ := unix.Getsid(0)
	if f.SID != f.PID || f.SID == parentSID {
		t.Errorf("got child session %d (pid %d, parent's session %d), want a new session led by the child", f.SID, f.PID, parentSID)
	}
	if f.PPID != os.Getpid() {
		t.Errorf("got child's parent %d, want %d", f.PPID, os.Getpid())
	}
	if f.DevNull != [3]bool{true, true, true} {
		t.Errorf("got fds 0, 1, 2 on /dev/null: %v, want all", f.DevNull)
	}
	if !f.StatusClosed {
		t.Error("status pipe (fd 3) still open after Ready")
	}
	if !f.EnvCleared {
		t.Errorf("%s still in the child's environment", detachEnv)
	}
	if cwd, _ := os.Getwd(); f.Cwd != cwd {
		t.Errorf("got child's working directory %q, want the parent's %q", f.Cwd, cwd)
	}
	assertPIDFile(t, pidPath, f.PID)

	// A clean exit removes the pid file.
	if err := syscall.Kill(f.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if ws := reap(t, f.PID); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("got child's wait status %#x, want exit status 0", ws)
	}
	if _, err := os.Stat(pidPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after a clean exit: got %v, want it removed", err)
	}
}

// TestDetachStartupFailure: a child that exits before it is ready makes
// detach fail with its exit status, after relaying what it said.
func TestDetachStartupFailure(t *testing.T) {
	t.Parallel()
	live := fmt.Sprintf("%d\n", 1) // init: always running
	tests := []struct {
		name       string
		scenario   string
		pidFile    string // initial content; "" for none
		wantCode   int
		wantStderr []string
	}{
		{name: "ExitStatus", scenario: "Fail", wantCode: 3, wantStderr: []string{
			"wsproxy: error: listen: address already in use\n",
		}},
		{name: "Panic", scenario: "Panic", wantCode: 2, wantStderr: []string{"panic: child: boom"}},
		{name: "ErrPIDFileLive", scenario: "Ready", pidFile: live, wantCode: 1, wantStderr: []string{
			"process 1 is running: " + errPIDFileLive.Error(),
		}},
		{name: "ErrPIDFileNotPID", scenario: "Ready", pidFile: "root:x:0:0\n", wantCode: 1, wantStderr: []string{
			"does not hold a pid: not replacing it",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pidPath := filepath.Join(dir, "wsproxy.pid")
			if tt.pidFile != "" {
				if err := os.WriteFile(pidPath, []byte(tt.pidFile), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stderr bytes.Buffer
			d, err := detach(t.Context(), detachArgs(tt.scenario, dir), pidPath, &stderr)
			if d != nil {
				t.Fatal("got a daemon in the parent")
			}
			if got := cli.ExitCode(err); got != tt.wantCode {
				t.Errorf("got exit code %d (err %v), want %d", got, err, tt.wantCode)
			}
			if err == nil || !strings.Contains(err.Error(), "daemon exited before it was ready") {
				t.Errorf("got error %v, want one that says the daemon exited before it was ready", err)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("got stderr %q, want it to contain %q", stderr.String(), want)
				}
			}
			// The child's pid file, if it wrote one, is gone; another's stays.
			b, err := os.ReadFile(pidPath)
			if tt.pidFile == "" && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("got pid file %q (%v), want none", b, err)
			}
			if tt.pidFile != "" && string(b) != tt.pidFile {
				t.Errorf("got pid file %q, want it left as %q", b, tt.pidFile)
			}
		})
	}
}

// TestDetachNotReady: a child that is neither ready nor gone after the
// timeout, or when ctx ends, is stopped and reaped, and what it wrote to its
// stderr before is relayed.
func TestDetachNotReady(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Timeout", "Canceled"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// Canceled ends ctx once the child has written its line, however
			// long a loaded machine takes to start it. Timeout cannot wait
			// for that, so it gives the child seconds to start.
			ctx, timeout := t.Context(), 5*time.Second
			if name == "Canceled" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
				go func() {
					defer cancel()
					for ctx.Err() == nil {
						if _, err := os.Stat(filepath.Join(dir, "hanging")); err == nil {
							return
						}
						time.Sleep(10 * time.Millisecond)
					}
				}()
				timeout = time.Minute
			}
			var stderr bytes.Buffer
			start := time.Now()
			err := startDaemon(ctx, exe, detachArgs("Hang", dir), &stderr, timeout)
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			d := time.Since(start)
			if name == "Timeout" && (d < timeout || d > timeout+daemonStopGrace+5*time.Second) {
				t.Errorf("returned after %v, want %v and the time to stop the child", d, timeout)
			}
			if name == "Canceled" && d > 30*time.Second {
				t.Errorf("returned after %v, want soon after ctx ended", d)
			}
			want := "not ready after 5s: stopped it"
			if name == "Canceled" {
				want = context.Canceled.Error()
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("got error %q, want it to contain %q", err, want)
			}
			if !strings.Contains(stderr.String(), "child: hanging\n") {
				t.Errorf("got stderr %q, want the child's output relayed", stderr.String())
			}
			// The child was reaped by startDaemon: its pid file names a gone process.
			b, _ := os.ReadFile(filepath.Join(dir, "wsproxy.pid"))
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && processAlive(pid) {
				t.Errorf("child %d still running", pid)
			}
		})
	}
}

func TestDetachPIDFile(t *testing.T) {
	t.Parallel()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content string // "" for no file
		wantErr error  // nil: written; errPIDFileLive; errAny for another error
	}{
		{name: "OK"},
		{name: "Stale", content: fmt.Sprintf("%d\n", gone.Process.Pid)},
		{name: "Empty", content: "\n"},
		{name: "Self", content: fmt.Sprintf("%d\n", os.Getpid())},
		{name: "ErrPIDFileLive", content: "1\n", wantErr: errPIDFileLive},
		{name: "ErrNotPID", content: "#!/bin/sh\n", wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "wsproxy.pid")
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			pf, err := createPIDFile(path)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("got error %v, want nil", err)
			case tt.wantErr == errAny && err == nil,
				tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if b, _ := os.ReadFile(path); string(b) != tt.content {
					t.Errorf("got pid file %q, want it left as %q", b, tt.content)
				}
			} else {
				assertPIDFile(t, path, os.Getpid())
				if err := pf.Remove(); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("after Remove: got %v, want no pid file", err)
				}
			}
			// No temporary file is left behind.
			if ents, _ := os.ReadDir(dir); len(ents) > 1 || len(ents) == 1 && ents[0].Name() != "wsproxy.pid" {
				t.Errorf("got files %v in the directory, want at most the pid file", ents)
			}
		})
	}
}

// TestDetachPIDFileRemoveOthers: Remove leaves a pid file that another
// process has taken since.
func TestDetachPIDFileRemoveOthers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "wsproxy.pid")
	pf, err := createPIDFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pf.Remove(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "1\n" {
		t.Errorf("got pid file %q, want the other process's %q", b, "1\n")
	}
}

// errAny stands for any error in a table.
var errAny = errors.New("any error")

// assertPIDFile checks that path holds pid and a newline, with mode 0644.
func assertPIDFile(t *testing.T, path string, pid int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), fmt.Sprintf("%d\n", pid); got != want {
		t.Errorf("got pid file %q, want %q", got, want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("got pid file mode %v (%v), want 0644", fi.Mode().Perm(), err)
	}
}

// pollUntil waits up to 10 s for cond.
func pollUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reap waits up to 10 s for this process's child pid to exit and returns
// its wait status.
func reap(t testing.TB, pid int) syscall.WaitStatus {
	t.Helper()
	var ws syscall.WaitStatus
	pollUntil(t, fmt.Sprintf("process %d to exit", pid), func() bool {
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		return got == pid || err != nil
	})
	return ws
}

// killAndReap kills this process's child pid, if it is still there.
func killAndReap(pid int) {
	if syscall.Kill(pid, syscall.SIGKILL) == nil {
		syscall.Wait4(pid, nil, 0, nil)
	}
}

// processAlive reports whether pid is a process that has not exited: a
// zombie, which an init that does not reap may leave, counts as exited.
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) STATE ...: comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/systemdtest"
)

// Tests of running under systemd, with the real binary: socket activation
// (LISTEN_FDS) and readiness notification (NOTIFY_SOCKET).

// activatedCmd returns a command that runs the wsproxy binary with args and
// files from fd 3 on, as systemd's socket activation does: LISTEN_FDS
// counts them, LISTEN_FDNAMES names them, and LISTEN_PID is wsproxy's pid,
// the shell's which exec keeps (or pid, when it is not "").
func activatedCmd(t *testing.T, files []*os.File, names, pid string, args ...string) *exec.Cmd {
	t.Helper()
	return systemdtest.ActivatedCommand(wsproxyBinary(t), files, names, pid, args...)
}

// startActivated starts cmd and waits until it listens, as startBinary
// does.
func startActivated(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	return startBinary(t, func(c *exec.Cmd) {
		c.Path, c.Args, c.Env, c.ExtraFiles, c.Err = cmd.Path, cmd.Args, cmd.Env, cmd.ExtraFiles, cmd.Err
	})
}

func TestSocketActivation(t *testing.T) {
	t.Parallel()
	target := startEcho(t, "tcp", nil)
	tests := []struct {
		name    string
		sockets int
		args    func(addrs []string) []string
		wantLog string // a regexp; the address of the first socket replaces ADDR
	}{
		{
			name:    "TargetOnly",
			sockets: 1,
			args:    func([]string) []string { return []string{target} },
			wantLog: `msg="socket activation: serving the sockets from systemd" addr=ADDR names=\[wsproxy\]`,
		},
		{
			name:    "SourceNotBound",
			sockets: 1,
			// The same port as the socket's: binding it would fail.
			args:    func(addrs []string) []string { return []string{addrs[0], target} },
			wantLog: `level=INFO msg="socket activation: the source is not bound" source=ADDR`,
		},
		{
			name:    "SourceOtherPort",
			sockets: 1,
			args:    func([]string) []string { return []string{"1", target} },
			wantLog: `level=WARN msg="socket activation: the source is not bound, and its port is none of the sockets' from systemd" source=1`,
		},
		{
			name:    "TwoSockets",
			sockets: 2,
			args:    func([]string) []string { return []string{target} },
			wantLog: `msg=listening addr=ADDR,127\.0\.0\.1:\d+ target=`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var files []*os.File
			var addrs, names []string
			for i := range tt.sockets {
				f, addr := systemdtest.ListenerFile(t)
				files, addrs = append(files, f), append(addrs, addr)
				names = append(names, []string{"wsproxy", "other"}[i])
			}
			p := startActivated(t, activatedCmd(t, files, strings.Join(names, ":"), "", tt.args(addrs)...))
			for _, f := range files {
				f.Close() // wsproxy has its own
			}
			if want := strings.Join(addrs, ","); p.addr != want {
				t.Errorf("listening on %s, want %s", p.addr, want)
			}
			p.stderr.Wait(t, regexp.MustCompile(strings.ReplaceAll(tt.wantLog, "ADDR", regexp.QuoteMeta(addrs[0]))))
			for i, addr := range addrs {
				c := mustDialWS(t, "ws://"+addr+"/", nil)
				assertEcho(t, c, fmt.Sprintf("through socket %d from systemd", i))
				c.Close()
			}
			p.cmd.Process.Signal(syscall.SIGTERM)
			if code := p.wait(t); code != 0 {
				t.Errorf("got exit code %d, want 0", code)
			}
		})
	}
}

func TestSocketActivationOtherPID(t *testing.T) {
	t.Parallel()
	// Variables inherited from an activated parent are not for wsproxy: it
	// binds its source.
	f, addr := systemdtest.ListenerFile(t)
	p := startActivated(t, activatedCmd(t, []*os.File{f}, "wsproxy", "1", "127.0.0.1:0", startEcho(t, "tcp", nil)))
	if p.addr == addr {
		t.Fatalf("listening on the socket for pid 1, %s", addr)
	}
	assertEcho(t, mustDialWS(t, "ws://"+p.addr+"/", nil), "through the source")
	if strings.Contains(p.stderr.String(), "socket activation") {
		t.Errorf("socket activation logged:\n%s", p.stderr)
	}
}

func TestSocketActivationWrap(t *testing.T) {
	t.Parallel()
	// The wrapped command inherits neither the variables nor the sockets.
	f, addr := systemdtest.ListenerFile(t)
	envFile := filepath.Join(t.TempDir(), "env")
	fdsFile := filepath.Join(t.TempDir(), "fds")
	script := `env > "$0.tmp" && mv "$0.tmp" "$0"; ls -l /proc/$$/fd > "$1.tmp" && mv "$1.tmp" "$1"`
	p := startActivated(t, activatedCmd(t, []*os.File{f}, "wsproxy", "",
		"--wrap-mode", "ignore", "--", "sh", "-c", script, envFile, fdsFile))
	f.Close()
	if p.addr != addr {
		t.Errorf("listening on %s, want %s", p.addr, addr)
	}
	var env []byte
	waitFor(t, "the wrapped command's environment", func() bool {
		env, _ = os.ReadFile(envFile)
		return env != nil
	})
	if !strings.Contains(string(env), "WSPROXY_TARGET_PORT=") {
		t.Fatalf("got environment %q, want the wrapped command's", env)
	}
	if m := regexp.MustCompile(`(?m)^LISTEN_\w+=.*$`).FindAll(env, -1); m != nil {
		t.Errorf("the wrapped command inherited %q", m)
	}
	var fds []byte
	waitFor(t, "the wrapped command's fds", func() bool {
		fds, _ = os.ReadFile(fdsFile)
		return fds != nil
	})
	if strings.Contains(string(fds), "socket:") {
		t.Errorf("the wrapped command inherited a socket:\n%s", fds)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("got exit code %d, want 0", code)
	}
}

func TestSocketActivationErrors(t *testing.T) {
	t.Parallel()
	connected := func(t *testing.T) *os.File {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		f, err := c.(*net.TCPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	listening := func(t *testing.T) *os.File { f, _ := systemdtest.ListenerFile(t); return f }
	tests := []struct {
		name     string
		file     func(*testing.T) *os.File
		args     []string
		wantCode int
		wantErr  string
	}{
		{"ErrDaemon", listening, []string{"-D", "localhost:5900"}, 2, "wsproxy: error: give --daemon or systemd's socket activation (LISTEN_FDS), not both"},
		{"ErrInetd", listening, []string{"--inetd", "localhost:5900"}, 2, "wsproxy: error: give --inetd or systemd's socket activation (LISTEN_FDS), not both"},
		{"ErrUnixListen", listening, []string{"--unix-listen", "/tmp/x.sock", "localhost:5900"}, 2, "wsproxy: error: give --unix-listen or systemd's socket activation"},
		{"ErrMissingTarget", listening, nil, 2, "wsproxy: error: missing target"},
		{"ErrConnected", connected, []string{"localhost:5900"}, 1, "wsproxy: error: listen: socket activation: wsproxy: listen: not a listening stream socket: a connected socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := activatedCmd(t, []*os.File{tt.file(t)}, "wsproxy", "", tt.args...).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != tt.wantCode {
				t.Errorf("got %v, want exit status %d", err, tt.wantCode)
			}
			if !strings.Contains(string(out), tt.wantErr) {
				t.Errorf("got output %q, want %q", out, tt.wantErr)
			}
		})
	}
}

func TestNotify(t *testing.T) {
	t.Parallel()
	path, got := systemdtest.NotifySocket(t)
	notify := func(cmd *exec.Cmd) {
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path, "WATCHDOG_USEC=100000")
	}
	p := startBinary(t, notify, "--shutdown-timeout", "0", "127.0.0.1:0", startEcho(t, "tcp", nil))
	if s, want := systemdtest.NextNotification(t, got), "READY=1\nSTATUS=listening on "+p.addr; s != want {
		t.Errorf("got %q, want %q", s, want)
	}
	select {
	case s := <-got:
		if s != "WATCHDOG=1" {
			t.Errorf("got %q, want WATCHDOG=1", s)
		}
	case <-time.After(waitTimeout):
		t.Error("no WATCHDOG=1 with WATCHDOG_USEC=100000")
	}
	c := mustDialWS(t, "ws://"+p.addr+"/", nil)
	assertEcho(t, c, "x")
	p.cmd.Process.Signal(syscall.SIGTERM)
	if s, want := systemdtest.NextNotification(t, got), "STOPPING=1\nSTATUS=shutting down, 1 sessions open"; s != want {
		t.Errorf("got %q, want %q", s, want)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("got exit code %d, want 0", code)
	}
	if strings.Contains(p.stderr.String(), "sd_notify") {
		t.Errorf("sd_notify failed:\n%s", p.stderr)
	}
}

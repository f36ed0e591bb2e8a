package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

// testWrapPolicy is defaultWrapPolicy at test speed, without rebind.so.
var testWrapPolicy = wrapPolicy{
	stable: time.Second,
	first:  50 * time.Millisecond,
	max:    100 * time.Millisecond,
	limit:  4,
	grace:  2 * time.Second,
}

// startTestWrap starts argv with policy and stops it when the test ends.
func startTestWrap(t *testing.T, ctx context.Context, argv []string, mode string, listenPort int, policy wrapPolicy) *wrapped {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := startWrapped(ctx, argv, mode, listenPort, log, policy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop() })
	return w
}

// waitDone waits up to 10 s for w's Done.
func waitDone(t *testing.T, w *wrapped) {
	t.Helper()
	select {
	case <-w.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after 10s")
	}
}

// lines returns the lines of the file at path, none if it does not exist.
func lines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(string(b))
}

func TestWrapModeExit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		script   string
		wantCode int // 0: Err is nil
	}{
		{name: "ExitZero", script: "exit 0"},
		{name: "ExitStatus", script: "exit 3", wantCode: 3},
		{name: "Signal", script: "kill -TERM $$", wantCode: 128 + int(syscall.SIGTERM)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := startTestWrap(t, t.Context(), []string{"sh", "-c", tt.script}, wrapExit, 0, testWrapPolicy)
			waitDone(t, w)
			err := w.Err()
			if got := cli.ExitCode(err); got != tt.wantCode {
				t.Errorf("got Err %v (exit code %d), want exit code %d", err, got, tt.wantCode)
			}
			if tt.wantCode != 0 {
				if _, ok := errors.AsType[*exec.ExitError](err); !ok || !strings.Contains(err.Error(), "wrapped command sh: ") {
					t.Errorf("got Err %q, want an *exec.ExitError for wrapped command sh", err)
				}
			}
			if err := w.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
}

func TestWrapModeIgnore(t *testing.T) {
	t.Parallel()
	runs := filepath.Join(t.TempDir(), "runs")
	w := startTestWrap(t, t.Context(), []string{"sh", "-c", `echo run >> "$0"; exit 1`, runs}, wrapIgnore, 0, testWrapPolicy)
	pollUntil(t, "the command to run", func() bool { return len(lines(runs)) == 1 })
	select {
	case <-w.Done():
		t.Fatal("Done closed in ignore mode")
	case <-time.After(500 * time.Millisecond):
	}
	if got := len(lines(runs)); got != 1 {
		t.Errorf("got %d runs, want 1: ignore does not restart", got)
	}
	if err := w.Err(); err != nil {
		t.Errorf("got Err %v before Done, want nil", err)
	}
}

// TestWrapRespawnThrottle: a command that exits at once is restarted after
// growing delays, then given up on.
func TestWrapRespawnThrottle(t *testing.T) {
	t.Parallel()
	runs := filepath.Join(t.TempDir(), "runs")
	start := time.Now()
	w := startTestWrap(t, t.Context(), []string{"sh", "-c", `date +%s%N >> "$0"; exit 1`, runs}, wrapRespawn, 0, testWrapPolicy)
	waitDone(t, w)
	err := w.Err()
	if !errors.Is(err, errRespawnGaveUp) || cli.ExitCode(err) != cli.ExitFailure {
		t.Errorf("got Err %v (exit code %d), want errRespawnGaveUp with exit code 1", err, cli.ExitCode(err))
	}
	times := lines(runs)
	if len(times) != testWrapPolicy.limit {
		t.Fatalf("got %d runs, want %d", len(times), testWrapPolicy.limit)
	}
	// The delays before runs 2, 3 and 4: 50ms, then doubled, capped at 100ms.
	wantDelays := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
	for i, want := range wantDelays {
		a, _ := strconv.ParseInt(times[i], 10, 64)
		b, _ := strconv.ParseInt(times[i+1], 10, 64)
		if got := time.Duration(b - a); got < want {
			t.Errorf("run %d started %v after run %d, want at least %v", i+2, got, i+1, want)
		}
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("gave up after %v, want at least the 250ms of delays", d)
	}
}

// TestWrapRespawnRestarts: a command that ran long enough is restarted at
// once, and again and again.
func TestWrapRespawnRestarts(t *testing.T) {
	t.Parallel()
	pids := filepath.Join(t.TempDir(), "pids")
	policy := testWrapPolicy
	policy.stable = 100 * time.Millisecond
	policy.limit = 1 // a single quick run would end it
	w := startTestWrap(t, t.Context(), []string{"sh", "-c", `echo $$ >> "$0"; exec sleep 60`, pids}, wrapRespawn, 0, policy)
	for n := 1; n <= 3; n++ {
		pollUntil(t, fmt.Sprintf("run %d", n), func() bool { return len(lines(pids)) == n })
		time.Sleep(2 * policy.stable)
		pid, _ := strconv.Atoi(lines(pids)[n-1])
		start := time.Now()
		syscall.Kill(pid, syscall.SIGKILL)
		pollUntil(t, fmt.Sprintf("run %d", n+1), func() bool { return len(lines(pids)) == n+1 })
		if d := time.Since(start); d > time.Second {
			t.Errorf("restarted %v after the exit, want at once", d)
		}
	}
	select {
	case <-w.Done():
		t.Fatalf("Done closed (%v), want the command restarted", w.Err())
	default:
	}
	w.Stop()
	for _, s := range lines(pids) {
		if pid, _ := strconv.Atoi(s); processAlive(pid) {
			t.Errorf("run %d still alive after Stop", pid)
		}
	}
}

func TestWrapRespawnPolicy(t *testing.T) {
	t.Parallel()
	p := defaultWrapPolicy
	tests := []struct {
		name      string
		ran       time.Duration
		quick     int
		wantDelay time.Duration
		wantQuick int
		wantGive  bool
	}{
		{name: "StableRestartsAtOnce", ran: 10 * time.Second, quick: 3},
		{name: "FirstQuick", ran: 0, quick: 0, wantDelay: time.Second, wantQuick: 1},
		{name: "SecondQuick", ran: 9 * time.Second, quick: 1, wantDelay: 2 * time.Second, wantQuick: 2},
		{name: "FourthQuick", ran: time.Second, quick: 3, wantDelay: 8 * time.Second, wantQuick: 4},
		{name: "FifthQuickGivesUp", ran: time.Second, quick: 4, wantQuick: 5, wantGive: true},
		{name: "Capped", ran: 0, quick: 9, wantDelay: 30 * time.Second, wantQuick: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pp := p
			if tt.name == "Capped" {
				pp.limit = 100
			}
			delay, quick, give := pp.next(tt.ran, tt.quick)
			if delay != tt.wantDelay || quick != tt.wantQuick || give != tt.wantGive {
				t.Errorf("got (%v, %d, %v), want (%v, %d, %v)", delay, quick, give, tt.wantDelay, tt.wantQuick, tt.wantGive)
			}
		})
	}
}

// TestWrapTarget runs a real TCP server as the wrapped command and relays
// through Target, the server bound as rebind.so moves it and as told by
// WSPROXY_TARGET_PORT.
func TestWrapTarget(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("needs socat (.ci/install)")
	}
	t.Run("Rebind", func(t *testing.T) {
		t.Parallel()
		if findRebind(rebindPaths) == "" {
			if os.Getenv("CI") != "" {
				t.Fatal("rebind.so not found: .ci/install installs websockify, which has it")
			}
			t.Skip("needs websockify's rebind.so")
		}
		// wsproxy listens on the source port: the command's bind of the
		// same port can only succeed where rebind.so moves it.
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		policy := testWrapPolicy
		policy.rebind = rebindPaths
		w := startTestWrap(t, t.Context(), []string{"socat", fmt.Sprintf("TCP4-LISTEN:%d,reuseaddr,fork", port), "EXEC:cat"}, wrapExit, port, policy)
		assertTCPEcho(t, w)
	})
	t.Run("Env", func(t *testing.T) {
		t.Parallel()
		w := startTestWrap(t, t.Context(), []string{"sh", "-c", "exec socat TCP4-LISTEN:$" + wrapTargetEnv + ",bind=127.0.0.1,reuseaddr,fork EXEC:cat"}, wrapExit, 6080, testWrapPolicy)
		assertTCPEcho(t, w)
	})
}

// assertTCPEcho dials w's Target until it answers and checks that it
// echoes, and that the command is still running.
func assertTCPEcho(t *testing.T, w *wrapped) {
	t.Helper()
	var c net.Conn
	pollUntil(t, "the wrapped command to listen on "+w.Target(), func() bool {
		var err error
		c, err = net.Dial("tcp", w.Target())
		select {
		case <-w.Done():
			t.Fatalf("the command exited: %v", w.Err())
		default:
		}
		return err == nil
	})
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	const msg = "through the wrapped command"
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("got echo %q (%v), want %q", got, err, msg)
	}
}

func TestWrapEnv(t *testing.T) {
	t.Parallel()
	environ := []string{"HOME=/root", "LD_PRELOAD=/lib/other.so", "REBIND_OLD_PORT=1", wrapTargetEnv + "=2"}
	tests := []struct {
		name       string
		listenPort int
		rebind     string
		want       []string
	}{
		{name: "Rebind", listenPort: 6080, rebind: "/usr/lib/websockify/rebind.so", want: []string{
			"HOME=/root", wrapTargetEnv + "=7000",
			"LD_PRELOAD=/usr/lib/websockify/rebind.so:/lib/other.so", "REBIND_OLD_PORT=6080", "REBIND_NEW_PORT=7000",
		}},
		{name: "NoRebind", listenPort: 6080, want: []string{
			"HOME=/root", "LD_PRELOAD=/lib/other.so", wrapTargetEnv + "=7000",
		}},
		{name: "NoListenPort", listenPort: 0, rebind: "/usr/lib/websockify/rebind.so", want: []string{
			"HOME=/root", wrapTargetEnv + "=7000", "LD_PRELOAD=/lib/other.so",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := wrapEnv(environ, 7000, tt.listenPort, tt.rebind); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWrapStop: Stop ends the command's whole process group, with SIGKILL
// for what ignores SIGTERM, and reaps the command.
func TestWrapStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		script   string // writes the pid of a child in the group to $0
		mode     string
		wantKill bool // needs SIGKILL
	}{
		{name: "Group", script: `sleep 60 & echo $! > "$0"; wait`, mode: wrapExit},
		{name: "IgnoresSIGTERM", script: `trap "" TERM; sleep 60 & echo $! > "$0"; wait`, mode: wrapIgnore, wantKill: true},
		// The command exits and leaves a child: Stop still ends it.
		{name: "Leftover", script: `sleep 60 & echo $! > "$0"`, mode: wrapExit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			childFile := filepath.Join(t.TempDir(), "child")
			policy := testWrapPolicy
			policy.grace = 300 * time.Millisecond
			w := startTestWrap(t, t.Context(), []string{"sh", "-c", tt.script, childFile}, tt.mode, 0, policy)
			leader := w.pgidNow()
			pollUntil(t, "the command's child", func() bool { return len(lines(childFile)) == 1 })
			child, _ := strconv.Atoi(lines(childFile)[0])
			if tt.name == "Leftover" {
				waitDone(t, w)
			}
			start := time.Now()
			if err := w.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
			d := time.Since(start)
			if tt.wantKill && d < policy.grace {
				t.Errorf("Stop took %v, want the %v grace before SIGKILL", d, policy.grace)
			}
			if !tt.wantKill && d >= policy.grace {
				t.Errorf("Stop took %v, want less than the %v grace: SIGTERM is enough", d, policy.grace)
			}
			for _, pid := range []int{leader, child} {
				// The leader is reaped by Stop; the child by init.
				pollUntil(t, fmt.Sprintf("process %d to end", pid), func() bool { return !processAlive(pid) })
			}
			if err := w.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

// TestWrapContext: the end of ctx stops the command, as Stop does.
func TestWrapContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	w := startTestWrap(t, ctx, []string{"sleep", "60"}, wrapRespawn, 0, testWrapPolicy)
	leader := w.pgidNow()
	cancel()
	pollUntil(t, "the command to end", func() bool { return !processAlive(leader) })
	select {
	case <-w.finished:
	case <-time.After(10 * time.Second):
		t.Fatal("supervisor still running after ctx ended")
	}
	select {
	case <-w.Done():
		t.Error("Done closed by ctx's end, want it only for the command's")
	default:
	}
}

func TestWrapErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		argv    []string
		mode    string
		wantErr error // errors.Is; nil: only an error
		wantMsg string
	}{
		{name: "ErrMode", argv: []string{"true"}, mode: "restart", wantMsg: `wrap: mode "restart": want exit, ignore or respawn`},
		{name: "ErrEmpty", mode: wrapExit, wantMsg: "wrap: empty command line"},
		{name: "ErrNotFound", argv: []string{"wsproxy-no-such-command"}, mode: wrapExit, wantErr: exec.ErrNotFound},
		{name: "ErrNotExist", argv: []string{"/nonexistent/vncserver"}, mode: wrapExit, wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := runWrapped(t.Context(), tt.argv, tt.mode, 0, nil)
			if err == nil {
				w.Stop()
				t.Fatal("got nil error, want one")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

// TestWrapBinary runs the wsproxy binary in wrap mode: the wrapped socat
// binds the source port as with websockify, and -D runs and stops it.
func TestWrapBinary(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("needs socat (.ci/install)")
	}
	if findRebind(rebindPaths) == "" {
		t.Skip("needs websockify's rebind.so")
	}
	t.Run("Relay", func(t *testing.T) {
		t.Parallel()
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		p := startBinary(t, nil, fmt.Sprintf("127.0.0.1:%d", port), "--", "socat", fmt.Sprintf("TCP4-LISTEN:%d,reuseaddr,fork", port), "EXEC:cat")
		// As with websockify, a session opened before the command listens
		// fails (1011): wait for it.
		target := p.stderr.Wait(t, regexp.MustCompile(`msg="wrap: command started" .* target=(\S+)`))[1]
		pollUntil(t, "the wrapped socat to listen on "+target, func() bool {
			c, err := net.Dial("tcp", target)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		assertEcho(t, mustDialWS(t, "ws://"+p.addr+"/", nil), "through the wrapped socat")
	})
	t.Run("Xvnc", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("Xvnc"); err != nil {
			t.Skip("needs Xvnc (.ci/install)")
		}
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		display := freeTestDisplay(t)
		// Xvnc binds the port on IPv4, moved by rebind.so, and on IPv6: a
		// source without an address, as websockify's users write it, listens
		// on IPv4 only and leaves IPv6 to Xvnc.
		p := startBinary(t, nil, strconv.Itoa(port), "--",
			"Xvnc", fmt.Sprintf(":%d", display), "-rfbport", strconv.Itoa(port), "-SecurityTypes", "None")
		target := p.stderr.Wait(t, regexp.MustCompile(`msg="wrap: command started" .* target=(\S+)`))[1]
		pollUntil(t, "Xvnc to listen on "+target, func() bool {
			c, err := net.Dial("tcp", target)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		c := mustDialWS(t, "ws://"+p.addr+"/", nil)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var greeting []byte
		for len(greeting) < 12 {
			b, err := wsutil.ReadServerBinary(c)
			if err != nil {
				t.Fatalf("read: %v (got %q)", err, greeting)
			}
			greeting = append(greeting, b...)
		}
		if string(greeting) != "RFB 003.008\n" {
			t.Errorf("got %q, want Xvnc's RFB 3.8 greeting", greeting)
		}
		c.Close()
		// SIGTERM to wsproxy ends Xvnc with SIGTERM: it removes its lock.
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t); code != 0 {
			t.Errorf("got exit code %d, want 0", code)
		}
		lock := fmt.Sprintf("/tmp/.X%d-lock", display)
		pollUntil(t, "Xvnc to remove "+lock, func() bool {
			_, err := os.Stat(lock)
			return errors.Is(err, fs.ErrNotExist)
		})
	})
	t.Run("ExitStatus", func(t *testing.T) {
		t.Parallel()
		p := startBinary(t, nil, "127.0.0.1:0", "--", "sh", "-c", "sleep 0.5; exit 7")
		if code := p.wait(t); code != 7 {
			t.Errorf("got exit code %d, want the wrapped command's 7; stderr:\n%s", code, p.stderr)
		}
	})
	t.Run("Daemon", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		pidPath, childFile := filepath.Join(dir, "wsproxy.pid"), filepath.Join(dir, "child")
		cmd := exec.Command(wsproxyBinary(t), "-D", "--pid-file", pidPath, "127.0.0.1:0", "--",
			"sh", "-c", `sleep 60 & echo $! > "$0"; wait`, childFile)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("got %v, want exit status 0; output:\n%s", err, out)
		}
		b, err := os.ReadFile(pidPath)
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		pollUntil(t, "the wrapped command's child", func() bool { return len(lines(childFile)) == 1 })
		child, _ := strconv.Atoi(lines(childFile)[0])
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		pollUntil(t, "the daemon and the wrapped command to end", func() bool {
			return !processAlive(pid) && !processAlive(child)
		})
		if _, err := os.Stat(pidPath); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("pid file: got %v, want it removed", err)
		}
	})
}

// freeTestDisplay returns an X display number whose lock file and socket
// do not exist.
func freeTestDisplay(t *testing.T) int {
	t.Helper()
	for n := 200 + os.Getpid()%500; n < 1000; n++ {
		_, errLock := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n))
		_, errSock := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		if errors.Is(errLock, fs.ErrNotExist) && errors.Is(errSock, fs.ErrNotExist) {
			return n
		}
	}
	t.Fatal("no free X display")
	return 0
}

// pgidNow returns the process group of the command's current run.
func (w *wrapped) pgidNow() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pgid
}

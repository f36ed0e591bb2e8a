package vnctest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Timeout bounds each wait of the package: a program becoming ready, noVNC
// connecting, a pixel or typed text appearing, a browser action.
const Timeout = 20 * time.Second

// stopGrace is how long a stopped program has to exit after SIGTERM before it
// is killed.
const stopGrace = 5 * time.Second

// errExited is returned by waitReady when the program exited before it was
// ready.
var errExited = errors.New("vnctest: program exited before it was ready")

// process is a program that a test started, in a process group of its own,
// with its standard output and error in a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the program exited
	err     error         // the error of cmd.Wait, valid after done is closed
}

// startProcess starts cmd, named name in messages. Its output goes to a log
// file, which is logged if the test fails; t.Cleanup stops the program and
// the rest of its process group.
func startProcess(t testing.TB, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{
		name:    name,
		cmd:     cmd,
		logPath: filepath.Join(t.TempDir(), name+".log"),
		done:    make(chan struct{}),
	}
	log, err := os.Create(p.logPath)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer log.Close() // the program has its own copy
	// An *os.File, unlike a buffer, needs no copying goroutine, so Wait does
	// not wait for grandchildren that keep the output open.
	if cmd.Stdout == nil {
		cmd.Stdout = log
	}
	if cmd.Stderr == nil {
		cmd.Stderr = log
	}
	cmd.SysProcAttr = sysProcAttr()
	started := make(chan error, 1)
	go p.run(started)
	if err := <-started; err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		// The output up to now, without the noise of the stop, tells
		// what went wrong.
		failed := t.Failed()
		var out string
		if failed {
			out = p.output()
		}
		p.stop()
		if failed {
			t.Logf("output of %s (%s):\n%s", name, cmd, out)
		}
	})
	return p
}

// run starts the program and waits for it. It keeps its goroutine on one OS
// thread for the program's lifetime: on Linux the program gets SIGKILL when
// the thread that started it ends (Pdeathsig), which must not happen before
// the test stops it, and must happen if the test binary dies.
func (p *process) run(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := p.cmd.Start(); err != nil {
		started <- err
		return
	}
	started <- nil
	p.err = p.cmd.Wait()
	close(p.done)
}

// exited reports whether the program has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the program and what else runs in its process group: SIGTERM,
// then SIGKILL after stopGrace. It may be called more than once.
func (p *process) stop() {
	signalGroup(p.cmd.Process, false)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
	}
	signalGroup(p.cmd.Process, true)
	<-p.done
}

// output returns the end of the program's log.
func (p *process) output() string {
	const max = 8 << 10
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > max {
		b = append([]byte("[...]\n"), b[len(b)-max:]...)
	}
	return string(b)
}

// waitReady calls ready until it returns nil, up to Timeout. It returns
// errExited when the program exits first, or the last error of ready.
func (p *process) waitReady(ctx context.Context, addr string, ready func(context.Context, string) error) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.exited() {
			return fmt.Errorf("%w: %v", errExited, p.err)
		}
		err := ready(ctx, addr)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v: %w", Timeout, err)
		case <-tick.C:
		}
	}
}

// StartServer starts a server program on a free TCP port of 127.0.0.1 and
// returns its address, "127.0.0.1:PORT", once it is ready. name names the
// program in messages; command returns the command to start for an address;
// ready, if not nil, is called until it returns nil, each call bounded by its
// context (by default the server is ready when the address accepts a TCP
// connection). When the program exits before it is ready, as it does when
// another process took the port in between, StartServer tries again with
// another port, three times in all; then, or when the program is not ready
// within Timeout, it fails the test.
//
// t.Cleanup stops the program with SIGTERM to its process group (SIGKILL
// after a grace period); its output is logged if the test failed.
func StartServer(t testing.TB, name string, command func(addr string) *exec.Cmd, ready func(ctx context.Context, addr string) error) string {
	t.Helper()
	_, addr := startServer(t, name, command, ready)
	return addr
}

// StartConfigured starts cmd, a server program named name in messages whose
// configuration names the addresses it listens on, addrs (picked with
// FreePort), and waits until each accepts a TCP connection. It fails the
// test when the program exits first or is not ready within Timeout. It is
// stopped as StartServer's program is.
func StartConfigured(t testing.TB, name string, cmd *exec.Cmd, addrs ...string) {
	t.Helper()
	p := startProcess(t, name, cmd)
	for _, addr := range addrs {
		if err := p.waitReady(t.Context(), addr, acceptsTCP); err != nil {
			t.Fatalf("%s on %s: %v\noutput of %s:\n%s", name, addr, err, p.cmd, p.output())
		}
	}
}

// startServer is StartServer, which also returns the process.
func startServer(t testing.TB, name string, command func(addr string) *exec.Cmd, ready func(ctx context.Context, addr string) error) (*process, string) {
	t.Helper()
	if ready == nil {
		ready = acceptsTCP
	}
	const attempts = 3
	for i := range attempts {
		addr := freeAddr(t)
		p := startProcess(t, name, command(addr))
		err := p.waitReady(t.Context(), addr, ready)
		if err == nil {
			return p, addr
		}
		if !errors.Is(err, errExited) || i == attempts-1 {
			t.Fatalf("%s on %s: %v\noutput of %s:\n%s", name, addr, err, p.cmd, p.output())
		}
		t.Logf("%s on %s: %v; trying another port", name, addr, err)
	}
	panic("unreachable")
}

// freeAddr returns an address of 127.0.0.1 with a TCP port that was free a
// moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago, for
// a program whose configuration names its ports.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// acceptsTCP returns nil when addr accepts a TCP connection.
func acceptsTCP(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// Package systemdtest helps tests of programs run by systemd: socket
// activation (sd_listen_fds(3)) and readiness notification (sd_notify(3)),
// without systemd. The commands' tests and examples/systemd use it.
package systemdtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ListenerFile returns a duplicate of a new TCP listener's socket on
// 127.0.0.1, to be passed to a process as systemd passes it, and the
// listener's address. The listener itself is closed; the duplicate listens
// until the test ends.
func ListenerFile(t testing.TB) (*os.File, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, ln.Addr().String()
}

// ActivatedCommand returns a command that runs bin with args and files from
// fd 3 on, as systemd's socket activation does: LISTEN_FDS counts them,
// LISTEN_FDNAMES names them (unless names is empty), and LISTEN_PID is
// bin's pid, the shell's which exec keeps (or pid, when it is not "").
func ActivatedCommand(bin string, files []*os.File, names, pid string, args ...string) *exec.Cmd {
	if pid == "" {
		pid = "$$"
	}
	cmd := exec.Command("sh", append([]string{"-c", `LISTEN_PID=` + pid + ` exec "$0" "$@"`, bin}, args...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("LISTEN_FDS=%d", len(files)))
	if names != "" {
		cmd.Env = append(cmd.Env, "LISTEN_FDNAMES="+names)
	}
	cmd.ExtraFiles = files
	return cmd
}

// NotifySocket listens on a unix datagram socket, as systemd does for a
// service's NOTIFY_SOCKET (sd_notify(3)), and returns its path and the
// datagrams it receives. It is closed when the test ends.
func NotifySocket(t testing.TB) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := pc.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return path, got
}

// NextNotification returns the next datagram from NotifySocket other than
// the watchdog's keep-alive (WATCHDOG=1), waiting up to 10 seconds.
func NextNotification(t testing.TB, got <-chan string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case s := <-got:
			if s != "WATCHDOG=1" {
				return s
			}
		case <-timeout:
			t.Fatal("no notification from the process")
			return ""
		}
	}
}

package clitest

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

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

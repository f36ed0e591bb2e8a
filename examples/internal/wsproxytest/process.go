package wsproxytest

import (
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartServer starts cmd, a server named name in messages, and waits until
// each of addrs accepts a TCP connection. t.Cleanup stops it with SIGTERM
// (SIGKILL if it has not exited within Timeout); its output is logged if the
// test failed. It is killed if the test binary dies.
func StartServer(t testing.TB, name string, cmd *exec.Cmd, addrs ...string) {
	t.Helper()
	out := &lockedBuilder{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(Timeout):
			cmd.Process.Kill()
			<-exited
			t.Errorf("%s did not exit within %v of SIGTERM", name, Timeout)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", cmd, out)
		}
	})
	deadline := time.Now().Add(Timeout)
	for _, addr := range addrs {
		for {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				exited <- err
				t.Fatalf("%s exited at start: %v", name, err)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not accept on %s after %v: %v", name, addr, Timeout, err)
			}
		}
	}
}

// lockedBuilder is a strings.Builder safe for concurrent use.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuilder) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuilder) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

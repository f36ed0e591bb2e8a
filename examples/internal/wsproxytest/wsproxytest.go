// Package wsproxytest runs the wsproxy binary for the tests of the
// deployment examples under examples/: it builds the binary, starts it in
// front of a TCP echo server (internal/wstest's Echo) and reads wsproxy's
// log and recordings. The WebSocket clients, certificates and other
// programs (reverse proxies, Xvnc) come from internal/wstest and
// internal/vnctest.
//
// Everything it starts is stopped in t.Cleanup, and wsproxy's log is shown
// when the test failed.
package wsproxytest

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// Timeout bounds each wait of the package.
const Timeout = 15 * time.Second

// Build builds cmd/wsproxy into a directory of t.TempDir and returns the
// binary's path. The build cache makes every build after the first fast.
func Build(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the wsproxy binary")
	}
	bin := filepath.Join(t.TempDir(), "wsproxy")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/wsproxy/wsproxy/cmd/wsproxy").CombinedOutput()
	if err != nil {
		t.Fatalf("go build wsproxy: %v\n%s", err, out)
	}
	return bin
}

// Proxy is a running wsproxy binary.
type Proxy struct {
	// Addr is the address it listens on, "127.0.0.1:PORT".
	Addr string
	// RecordDir is its --record-dir.
	RecordDir string

	log *wstest.LogBuffer
}

// Start starts the wsproxy binary bin on a free port of 127.0.0.1, relaying
// to target, recording into a directory of t.TempDir and believing the
// trusted proxies (--trusted-proxy, each a CIDR), and waits until it
// listens. t.Cleanup stops it with SIGTERM and checks that it exits with
// status 0.
func Start(t testing.TB, bin, target string, trusted ...string) *Proxy {
	t.Helper()
	p := &Proxy{RecordDir: t.TempDir(), log: &wstest.LogBuffer{}}
	args := []string{"--record-dir", p.RecordDir, "--shutdown-timeout", "1"}
	for _, c := range trusted {
		args = append(args, "--trusted-proxy", c)
	}
	cmd := exec.Command(bin, append(args, "127.0.0.1:0", target)...)
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-waited:
			if err != nil {
				t.Errorf("wsproxy exited with %v, want status 0", err)
			}
		case <-time.After(Timeout):
			cmd.Process.Kill()
			<-waited
			t.Errorf("wsproxy did not exit within %v of SIGTERM", Timeout)
		}
		if t.Failed() {
			t.Logf("wsproxy %v log:\n%s", cmd.Args[1:], p.log)
		}
	})
	p.Addr = p.WaitLog(t, regexp.MustCompile(`msg=listening addr=(\S+)`))[1]
	return p
}

// WaitLog waits until wsproxy's log matches re and returns the submatches
// of the first match.
func (p *Proxy) WaitLog(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	return p.log.Wait(t, re)
}

// sessionOpenRE matches the log line of a new session.
var sessionOpenRE = regexp.MustCompile(`(?m)^.*msg="session open".*$`)

// realClientRE matches the real client of a session open line.
var realClientRE = regexp.MustCompile(`\breal_client=(\S+)`)

// RealClient waits for the log line of the first session and returns its
// real_client, or "" when the line has none (the client is the TCP peer).
func (p *Proxy) RealClient(t testing.TB) string {
	t.Helper()
	line := p.WaitLog(t, sessionOpenRE)[0]
	if m := realClientRE.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}

// Recording waits until the record directory holds one sealed recording
// (its session ended) and returns its header.
func (p *Proxy) Recording(t testing.TB) format.Header {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		files, _ := filepath.Glob(filepath.Join(p.RecordDir, "*.wsrec"))
		if len(files) > 1 {
			t.Fatalf("got recordings %q, want one", files)
		}
		if len(files) == 1 {
			r, err := format.Open(files[0], format.ReaderOptions{})
			if err == nil {
				sealed, h := r.Sealed(), r.Header()
				r.Close()
				if sealed {
					return h
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sealed recording in %s after %v: %q", p.RecordDir, Timeout, files)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// waitTimeout bounds every wait of the tests.
const waitTimeout = 10 * time.Second

// listeningRE finds the address in the "listening" line, text or JSON.
var listeningRE = regexp.MustCompile(`(?:msg=listening addr=|"msg":"listening","addr":")([^\s"]+)`)

// instance is wsproxy run in-process by startRun.
type instance struct {
	addr           string // the listening address
	stdout, stderr *wstest.LogBuffer
	cancel         context.CancelFunc
	done           chan error
}

// startRun runs wsproxy with args in-process until it listens. Unless the
// test waits for it with exit, it is stopped as a signal would stop it when
// the test ends, and must then exit with status 0.
func startRun(t *testing.T, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stdout: new(wstest.LogBuffer), stderr: new(wstest.LogBuffer), cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- run(ctx, args, in.stdout, in.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-in.done:
			in.done <- err
			if err != nil {
				t.Errorf("wsproxy %s: got error %v (exit code %d), want nil; stderr:\n%s", strings.Join(args, " "), err, cli.ExitCode(err), in.stderr)
			}
		case <-time.After(waitTimeout):
			t.Errorf("wsproxy %s did not exit; stderr:\n%s", strings.Join(args, " "), in.stderr)
		}
	})
	// The address, or an early exit.
	found := make(chan string, 1)
	go func() {
		deadline := time.After(waitTimeout)
		for {
			if m := listeningRE.FindStringSubmatch(in.stderr.String()); m != nil {
				found <- m[1]
				return
			}
			select {
			case <-in.stderr.Changed():
			case <-deadline:
				found <- ""
				return
			case <-ctx.Done():
				found <- ""
				return
			}
		}
	}()
	select {
	case in.addr = <-found:
		if in.addr == "" {
			t.Fatalf("wsproxy %s did not start; stderr:\n%s", strings.Join(args, " "), in.stderr)
		}
	case err := <-in.done:
		in.done <- err
		cancel()
		<-found
		t.Fatalf("wsproxy %s exited at start: %v; stderr:\n%s", strings.Join(args, " "), err, in.stderr)
	}
	return in
}

// exit waits for the instance to end by itself and returns its error.
func (in *instance) exit(t *testing.T) error {
	t.Helper()
	select {
	case err := <-in.done:
		in.done <- err
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("wsproxy did not exit; stderr:\n%s", in.stderr)
		return nil
	}
}

// exited reports whether the instance has ended.
func (in *instance) exited() bool {
	select {
	case err := <-in.done:
		in.done <- err
		return true
	default:
		return false
	}
}

// startEcho starts a TCP echo server on 127.0.0.1:0, or a unix one when
// network is "unix", over TLS if tlsConfig is not nil, stopped when the
// test ends.
func startEcho(t testing.TB, network string, tlsConfig *tls.Config) string {
	t.Helper()
	ln := wstest.Listen(t, network)
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	return wstest.EchoOn(t, ln)
}

// dialWS opens a WebSocket session to url ("ws://" or "wss://") with the
// subprotocol binary; netDial may be nil.
func dialWS(t testing.TB, url string, tlsConfig *tls.Config, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) (net.Conn, error) {
	t.Helper()
	c, err := wstest.TryDial(t, url, wstest.DialOptions{Protocols: []string{"binary"}, TLS: tlsConfig, NetDial: netDial})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// mustDialWS is dialWS that fails the test on error.
func mustDialWS(t testing.TB, url string, tlsConfig *tls.Config) net.Conn {
	t.Helper()
	return wstest.Dial(t, url, wstest.DialOptions{Protocols: []string{"binary"}, TLS: tlsConfig})
}

// wsConn returns c, a client's WebSocket session, as a wstest.Conn.
func wsConn(c net.Conn) *wstest.Conn {
	if wc, ok := c.(*wstest.Conn); ok {
		return wc
	}
	return wstest.Client(c)
}

// assertEcho sends msg and expects it back through an echo target.
func assertEcho(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	wsConn(c).Echo(t, msg)
}

// readClose reads frames until a close frame and returns its code.
func readClose(t testing.TB, c net.Conn) ws.StatusCode {
	t.Helper()
	return wsConn(c).ReadClose(t)
}

// issue returns a certificate that ca issued, for localhost and 127.0.0.1
// (server) or a client certificate, with serial, and its key.
func issue(t testing.TB, ca *wstest.Cert, serial int64, client bool) (certDER []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	c := ca.Issue(t, serial, client)
	return c.X509.Raw, c.Key
}

// writeCert writes a server certificate that ca issued with serial, and
// its key, into one PEM file (websockify's self.pem layout) at path.
func writeCert(t testing.TB, ca *wstest.Cert, path string, serial int64) {
	t.Helper()
	// Written beside and renamed into place, as certbot does: a reader
	// never sees half a file.
	tmp := path + ".tmp"
	b, err := os.ReadFile(ca.Issue(t, serial, false).PEMFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, tmp, b)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// servedSerial returns the serial number of the certificate served at addr.
func servedSerial(t testing.TB, addr string, conf *tls.Config) int64 {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitTimeout}, "tcp", addr, conf)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// waitFor polls cond until it is true.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The real binary, for the tests of process behaviour (signals, inetd's
// standard input, the environment of the system's roots).
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// wsproxyBinary builds wsproxy once for the test binary's run.
func wsproxyBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the wsproxy binary")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "wsproxy-test-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "wsproxy")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// process is the wsproxy binary started by startBinary.
type process struct {
	cmd    *exec.Cmd
	addr   string
	stderr *wstest.LogBuffer
	waited chan error
}

// startBinary starts the wsproxy binary with args and waits until it
// listens. It is killed when the test ends if it is still running.
func startBinary(t *testing.T, setup func(*exec.Cmd), args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(wsproxyBinary(t), args...), stderr: new(wstest.LogBuffer), waited: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	if setup != nil {
		setup(p.cmd)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.waited
		if t.Failed() {
			t.Logf("wsproxy stderr:\n%s", p.stderr)
		}
	})
	p.addr = p.stderr.Wait(t, listeningRE)[1]
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.waited:
		p.waited <- nil
	case <-time.After(waitTimeout):
		t.Fatalf("wsproxy did not exit; stderr:\n%s", p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

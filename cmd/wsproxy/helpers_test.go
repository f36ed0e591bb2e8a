package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
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
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

// waitTimeout bounds every wait of the tests.
const waitTimeout = 10 * time.Second

// syncBuffer is a bytes.Buffer safe for concurrent use, whose content can
// be waited for.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// wait returns the first submatches of re in the buffer, once it matches.
func (b *syncBuffer) wait(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		select {
		case <-b.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %q in:\n%s", re, b.String())
		}
	}
}

// listeningRE finds the address in the "listening" line, text or JSON.
var listeningRE = regexp.MustCompile(`(?:msg=listening addr=|"msg":"listening","addr":")([^\s"]+)`)

// instance is wsproxy run in-process by startRun.
type instance struct {
	addr           string // the listening address
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error
}

// startRun runs wsproxy with args in-process until it listens. Unless the
// test waits for it with exit, it is stopped as a signal would stop it when
// the test ends, and must then exit with status 0.
func startRun(t *testing.T, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stdout: newSyncBuffer(), stderr: newSyncBuffer(), cancel: cancel, done: make(chan error, 1)}
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
			case <-in.stderr.changed:
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
// network is "unix", stopped when the test ends.
func startEcho(t testing.TB, network string, tlsConfig *tls.Config) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "echo.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				io.Copy(c, c)
				c.Close()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dialWS opens a WebSocket session to url ("ws://" or "wss://"); netDial
// may be nil.
func dialWS(t testing.TB, url string, tlsConfig *tls.Config, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) (net.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	d := ws.Dialer{Protocols: []string{"binary"}, TLSConfig: tlsConfig, NetDial: netDial}
	c, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	if br != nil {
		// Frames that came with the handshake's response.
		return &bufferedConn{Conn: c, r: br}, nil
	}
	return c, nil
}

// bufferedConn reads through r, which holds what was read ahead.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// mustDialWS is dialWS that fails the test on error.
func mustDialWS(t testing.TB, url string, tlsConfig *tls.Config) net.Conn {
	t.Helper()
	c, err := dialWS(t, url, tlsConfig, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// assertEcho sends msg and expects it back through an echo target.
func assertEcho(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(waitTimeout))
	defer c.SetDeadline(time.Time{})
	if err := wsutil.WriteClientBinary(c, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	var got []byte
	for len(got) < len(msg) {
		p, err := wsutil.ReadServerBinary(c)
		if err != nil {
			t.Fatalf("read: %v (got %q so far)", err, got)
		}
		got = append(got, p...)
	}
	if string(got) != msg {
		t.Fatalf("got echo %q, want %q", got, msg)
	}
}

// readClose reads frames until a close frame and returns its code.
func readClose(t testing.TB, c net.Conn) ws.StatusCode {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		h, err := ws.ReadHeader(c)
		if err != nil {
			t.Fatalf("reading until a close frame: %v", err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c, p); err != nil {
			t.Fatalf("reading until a close frame: %v", err)
		}
		if h.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(p)
			return code
		}
	}
}

// testCA is a certificate authority for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // PEM certificate
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wsproxy test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, file: filepath.Join(t.TempDir(), "ca.pem")}
	writeFile(t, ca.file, pemBlock("CERTIFICATE", der))
	return ca
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// issue returns a certificate for localhost and 127.0.0.1 (server) or a
// client certificate, with serial, and its key.
func (ca *testCA) issue(t testing.TB, serial int64, client bool) (certDER []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	key = newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if client {
		tmpl.Subject.CommonName = "client"
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// writeCert writes a server certificate with serial and its key into one
// PEM file (websockify's self.pem layout) at path.
func (ca *testCA) writeCert(t testing.TB, path string, serial int64) {
	t.Helper()
	der, key := ca.issue(t, serial, false)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Written beside and renamed into place, as certbot does: a reader
	// never sees half a file.
	tmp := path + ".tmp"
	writeFile(t, tmp, append(pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER)...))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// clientConfig returns a TLS client configuration that trusts ca.
func (ca *testCA) clientConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
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
	stderr *syncBuffer
	waited chan error
}

// startBinary starts the wsproxy binary with args and waits until it
// listens. It is killed when the test ends if it is still running.
func startBinary(t *testing.T, setup func(*exec.Cmd), args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(wsproxyBinary(t), args...), stderr: newSyncBuffer(), waited: make(chan error, 1)}
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
	p.addr = p.stderr.wait(t, listeningRE)[1]
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

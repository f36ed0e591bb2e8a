package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// Tests of process behaviour, with the real binary: signals, inetd's
// standard input, the environment's system roots.

func TestSIGTERMGraceful(t *testing.T) {
	t.Parallel()
	p := startBinary(t, nil, "--shutdown-timeout", "0.5", "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+p.addr+"/", nil)
	assertEcho(t, c, "before SIGTERM")
	p.stderr.Wait(t, regexp.MustCompile(`msg="session open"`))
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.stderr.Wait(t, regexp.MustCompile(`msg="shutting down on signal" sessions=1 shutdown_timeout=500ms`))
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	// The session goes on during the shutdown timeout...
	assertEcho(t, c, "during the shutdown timeout")
	// ...then is closed with 1001.
	if got := readClose(t, c); got != ws.StatusGoingAway {
		t.Errorf("got close code %d, want 1001", got)
	}
	if d := time.Since(sent); d < 500*time.Millisecond {
		t.Errorf("closed %v after SIGTERM, want at least --shutdown-timeout 0.5s", d)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("got exit code %d, want 0", code)
	}
}

func TestSIGTERMSecondSignal(t *testing.T) {
	t.Parallel()
	p := startBinary(t, nil, "--shutdown-timeout", "60", "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+p.addr+"/", nil)
	assertEcho(t, c, "x")
	p.cmd.Process.Signal(syscall.SIGINT)
	p.stderr.Wait(t, regexp.MustCompile(`msg="shutting down on signal"`))
	time.Sleep(100 * time.Millisecond) // the second signal's handler is registered after the log line
	p.cmd.Process.Signal(syscall.SIGINT)
	if got := readClose(t, c); got != ws.StatusGoingAway {
		t.Errorf("got close code %d, want 1001", got)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("got exit code %d, want 0", code)
	}
}

func TestCertReloadSIGHUP(t *testing.T) {
	t.Parallel()
	ca := wstest.NewCert(t)
	cert := filepath.Join(t.TempDir(), "cert.pem")
	writeCert(t, ca, cert, 10)
	p := startBinary(t, nil, "--cert", cert, "--cert-reload", "0", "127.0.0.1:0", "localhost:5900")
	conf := ca.ClientConfig()
	if got := servedSerial(t, p.addr, conf); got != 10 {
		t.Fatalf("got serial %d, want 10", got)
	}
	writeCert(t, ca, cert, 11)
	time.Sleep(100 * time.Millisecond)
	if got := servedSerial(t, p.addr, conf); got != 10 {
		t.Fatalf("got serial %d before SIGHUP with --cert-reload 0, want 10", got)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.stderr.Wait(t, regexp.MustCompile(`msg="certificate reloaded" why=SIGHUP .* serial=11`))
	if got := servedSerial(t, p.addr, conf); got != 11 {
		t.Errorf("got serial %d after SIGHUP, want 11", got)
	}
}

func TestInetd(t *testing.T) {
	t.Parallel()
	target := startEcho(t, "tcp", nil)
	t.Run("ConnectedSocket", func(t *testing.T) {
		t.Parallel()
		// inetd's nowait mode (systemd's Accept=yes): fd 0 is the client.
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		theirs := os.NewFile(uintptr(fds[1]), "inetd")
		oursFile := os.NewFile(uintptr(fds[0]), "client")
		ours, err := net.FileConn(oursFile) // a duplicate
		oursFile.Close()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(wsproxyBinary(t), "--inetd", target)
		cmd.Stdin = theirs
		stderr := new(wstest.LogBuffer)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		theirs.Close()
		defer cmd.Process.Kill()
		stderr.Wait(t, regexp.MustCompile(`msg=listening addr=inetd`))
		ctx := t.Context()
		d := ws.Dialer{Protocols: []string{"binary"}, NetDial: func(context.Context, string, string) (net.Conn, error) { return ours, nil }}
		c, br, _, err := d.Dial(ctx, "ws://inetd/")
		if err != nil {
			t.Fatal(err)
		}
		if br != nil {
			t.Fatal("unexpected data after the handshake")
		}
		assertEcho(t, c, "through inetd")
		c.Close()
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case err := <-waited:
			if err != nil {
				t.Errorf("got %v, want exit status 0; stderr:\n%s", err, stderr)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("did not exit when its connection closed; stderr:\n%s", stderr)
		}
		stderr.Wait(t, regexp.MustCompile(`msg="inetd connection closed"`))
	})
	t.Run("ListeningSocket", func(t *testing.T) {
		t.Parallel()
		// websockify's --inetd: fd 0 is a listening socket.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		p := startBinary(t, func(cmd *exec.Cmd) { cmd.Stdin = f }, "--inetd", target)
		f.Close()
		for range 2 {
			c := mustDialWS(t, "ws://"+addr+"/", nil)
			assertEcho(t, c, "through inetd's listener")
			c.Close()
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t); code != 0 {
			t.Errorf("got exit code %d, want 0", code)
		}
	})
	t.Run("NotASocket", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(wsproxyBinary(t), "--inetd", target)
		cmd.Stdin = nil // /dev/null
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("got %v, want exit status 1", err)
		}
		if !regexp.MustCompile(`wsproxy: error: listen: inetd: standard input is not a stream socket`).Match(out) {
			t.Errorf("got output %q", out)
		}
	})
}

func TestSSLTarget(t *testing.T) {
	t.Parallel()
	ca := wstest.NewCert(t)
	der, key := issue(t, ca, 5, false)
	target := startEcho(t, "tcp", tlsServerConfig(der, key))
	_, port, _ := net.SplitHostPort(target)

	// The system's roots come from $SSL_CERT_FILE, read once per process:
	// hence the binary.
	withCA := func(cmd *exec.Cmd) { cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+ca.CertFile) }
	p := startBinary(t, withCA, "--ssl-target", "127.0.0.1:0", "localhost:"+port)
	assertEcho(t, mustDialWS(t, "ws://"+p.addr+"/", nil), "over TLS to the target")

	// The certificate is verified.
	otherCA := wstest.NewCert(t)
	untrusted := func(cmd *exec.Cmd) { cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+otherCA.CertFile) }
	p = startBinary(t, untrusted, "--ssl-target", "127.0.0.1:0", "localhost:"+port)
	if got := readClose(t, mustDialWS(t, "ws://"+p.addr+"/", nil)); got != 1011 {
		t.Errorf("target with an untrusted certificate: got close code %d, want 1011", got)
	}
	p.stderr.Wait(t, regexp.MustCompile(`certificate signed by unknown authority`))
}

func tlsServerConfig(der []byte, key *ecdsa.PrivateKey) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestDaemon(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "wsproxy.pid")
	cmd := exec.Command(wsproxyBinary(t), "-D", "--pid-file", pidFile, "127.0.0.1:0", startEcho(t, "tcp", nil))
	out, err := cmd.CombinedOutput() // returns once the daemon serves
	if err != nil {
		t.Fatalf("got %v, want exit status 0; output:\n%s", err, out)
	}
	m := listeningRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("got output %q, want the daemon's listening line", out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file holds %q", b)
	}
	c := mustDialWS(t, "ws://"+string(m[1])+"/", nil)
	assertEcho(t, c, "through the daemon")
	c.Close()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the daemon to remove its pid file", func() bool {
		_, err := os.Stat(pidFile)
		return os.IsNotExist(err)
	})
}

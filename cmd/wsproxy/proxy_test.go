package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// End-to-end tests of the command in-process: run() with a WebSocket client
// (gobwas/ws) and echo targets.

func TestProxyEcho(t *testing.T) {
	t.Parallel()
	target := startEcho(t, "tcp", nil)
	in := startRun(t, "127.0.0.1:0", target)
	c := mustDialWS(t, "ws://"+in.addr+"/websockify", nil)
	assertEcho(t, c, "RFB 003.008\n")
	ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))))
	if got := readClose(t, c); got != ws.StatusNormalClosure {
		t.Errorf("got close code %d, want the client's 1000 echoed", got)
	}
	// One line at open, one at close, from package proxy.
	in.stderr.Wait(t, regexp.MustCompile(`msg="session open" session=[0-9a-f]{32} client=127\.0\.0\.1:\d+ target=`+regexp.QuoteMeta(target)))
	in.stderr.Wait(t, regexp.MustCompile(`msg="session closed" session=[0-9a-f]{32} .*by=client code=1000 reason=bye to_target=12 to_client=12 duration=`))
}

func TestProxyTargetUnreachable(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	target := ln.Addr().String()
	ln.Close()
	in := startRun(t, "127.0.0.1:0", target)
	c := mustDialWS(t, "ws://"+in.addr+"/", nil)
	if got := readClose(t, c); got != 1011 {
		t.Errorf("got close code %d, want 1011", got)
	}
}

func TestProxyMaxMessageSize(t *testing.T) {
	t.Parallel()
	in := startRun(t, "--max-message-size", "10", "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+in.addr+"/", nil)
	assertEcho(t, c, "0123456789")
	wsutil.WriteClientBinary(c, []byte("0123456789A"))
	if got := readClose(t, c); got != 1009 {
		t.Errorf("got close code %d, want 1009", got)
	}
}

func TestProxyUnixTarget(t *testing.T) {
	t.Parallel()
	sock := startEcho(t, "unix", nil)
	in := startRun(t, "--unix-target", sock, "127.0.0.1:0")
	assertEcho(t, mustDialWS(t, "ws://"+in.addr+"/", nil), "over a unix socket")
	in.stderr.Wait(t, regexp.MustCompile(`target=unix:`+regexp.QuoteMeta(sock)))
}

func TestProxyUnixListen(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		want os.FileMode
	}{
		{"Default0600", nil, 0o600},
		{"Mode660", []string{"--unix-listen-mode", "660"}, 0o660},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sock := filepath.Join(t.TempDir(), "ws.sock")
			staleSocket(t, sock) // left by a process that was killed: replaced
			args := append(append([]string{"--unix-listen", sock}, tt.args...), startEcho(t, "tcp", nil))
			in := startRun(t, args...)
			if in.addr != sock {
				t.Errorf("got address %s, want %s", in.addr, sock)
			}
			fi, err := os.Stat(sock)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != tt.want {
				t.Errorf("got mode %v, want a socket with %v", fi.Mode(), tt.want)
			}
			dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			}
			c, err := dialWS(t, "ws://localhost/", nil, dial)
			if err != nil {
				t.Fatal(err)
			}
			assertEcho(t, c, "over --unix-listen")
			c.Close()
			in.cancel()
			if err := in.exit(t); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(sock); !os.IsNotExist(err) {
				t.Errorf("socket left after exit: %v", err)
			}
		})
	}
}

// staleSocket leaves a socket at path that nobody listens on.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

// --unix-listen refuses a path that holds anything but a stale socket,
// and leaves it as it was (websockify would unlink it).
func TestProxyUnixListenRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr string
	}{
		{"ErrRegularFile", func(t *testing.T, path string) { writeFile(t, path, []byte("DATA\n")) }, "not a socket: a regular file is there; it is left untouched"},
		{"ErrDirectory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "not a socket: a directory is there"},
		{"ErrLiveSocket", func(t *testing.T, path string) {
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
		}, "address in use: a process is listening on the socket"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "x.txt")
			tt.setup(t, path)
			before, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err = run(t.Context(), []string{"--unix-listen", path, "--unix-target", "none.sock"}, &stdout, &stderr)
			if got := cli.ExitCode(err); got != cli.ExitFailure {
				t.Errorf("got exit code %d (err %v), want %d", got, err, cli.ExitFailure)
			}
			clitest.AssertContains(t, "stderr", stderr.String(), []string{"wsproxy: error: ", path, tt.wantErr})
			now, err := os.Lstat(path)
			if err != nil || !os.SameFile(before, now) {
				t.Errorf("%s was replaced or removed: %v", path, err)
			}
			if before.Mode().IsRegular() {
				if got, _ := os.ReadFile(path); string(got) != "DATA\n" {
					t.Errorf("%s holds %q, want \"DATA\\n\"", path, got)
				}
			}
		})
	}
}

func TestProxyTLS(t *testing.T) {
	t.Parallel()
	ca := wstest.NewCert(t)
	cert := filepath.Join(t.TempDir(), "self.pem")
	writeCert(t, ca, cert, 100)
	target := startEcho(t, "tcp", nil)

	t.Run("SamePort", func(t *testing.T) {
		t.Parallel()
		in := startRun(t, "--cert", cert, "127.0.0.1:0", target)
		assertEcho(t, mustDialWS(t, "wss://"+in.addr+"/", ca.ClientConfig()), "over wss")
		assertEcho(t, mustDialWS(t, "ws://"+in.addr+"/", nil), "over ws")
		in.stderr.Wait(t, regexp.MustCompile(`msg="session open" .* tls=true`))
	})
	t.Run("SSLOnly", func(t *testing.T) {
		t.Parallel()
		in := startRun(t, "--cert", cert, "--ssl-only", "127.0.0.1:0", target)
		assertEcho(t, mustDialWS(t, "wss://"+in.addr+"/", ca.ClientConfig()), "over wss")
		if _, err := dialWS(t, "ws://"+in.addr+"/", nil, nil); err == nil {
			t.Error("plain ws:// connected with --ssl-only")
		}
		in.stderr.Wait(t, regexp.MustCompile(`msg="connection dropped" .*plain connection refused`))
	})
	t.Run("DefaultSelfPem", func(t *testing.T) {
		// websockify's default --cert is self.pem in the working directory;
		// a child process has its own.
		p := startBinary(t, func(cmd *exec.Cmd) { cmd.Dir = filepath.Dir(cert) }, "127.0.0.1:0", target)
		if got := servedSerial(t, p.addr, ca.ClientConfig()); got != 100 {
			t.Errorf("got serial %d, want 100", got)
		}
	})
	t.Run("MinVersion", func(t *testing.T) {
		t.Parallel()
		in := startRun(t, "--cert", cert, "--ssl-version", "tlsv1_3", "127.0.0.1:0", target)
		conf := ca.ClientConfig()
		conf.MaxVersion = tls.VersionTLS12
		if c, err := tls.Dial("tcp", in.addr, conf); err == nil {
			c.Close()
			t.Error("TLS 1.2 accepted with --ssl-version tlsv1_3")
		}
		conf.MaxVersion = 0
		if got := servedSerial(t, in.addr, conf); got != 100 {
			t.Errorf("got serial %d, want 100", got)
		}
	})
	t.Run("Ciphers", func(t *testing.T) {
		t.Parallel()
		in := startRun(t, "--cert", cert, "--ssl-ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384", "127.0.0.1:0", target)
		conf := ca.ClientConfig()
		conf.MaxVersion = tls.VersionTLS12
		c, err := tls.Dial("tcp", in.addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := c.ConnectionState().CipherSuite; got != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
			t.Errorf("got cipher suite %s, want TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", tls.CipherSuiteName(got))
		}
	})
}

func TestProxyVerifyClient(t *testing.T) {
	t.Parallel()
	ca := wstest.NewCert(t)
	cert := filepath.Join(t.TempDir(), "self.pem")
	writeCert(t, ca, cert, 7)
	in := startRun(t, "--cert", cert, "--verify-client", "--cafile", ca.CertFile, "127.0.0.1:0", startEcho(t, "tcp", nil))

	der, key := issue(t, ca, 8, true)
	withCert := ca.ClientConfig()
	withCert.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
	assertEcho(t, mustDialWS(t, "wss://"+in.addr+"/", withCert), "with a client certificate")

	if c, err := dialWS(t, "wss://"+in.addr+"/", ca.ClientConfig(), nil); err == nil {
		// TLS 1.3 reports the refusal on the first read.
		if _, err := wsutil.ReadServerBinary(c); err == nil {
			t.Error("a client without a certificate got through")
		}
	}
	other := wstest.NewCert(t)
	der, key = issue(t, other, 9, true)
	stranger := ca.ClientConfig()
	stranger.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
	if c, err := dialWS(t, "wss://"+in.addr+"/", stranger, nil); err == nil {
		if _, err := wsutil.ReadServerBinary(c); err == nil {
			t.Error("a client with a certificate of another CA got through")
		}
	}
}

func TestCertReload(t *testing.T) {
	t.Parallel()
	ca := wstest.NewCert(t)
	cert := filepath.Join(t.TempDir(), "cert.pem")
	writeCert(t, ca, cert, 1)
	in := startRun(t, "--cert", cert, "--cert-reload", "50ms", "127.0.0.1:0", startEcho(t, "tcp", nil))
	conf := ca.ClientConfig()
	if got := servedSerial(t, in.addr, conf); got != 1 {
		t.Fatalf("got serial %d, want 1", got)
	}
	writeCert(t, ca, cert, 2)
	waitFor(t, "the new certificate", func() bool { return servedSerial(t, in.addr, conf) == 2 })
	in.stderr.Wait(t, regexp.MustCompile(`msg="certificate reloaded" why="files changed" subject="CN=localhost" serial=2`))

	// A broken certificate keeps the current one.
	writeFile(t, cert, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	in.stderr.Wait(t, regexp.MustCompile(`level=ERROR msg="certificate not reloaded: keeping the current one"`))
	if got := servedSerial(t, in.addr, conf); got != 2 {
		t.Errorf("got serial %d after a broken update, want 2", got)
	}
	writeCert(t, ca, cert, 3)
	waitFor(t, "the certificate after the broken one", func() bool { return servedSerial(t, in.addr, conf) == 3 })
}

func TestWeb(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	web := filepath.Join(base, "web")
	for _, d := range []string{"web/app", "web/empty", "web/with-index"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(base, "secret.txt"), []byte("secret"))
	writeFile(t, filepath.Join(web, "vnc.html"), []byte("<title>noVNC</title>"))
	writeFile(t, filepath.Join(web, "app", "ui.js"), []byte("// ui"))
	writeFile(t, filepath.Join(web, "with-index", "index.html"), []byte("index"))
	for link, to := range map[string]string{"inside.html": "vnc.html", "escape-rel": "../secret.txt", "escape-abs": filepath.Join(base, "secret.txt")} {
		if err := os.Symlink(to, filepath.Join(web, link)); err != nil {
			t.Fatal(err)
		}
	}
	target := startEcho(t, "tcp", nil)
	in := startRun(t, "--web", web, "127.0.0.1:0", target)
	fileOnly := startRun(t, "--web", web, "--file-only", "127.0.0.1:0", target)
	noWeb := startRun(t, "127.0.0.1:0", target)

	tests := []struct {
		name       string
		addr       string
		method     string
		path       string // sent as is
		wantStatus int
		wantBody   string // substring
	}{
		{"File", in.addr, "GET", "/vnc.html", 200, "<title>noVNC</title>"},
		{"Nested", in.addr, "GET", "/app/ui.js", 200, "// ui"},
		{"Head", in.addr, "HEAD", "/vnc.html", 200, ""},
		{"SymlinkInside", in.addr, "GET", "/inside.html", 200, "noVNC"},
		{"DotDot", in.addr, "GET", "/../secret.txt", 0, ""}, // any refusal; the body is checked below
		{"DotDotEncoded", in.addr, "GET", "/%2e%2e/secret.txt", 0, ""},
		{"SymlinkEscapeRelative", in.addr, "GET", "/escape-rel", 403, ""},
		{"SymlinkEscapeAbsolute", in.addr, "GET", "/escape-abs", 403, ""},
		{"Missing", in.addr, "GET", "/nope.html", 404, ""},
		{"Listing", in.addr, "GET", "/app/", 200, "ui.js"},
		{"Post", in.addr, "POST", "/vnc.html", 405, ""},
		{"FileOnlyListing", fileOnly.addr, "GET", "/app/", 404, ""},
		{"FileOnlyRootListing", fileOnly.addr, "GET", "/", 404, ""},
		{"FileOnlyIndex", fileOnly.addr, "GET", "/with-index/", 200, "index"},
		{"FileOnlyFile", fileOnly.addr, "GET", "/app/ui.js", 200, "// ui"},
		{"NoWeb", noWeb.addr, "GET", "/vnc.html", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := rawHTTP(t, tt.addr, tt.method, tt.path)
			if strings.Contains(body, "secret") {
				t.Fatalf("got %d with the secret outside --web: %q", status, body)
			}
			if tt.wantStatus == 0 {
				if status == 200 {
					t.Errorf("got 200 for %s, want a refusal", tt.path)
				}
				return
			}
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %q, want %d with %q", status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	t.Run("WebSocketToo", func(t *testing.T) {
		t.Parallel()
		assertEcho(t, mustDialWS(t, "ws://"+in.addr+"/websockify", nil), "beside the files")
	})
}

// rawHTTP sends a request with path as is (a client library would clean
// it) and returns the status and body.
func rawHTTP(t *testing.T, addr, method, path string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	req, _ := http.NewRequest(method, "http://x/", nil)
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestWebNoVNC(t *testing.T) {
	t.Parallel()
	const dir = "/usr/share/novnc"
	if _, err := os.Stat(dir + "/vnc.html"); err != nil {
		t.Skip("needs Debian's novnc package")
	}
	in := startRun(t, "--web", dir, "127.0.0.1:0", startEcho(t, "tcp", nil))
	for _, p := range []string{"/vnc.html", "/vnc_lite.html", "/vnc_auto.html", "/app/ui.js", "/core/rfb.js"} {
		if status, body := rawHTTP(t, in.addr, "GET", p); status != 200 || len(body) == 0 {
			t.Errorf("GET %s: got %d with %d bytes, want 200 with the file", p, status, len(body))
		}
	}
}

func TestRunOnce(t *testing.T) {
	t.Parallel()
	in := startRun(t, "--run-once", "127.0.0.1:0", startEcho(t, "tcp", nil))
	// A static request does not count, as in websockify.
	if status, _ := rawHTTP(t, in.addr, "GET", "/"); status != 405 {
		t.Errorf("got %d, want 405", status)
	}
	first := mustDialWS(t, "ws://"+in.addr+"/", nil)
	assertEcho(t, first, "the one session")
	if _, err := dialWS(t, "ws://"+in.addr+"/", nil, nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("second session: got %v, want a 503 refusal", err)
	}
	if in.exited() {
		t.Fatal("exited while its session was open")
	}
	first.Close()
	if err := in.exit(t); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	clitest.AssertContains(t, "stderr", in.stderr.String(), []string{"exiting due to --run-once"})
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	t.Run("NoClient", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		in := startRun(t, "--timeout", "0.2", "127.0.0.1:0", startEcho(t, "tcp", nil))
		if err := in.exit(t); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("exited after %v, want at least 200ms", d)
		}
	})
	t.Run("WaitsForSession", func(t *testing.T) {
		t.Parallel()
		in := startRun(t, "--timeout", "0.2", "127.0.0.1:0", startEcho(t, "tcp", nil))
		c := mustDialWS(t, "ws://"+in.addr+"/", nil)
		in.stderr.Wait(t, regexp.MustCompile(`listener exit due to --timeout`))
		waitFor(t, "the listener to close", func() bool {
			c, err := net.Dial("tcp", in.addr)
			if err == nil {
				c.Close()
			}
			return err != nil
		})
		assertEcho(t, c, "still relayed after --timeout")
		if in.exited() {
			t.Fatal("exited while a session was open")
		}
		c.Close()
		if err := in.exit(t); err != nil {
			t.Fatal(err)
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	in := startRun(t, "--idle-timeout", "0.3", "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+in.addr+"/", nil)
	time.Sleep(500 * time.Millisecond)
	if in.exited() {
		t.Fatal("exited with a session open")
	}
	assertEcho(t, c, "not idle")
	closed := time.Now()
	c.Close()
	if err := in.exit(t); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(closed); d < 300*time.Millisecond {
		t.Errorf("exited %v after the last connection closed, want at least 300ms", d)
	}
	clitest.AssertContains(t, "stderr", in.stderr.String(), []string{"exit due to --idle-timeout"})
}

func TestLogFile(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "wsproxy.log")
	writeFile(t, logFile, []byte("an earlier line\n"))
	in := startRun(t, "--log-file", logFile, "-v", "--libserver", "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+in.addr+"/", nil)
	assertEcho(t, c, "logged")
	c.Close()
	in.stderr.Wait(t, regexp.MustCompile(`msg="session closed"`))
	in.cancel()
	if err := in.exit(t); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	clitest.AssertContains(t, "log file", got, []string{
		"an earlier line\n",
		"level=WARN msg=\"--libserver is not needed and is ignored",
		"msg=listening addr=" + in.addr,
		`msg="session open"`,
		`msg="session closed"`,
		`msg="shutting down on signal"`,
	})
	if got[len("an earlier line\n"):] != in.stderr.String() {
		t.Errorf("the log file and stderr differ:\n%s\n---\n%s", got, in.stderr)
	}
}

func TestSyslog(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	unixSock := filepath.Join(t.TempDir(), "log.sock")
	uc, err := net.ListenPacket("unixgram", unixSock)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	tests := []struct {
		name   string
		server net.PacketConn
		args   []string
		want   *regexp.Regexp
	}{
		// RFC 5424 section 6: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID
		// MSGID SD MSG; PRI 14 is user.info.
		{"RFC5424", pc, []string{"--syslog", pc.LocalAddr().String()}, regexp.MustCompile(`^<14>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ wsproxy ` + strconv.Itoa(os.Getpid()) + ` - - msg=listening addr=`)},
		{"Legacy", uc, []string{"--syslog", unixSock, "--legacy-syslog"}, regexp.MustCompile(`^<14>wsproxy\[` + strconv.Itoa(os.Getpid()) + `\]: msg=listening addr=`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "127.0.0.1:0", "localhost:5900")
			startRun(t, args...)
			buf := make([]byte, 2048)
			tt.server.SetReadDeadline(time.Now().Add(waitTimeout))
			n, _, err := tt.server.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(buf[:n]); !tt.want.MatchString(got) {
				t.Errorf("got message %q, want it to match %s", got, tt.want)
			}
		})
	}
}

func TestTraffic(t *testing.T) {
	t.Parallel()
	in := startRun(t, "--traffic", "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+in.addr+"/", nil)
	assertEcho(t, c, "one")
	assertEcho(t, c, "two")
	in.stdout.Wait(t, regexp.MustCompile(`(?s)^\nTraffic Legend:\n    \}  - Client receive\n.*    <\. - Client send partial\n\}>\{<\}>\{<$`))
}

// TestEnv checks that options are read from the environment.
func TestEnv(t *testing.T) {
	t.Setenv("WSPROXY_SSL_ONLY", "1")
	stdout, stderr := new(wstest.LogBuffer), new(wstest.LogBuffer)
	err := run(t.Context(), []string{"127.0.0.1:0", "localhost:5900"}, stdout, stderr)
	if got := cli.ExitCode(err); got != cli.ExitUsage {
		t.Errorf("got exit code %d (%v), want %d", got, err, cli.ExitUsage)
	}
	clitest.AssertContains(t, "stderr", stderr.String(), []string{"--ssl-only needs a certificate"})

	ca := wstest.NewCert(t)
	cert := filepath.Join(t.TempDir(), "cert.pem")
	writeCert(t, ca, cert, 42)
	t.Setenv("WSPROXY_CERT", cert)
	t.Setenv("WSPROXY_TIMEOUT", "30")
	in := startRun(t, "127.0.0.1:0", startEcho(t, "tcp", nil))
	if got := servedSerial(t, in.addr, ca.ClientConfig()); got != 42 {
		t.Errorf("got serial %d, want 42", got)
	}
	if _, err := dialWS(t, "ws://"+in.addr+"/", nil, nil); err == nil {
		t.Error("plain ws:// connected with WSPROXY_SSL_ONLY=1")
	}
	// The command line wins.
	in = startRun(t, "--timeout", "0.1", "127.0.0.1:0", "localhost:5900")
	if err := in.exit(t); err != nil {
		t.Fatal(err)
	}
}

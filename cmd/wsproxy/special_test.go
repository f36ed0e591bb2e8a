//go:build unix

package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/wstest"
)

// mkfifo makes a named pipe that nothing writes to: opening it blocking
// would never return.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWebSpecialFiles: a named pipe or a socket under --web is answered
// 403 at once. wsproxy used to open the pipe and wait for a writer, each
// request holding a thread for ever, until "thread exhaustion" killed it.
func TestWebSpecialFiles(t *testing.T) {
	t.Parallel()
	web := t.TempDir()
	writeFile(t, filepath.Join(web, "vnc.html"), []byte("<title>noVNC</title>"))
	mkfifo(t, filepath.Join(web, "fifo"))
	ln, err := net.Listen("unix", filepath.Join(web, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	in := startRun(t, "--web", web, "--handshake-timeout", "2", "127.0.0.1:0", startEcho(t, "tcp", nil))

	start := time.Now()
	var wg sync.WaitGroup
	for i := range 200 {
		path := []string{"/fifo", "/sock"}[i%2]
		wg.Go(func() {
			if status, body := rawHTTP(t, in.addr, "GET", path); status != 403 {
				t.Errorf("GET %s: got %d %q, want 403", path, status, body)
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("200 requests took %v", took)
	}
	if status, body := rawHTTP(t, in.addr, "GET", "/vnc.html"); status != 200 || body != "<title>noVNC</title>" {
		t.Errorf("GET /vnc.html: got %d %q", status, body)
	}
}

// TestSpecialFilesRefused: files named on the command line that are named
// pipes are refused at start with an error that says so, instead of a
// start that never ends.
func TestSpecialFilesRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	cert := filepath.Join(dir, "cert.pem")
	writeCert(t, wstest.NewCert(t), cert, 1)
	refused := "open " + fifo + ": is a named pipe, not a regular file"
	const source, target = "127.0.0.1:0", "127.0.0.1:1" // no target with a token plugin
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"Cert", []string{"--cert", fifo, source, target}, "cert: " + refused},
		{"Key", []string{"--cert", cert, "--key", fifo, source, target}, "key: " + refused},
		{"TokenFile", []string{"--token-plugin", "TokenFile", "--token-source", fifo, source}, "token file: " + refused},
		{"AuthSource", []string{"--auth-plugin", "BasicHTTPAuth", "--auth-source", fifo, source, target}, "htpasswd: " + refused},
		{"JWTKey", []string{"--token-plugin", "JWTTokenApi", "--token-source", fifo, source}, "JWT key: " + refused},
		{"SSLTargetCA", []string{"--ssl-target", "--ssl-target-ca", fifo, source, target}, "--ssl-target-ca: " + refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr := new(wstest.LogBuffer), new(wstest.LogBuffer)
			done := make(chan error, 1)
			go func() { done <- run(t.Context(), tc.args, stdout, stderr) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
					t.Errorf("got %v, stderr %q; want an error with %q", err, stderr.String(), tc.want)
				}
			case <-time.After(waitTimeout):
				t.Fatalf("wsproxy %s did not exit; stderr:\n%s", strings.Join(tc.args, " "), stderr.String())
			}
		})
	}
}

// TestCertReloadSpecialFile: a certificate replaced by a named pipe is not
// reloaded, with an error in the log, and the watch goes on: the next
// certificate is loaded. The watch used to wait on the pipe for ever.
func TestCertReloadSpecialFile(t *testing.T) {
	t.Parallel()
	ca := wstest.NewCert(t)
	cert := filepath.Join(t.TempDir(), "cert.pem")
	writeCert(t, ca, cert, 1)
	in := startRun(t, "--cert", cert, "--cert-reload", "50ms", "127.0.0.1:0", startEcho(t, "tcp", nil))
	conf := ca.ClientConfig()
	if got := servedSerial(t, in.addr, conf); got != 1 {
		t.Fatalf("got serial %d, want 1", got)
	}
	if err := os.Remove(cert); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, cert)
	in.stderr.Wait(t, regexp.MustCompile(`level=ERROR msg="certificate not reloaded: keeping the current one" why="files changed" err="cert: open `+regexp.QuoteMeta(cert)+`: is a named pipe, not a regular file"`))
	if got := servedSerial(t, in.addr, conf); got != 1 {
		t.Errorf("got serial %d with a pipe in place, want 1", got)
	}
	os.Remove(cert)
	writeCert(t, ca, cert, 2)
	waitFor(t, "the certificate after the pipe", func() bool { return servedSerial(t, in.addr, conf) == 2 })
}

// Package s3test starts a real S3-compatible server for tests: versitygw
// (github.com/versity/versitygw) with its posix backend in a temporary
// directory, listening on a loopback port. .ci/install builds it with go
// install from the Go module proxy.
//
// versitygw was chosen because it is one static Go binary that go install
// builds in about a minute from the module proxy (MinIO no longer
// publishes installable releases there, SeaweedFS needs a master, a volume
// server and a filer), it starts in milliseconds, keeps objects as plain
// files (so a test can look at what landed), and implements multipart
// uploads, ranged GETs, ListObjectsV2 paging, ListMultipartUploads and
// user metadata as S3 does.
package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/objstore"
)

// Credentials of the servers the package starts. Require puts them in the
// process's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION), where the AWS configuration chain finds them.
const (
	AccessKey = "wsproxytest"
	SecretKey = "wsproxytest-secret"
	Region    = "us-east-1"
)

// Version is the versitygw that .ci/install installs.
const Version = "v1.8.0"

// Timeout bounds the wait for the server to answer.
const Timeout = 20 * time.Second

// Binary returns the path of versitygw: in PATH, else where .ci/install
// puts it (WSPROXY_BIN, default ~/.cache/wsproxy-bin), else GOBIN or
// ~/go/bin. It returns "" if there is none.
func Binary() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	dirs := []string{os.Getenv("WSPROXY_BIN"), filepath.Join(home, ".cache", "wsproxy-bin"), os.Getenv("GOBIN"), filepath.Join(home, "go", "bin")}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// Require returns versitygw's path. When it is missing, it skips the test
// with a loud message, or fails it when the environment variable CI is
// set. It sets the test credentials in the environment (os.Setenv, for
// the whole test binary: tests that use it may run in parallel).
func Require(t testing.TB) string {
	t.Helper()
	p := Binary()
	if p == "" {
		msg := "\n" +
			"************************************************************\n" +
			"*** S3 TEST NOT RUN: versitygw is missing.\n" +
			"*** go install github.com/versity/versitygw/cmd/versitygw@" + Version + "\n" +
			"*** (bash .ci/install installs all that the tests need).\n" +
			"************************************************************"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "\n(CI is set, so this fails instead of skipping)")
		}
		t.Skip(msg)
	}
	os.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	os.Setenv("AWS_REGION", Region)
	os.Unsetenv("AWS_PROFILE")
	os.Unsetenv("AWS_SESSION_TOKEN")
	return p
}

// Server is a running versitygw. Its methods are not safe for concurrent
// use; t.Cleanup stops it.
type Server struct {
	t    testing.TB
	bin  string
	root string // the posix backend's directory: one subdirectory a bucket
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
	acc  string // versitygw's access log: one line a request
}

// Start starts versitygw with an empty root and the given buckets.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: Require(t), root: t.TempDir()}
	for _, b := range buckets {
		s.MakeBucket(b)
	}
	s.log = filepath.Join(t.TempDir(), "versitygw.log")
	s.acc = filepath.Join(t.TempDir(), "access.log")
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// MakeBucket creates a bucket (a directory of the root; versitygw's
// posix backend serves any directory of its root as a bucket).
func (s *Server) MakeBucket(name string) {
	s.t.Helper()
	if err := os.Mkdir(filepath.Join(s.root, name), 0o755); err != nil {
		s.t.Fatal(err)
	}
}

// Root returns the backend's directory: object KEY of bucket B is the file
// Root/B/KEY.
func (s *Server) Root() string { return s.root }

// Endpoint returns the server's URL.
func (s *Server) Endpoint() string { return "http://" + s.addr }

// Config returns the objstore configuration that reaches the server.
func (s *Server) Config() objstore.Config {
	return objstore.Config{Endpoint: s.Endpoint(), Region: Region, PathStyle: true}
}

// Store returns a Store of bucket on the server, whose connections are
// closed when the test ends.
func (s *Server) Store(bucket string) *objstore.Store {
	s.t.Helper()
	st, err := objstore.New(context.Background(), s.Config(), bucket)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(st.Close)
	return st
}

// Restart starts the server again after Stop, on the same port if it had
// one (a fresh loopback port the first time).
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("s3test: Restart of a running server")
	}
	if s.addr == "" {
		s.addr = freeAddr(s.t)
	}
	for try := 0; ; try++ {
		err := s.start()
		if err == nil {
			return
		}
		if try >= 25 {
			s.t.Fatalf("versitygw: %v\n%s", err, s.logText())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *Server) start() error {
	log, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(s.bin, "--port", s.addr, "--access", AccessKey, "--secret", SecretKey,
		"--region", Region, "--quiet", "--access-log", s.acc, "posix", s.root)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(Timeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("exited before it listened on %s", s.addr)
		default:
		}
		if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			c.Close()
			s.cmd, s.done = cmd, done
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-done
	return fmt.Errorf("did not listen on %s within %v", s.addr, Timeout)
}

// Operations returns the S3 operations the server has served, in order,
// as its access log names them ("GetObject", "HeadObject", ...): what
// a test counts to know how many requests a reader made.
func (s *Server) Operations() []string {
	b, _ := os.ReadFile(s.acc)
	var ops []string
	for line := range strings.SplitSeq(string(b), "\n") {
		for f := range strings.FieldsSeq(line) {
			if op, ok := strings.CutPrefix(f, "s3_"); ok {
				ops = append(ops, op)
				break
			}
		}
	}
	return ops
}

// Stop stops the server (SIGTERM, then SIGKILL); Restart starts it again.
// It is idempotent.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd = nil
	if s.t.Failed() {
		s.t.Logf("versitygw log:\n%s", s.logText())
	}
}

func (s *Server) logText() string {
	b, _ := os.ReadFile(s.log)
	return strings.TrimSpace(string(b))
}

// freeAddr returns a loopback address with a port that was free.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Verify reads the stored recording key of st through ranged GETs and
// verifies its hash chain, failing the test if it cannot.
func Verify(t testing.TB, st *objstore.Store, key string) format.Verification {
	t.Helper()
	o, err := st.Open(context.Background(), key, objstore.ObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := format.NewReader(o, o.Size(), format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	v, err := r.Verify(format.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

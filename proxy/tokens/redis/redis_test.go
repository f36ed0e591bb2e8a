package redis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens/internal/tokentest"
	"github.com/wsproxy/wsproxy/proxy/tokens/redis"
)

// websockify's parse_source_args cases (tests/test_token_plugins.py).
func TestSplitSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{``, []string{``}},
		{`:`, []string{``, ``}},
		{`::`, []string{``, ``, ``}},
		{`"`, []string{`"`}},
		{`""`, []string{`""`}},
		{`"""`, []string{`"""`}},
		{`"localhost"`, []string{`localhost`}},
		{`"localhost":`, []string{`localhost`, ``}},
		{`"localhost"::`, []string{`localhost`, ``, ``}},
		{`"local:host"`, []string{`local:host`}},
		{`"local:host:"pass"`, []string{`"local`, `host`, `pass`}},
		{`"local":"host"`, []string{`local`, `host`}},
		{`"local":host"`, []string{`local`, `host"`}},
		{`localhost:6379:1:pass"word:"my-app-namespace:dev"`, []string{`localhost`, `6379`, `1`, `pass"word`, `my-app-namespace:dev`}},
		{`a:"b:c"d:e`, []string{`a`, `"b`, `c"d`, `e`}},
	}
	for _, tt := range tests {
		if got := redis.SplitSource(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("redis.SplitSource(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// websockify's TokenRedis source cases.
func TestParseRedisSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    redis.Source
		wantErr bool
	}{
		{"127.0.0.1", redis.Source{"127.0.0.1", 6379, 0, "", ""}, false},
		{"127.0.0.1:1234", redis.Source{"127.0.0.1", 1234, 0, "", ""}, false},
		{"127.0.0.1:1234:2", redis.Source{"127.0.0.1", 1234, 2, "", ""}, false},
		{"127.0.0.1:1234:2:verysecret", redis.Source{"127.0.0.1", 1234, 2, "verysecret", ""}, false},
		{"127.0.0.1:1234:2:verysecret:namespace", redis.Source{"127.0.0.1", 1234, 2, "verysecret", "namespace"}, false},
		{"127.0.0.1:::verysecret", redis.Source{"127.0.0.1", 6379, 0, "verysecret", ""}, false},
		{"127.0.0.1::::", redis.Source{"127.0.0.1", 6379, 0, "", ""}, false},
		{"127.0.0.1:::", redis.Source{"127.0.0.1", 6379, 0, "", ""}, false},
		{"127.0.0.1::", redis.Source{"127.0.0.1", 6379, 0, "", ""}, false},
		{"127.0.0.1:", redis.Source{"127.0.0.1", 6379, 0, "", ""}, false},
		{"127.0.0.1::::namespace", redis.Source{"127.0.0.1", 6379, 0, "", "namespace"}, false},
		{`127.0.0.1::::"ns1:ns2"`, redis.Source{"127.0.0.1", 6379, 0, "", "ns1:ns2"}, false},
		{"127.0.0.1::2", redis.Source{"127.0.0.1", 6379, 2, "", ""}, false},
		{"127.0.0.1:1234::verysecret", redis.Source{"127.0.0.1", 1234, 0, "verysecret", ""}, false},
		{"127.0.0.1::2:verysecret", redis.Source{"127.0.0.1", 6379, 2, "verysecret", ""}, false},
		{"127.0.0.1::2:", redis.Source{"127.0.0.1", 6379, 2, "", ""}, false},
		{`127.0.0.1::::"pass:word"`, redis.Source{"127.0.0.1", 6379, 0, "", "pass:word"}, false},
		{`"::1":6380`, redis.Source{"::1", 6380, 0, "", ""}, false},
		{"127.0.0.1:port", redis.Source{}, true},
		{"127.0.0.1:0", redis.Source{}, true},
		{"127.0.0.1:1:db", redis.Source{}, true},
		{"127.0.0.1:1:-1", redis.Source{}, true},
		{"a:1:2:3:4:5", redis.Source{}, true},
		{"", redis.Source{}, true},
		{":6379", redis.Source{}, true},
	}
	for _, tt := range tests {
		got, err := redis.ParseSource(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("redis.ParseSource(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// requireProgram skips the test when a program is missing, loudly, or
// fails it when CI is set: a CI machine must have it.
func requireProgram(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("TEST NOT RUN: %s is missing; install the Debian package %s (bash .ci/install)", name, pkg)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so this fails instead of skipping)")
	}
	t.Skip(msg)
	return ""
}

// redisServer is a redis-server the test started.
type redisServer struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts redis-server on a free port of 127.0.0.1, with args
// (such as "--requirepass", "x"); it is stopped when the test ends.
func startRedis(t testing.TB, args ...string) *redisServer {
	t.Helper()
	bin := requireProgram(t, "redis-server", "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	args = append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "log"),
	}, args...)
	s := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: exec.Command(bin, args...), done: make(chan struct{})}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", s.addr)
		if err == nil {
			// PING answers +PONG, or -NOAUTH with a password: up either way.
			fmt.Fprint(c, "PING\r\n")
			c.SetReadDeadline(time.Now().Add(time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH")) {
				return s
			}
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("redis-server exited:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	s.cmd.Process.Kill()
	<-s.done
}

// set runs SET key value, authenticating with password if not empty.
func (s *redisServer) set(t testing.TB, db int, password, key, value string) {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	cmd := func(args ...string) {
		t.Helper()
		fmt.Fprintf(c, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(c, "$%d\r\n%s\r\n", len(a), a)
		}
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "+OK") {
			t.Fatalf("redis %q: %q, %v", args[0], line, err)
		}
	}
	if password != "" {
		cmd("AUTH", password)
	}
	cmd("SELECT", strconv.Itoa(db))
	cmd("SET", key, value)
}

// TokenRedis against a real redis-server: JSON and plain values,
// namespaces, databases, passwords.
func TestRedisTokens(t *testing.T) {
	t.Parallel()
	srv := startRedis(t, "--requirepass", "very:secret")
	for key, value := range map[string]string{
		"json":         `{"host": "remote_host:5900"}`,
		"jsonspaces":   ` {"host": "remote_host:5901"} `,
		"plain":        "remote_host:5902",
		"plainspaces":  " remote_host:5903\n",
		"v6":           "[::1]:5904",
		"sock":         "unix_socket:/run/vnc.sock",
		"badjson":      `{"host": "remote_host:5900"   `,
		"nohost":       `{"hostname": "remote_host:5900"}`,
		"garbage":      "remote_host",
		"app:dev:ns":   "namespaced:5905",
		"app:dev:json": `{"host":"namespaced:5906"}`,
	} {
		srv.set(t, 0, "very:secret", key, value)
	}
	srv.set(t, 3, "very:secret", "db3", "in_db3:5907")

	host, port, _ := net.SplitHostPort(srv.addr)
	r, err := redis.NewTokens(host+":"+port+`::"very:secret"`, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tokentest.WantTarget(t, r, "json", "tcp", "remote_host:5900")
	tokentest.WantTarget(t, r, "jsonspaces", "tcp", "remote_host:5901")
	tokentest.WantTarget(t, r, "plain", "tcp", "remote_host:5902")
	tokentest.WantTarget(t, r, "plainspaces", "tcp", "remote_host:5903")
	tokentest.WantTarget(t, r, "v6", "tcp", "[::1]:5904")
	tokentest.WantTarget(t, r, "sock", "unix", "/run/vnc.sock")
	tokentest.WantErr(t, r, "nope", proxy.ErrUnknownToken)
	tokentest.WantErr(t, r, "db3", proxy.ErrUnknownToken)
	for _, tok := range []string{"badjson", "nohost", "garbage"} {
		tokentest.WantErr(t, r, tok, nil)
	}

	ns, err := redis.NewTokens(host+":"+port+`:0:"very:secret":"app:dev"`, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	tokentest.WantTarget(t, ns, "ns", "tcp", "namespaced:5905")
	tokentest.WantTarget(t, ns, "json", "tcp", "namespaced:5906")
	tokentest.WantErr(t, ns, "plain", proxy.ErrUnknownToken)

	db3, err := redis.NewTokens(host+":"+port+`:3:"very:secret"`, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db3.Close()
	tokentest.WantTarget(t, db3, "db3", "tcp", "in_db3:5907")

	noauth, err := redis.NewTokens(srv.addr, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer noauth.Close()
	tokentest.WantErr(t, noauth, "json", nil)
}

// A Redis that goes down fails lookups at once with a 502, and they work
// again when it is back; one that does not answer fails them after the
// timeout with a 504. Neither hangs.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	srv.set(t, 0, "", "tok", "remote_host:5900")
	r, err := redis.NewTokens(srv.addr, redis.Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tokentest.WantTarget(t, r, "tok", "tcp", "remote_host:5900")
	srv.stop()

	for range 2 { // a pooled connection, then a new one
		start := time.Now()
		_, err := r.Lookup(t.Context(), "tok")
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("Lookup with Redis down took %v", elapsed)
		}
		status := tokentest.Status(err)
		if err == nil || (status != http.StatusBadGateway && status != http.StatusGatewayTimeout) {
			t.Errorf("Lookup with Redis down: %v (HTTP %d), want a 502", err, status)
		}
	}

	// A server that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func() {
		ln.Close()
		<-accepted
		for _, c := range conns {
			c.Close()
		}
	}()
	silent, err := redis.NewTokens(ln.Addr().String(), redis.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	_, err = silent.Lookup(t.Context(), "tok")
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Lookup on a silent server took %v, want about the 300ms timeout", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lookup on a silent server: %v, want DeadlineExceeded", err)
	}
	if status := tokentest.Status(err); status != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", status)
	}
}

package proxy_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/wsproxy/wsproxy/proxy"
)

// syncBuffer is a log destination that tests may read while it is written.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantTarget looks token up and checks the target it resolves to.
func wantTarget(t testing.TB, tokens proxy.Tokens, token, network, address string) {
	t.Helper()
	got, err := tokens.Lookup(t.Context(), token)
	if err != nil {
		t.Errorf("Lookup(%q): %v; want %s %s", token, err, network, address)
		return
	}
	if got.Network != network || got.Address != address {
		t.Errorf("Lookup(%q) = %s %s, want %s %s", token, got.Network, got.Address, network, address)
	}
}

// wantErr looks token up and checks that it fails with target (nil for an
// error that is neither proxy.ErrUnknownToken nor proxy.ErrInvalidToken).
func wantErr(t testing.TB, tokens proxy.Tokens, token string, target error) {
	t.Helper()
	got, err := tokens.Lookup(t.Context(), token)
	switch {
	case err == nil:
		t.Errorf("Lookup(%q) = %+v, want an error", token, got)
	case target != nil && !errors.Is(err, target):
		t.Errorf("Lookup(%q): %v, want %v", token, err, target)
	case target == nil && (errors.Is(err, proxy.ErrUnknownToken) || errors.Is(err, proxy.ErrInvalidToken)):
		t.Errorf("Lookup(%q): %v, want a lookup failure", token, err)
	}
}

// The shapes of websockify's token files (its tests' fixtures and
// documentation): "token: host:port", tabs, comments, IPv6, unix sockets;
// bad lines are skipped with a warning that does not show the token.
func TestTokenFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, strings.Join([]string{
		"# VNC servers",
		"",
		"testhost: remote_host:5900",
		"tab:\tremote_host:5901",
		"  indented: remote_host:5902  ",
		"crlf: remote_host:5903\r",
		"v6: ::1:5904",
		"v6b: [fe80::1]:5905",
		"sock: unix_socket:/run/vnc.sock",
		"colon:in:token: remote_host:5906",
		"dup: first:1",
		"dup: second:2",
		"secret-nocolon remote_host:1",
		"secret-two: a: b:1",
		"secret-noport: remote_host",
		"secret-portname: remote_host:vnc",
		": remote_host:1",
		"   # indented comment",
	}, "\n"))
	var logs syncBuffer
	f, err := proxy.NewTokenFile(path, proxy.TokenFileOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	wantTarget(t, f, "testhost", "tcp", "remote_host:5900")
	wantTarget(t, f, "tab", "tcp", "remote_host:5901")
	wantTarget(t, f, "indented", "tcp", "remote_host:5902")
	wantTarget(t, f, "crlf", "tcp", "remote_host:5903")
	wantTarget(t, f, "v6", "tcp", "[::1]:5904")
	wantTarget(t, f, "v6b", "tcp", "[fe80::1]:5905")
	wantTarget(t, f, "sock", "unix", "/run/vnc.sock")
	wantTarget(t, f, "colon:in:token", "tcp", "remote_host:5906")
	wantTarget(t, f, "dup", "tcp", "second:2")
	for _, tok := range []string{"secret-nocolon", "secret-two", "secret-noport", "secret-portname", "", "nope", "# VNC servers"} {
		wantErr(t, f, tok, proxy.ErrUnknownToken)
	}
	out := logs.String()
	for _, line := range []string{"line=13", "line=14", "line=15", "line=16", "line=17"} {
		if !strings.Contains(out, "line skipped") || !strings.Contains(out, line) {
			t.Errorf("log does not report %s:\n%s", line, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("log shows a token:\n%s", out)
	}
	if !strings.Contains(out, "line=12") || !strings.Contains(out, "given again") {
		t.Errorf("log does not report the duplicate token:\n%s", out)
	}
}

// A directory's regular files are read; subdirectories are not.
func TestTokenFileDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a"), "testhost1: remote_host1:5901\n")
	writeFile(t, filepath.Join(dir, "b.conf"), "testhost2: remote_host2:5902\n")
	writeFile(t, filepath.Join(dir, "sub", "c"), "testhost3: remote_host3:5903\n")
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	f, err := proxy.NewTokenFile(dir, proxy.TokenFileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantTarget(t, f, "testhost1", "tcp", "remote_host1:5901")
	wantTarget(t, f, "testhost2", "tcp", "remote_host2:5902")
	wantErr(t, f, "testhost3", proxy.ErrUnknownToken)
}

func TestTokenFileMissing(t *testing.T) {
	t.Parallel()
	if _, err := proxy.NewTokenFile(filepath.Join(t.TempDir(), "nope"), proxy.TokenFileOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("proxy.NewTokenFile of a missing file: %v, want ErrNotExist", err)
	}
}

// TokenFile picks up changes to the file, and files added to or removed
// from a directory; ReadOnlyTokenFile does not.
func TestTokenFileReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	writeFile(t, file, "a: host:1\n")
	f, err := proxy.NewTokenFile(file, proxy.TokenFileOptions{Reload: true})
	if err != nil {
		t.Fatal(err)
	}
	ro, err := proxy.NewTokenFile(file, proxy.TokenFileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantTarget(t, f, "a", "tcp", "host:1")

	// In place, the same size: seen at once, within the timestamp's tick.
	writeFile(t, file, "a: host:2\n")
	wantTarget(t, f, "a", "tcp", "host:2")
	wantTarget(t, ro, "a", "tcp", "host:1")

	// Replaced by a rename, as editors and config tools do.
	tmp := filepath.Join(dir, "tokens.tmp")
	writeFile(t, tmp, "b: other:3\n")
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	wantTarget(t, f, "b", "tcp", "other:3")
	wantErr(t, f, "a", proxy.ErrUnknownToken)

	// Removed: the lookup fails (it does not serve what is gone), and
	// works again once the file is back.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f, "b", os.ErrNotExist)
	writeFile(t, file, "c: third:4\n")
	wantTarget(t, f, "c", "tcp", "third:4")
	wantTarget(t, ro, "a", "tcp", "host:1")

	// Directory: files added and removed.
	tdir := filepath.Join(dir, "tokens.d")
	writeFile(t, filepath.Join(tdir, "one"), "one: h1:1\n")
	fd, err := proxy.NewTokenFile(tdir, proxy.TokenFileOptions{Reload: true})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, fd, "two", proxy.ErrUnknownToken)
	writeFile(t, filepath.Join(tdir, "two"), "two: h2:2\n")
	wantTarget(t, fd, "two", "tcp", "h2:2")
	os.Remove(filepath.Join(tdir, "one"))
	wantErr(t, fd, "one", proxy.ErrUnknownToken)
}

// TokenFileName reads the file named by the token; the token is a plain
// file name that cannot lead out of the directory.
func TestTokenFileName(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "tokens")
	writeFile(t, filepath.Join(dir, "vm1"), "remote_host:5900\n")
	writeFile(t, filepath.Join(dir, "vm2"), "unix_socket:/run/vnc.sock")
	writeFile(t, filepath.Join(dir, "bad"), "not a target\n")
	writeFile(t, filepath.Join(dir, "big"), "h:1"+strings.Repeat(" ", proxy.MaxTargetFile))
	writeFile(t, filepath.Join(dir, "sub", "vm3"), "remote_host:5903\n")
	writeFile(t, filepath.Join(root, "secret"), "evil:22\n")
	if err := os.Symlink("../secret", filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("vm1", filepath.Join(dir, "in")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := proxy.NewTokenFileName(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantTarget(t, d, "vm1", "tcp", "remote_host:5900")
	wantTarget(t, d, "vm2", "unix", "/run/vnc.sock")
	wantTarget(t, d, "in", "tcp", "remote_host:5900")
	for _, tok := range []string{"../secret", "sub/vm3", "/etc/hostname", ".", "..", "", "out", "fifo", "sub", "nope", "vm1/x", "a\x00b"} {
		wantErr(t, d, tok, proxy.ErrUnknownToken)
	}
	wantErr(t, d, "bad", nil)
	wantErr(t, d, "big", nil)

	if _, err := proxy.NewTokenFileName(filepath.Join(dir, "vm1")); err == nil {
		t.Error("proxy.NewTokenFileName of a file: no error")
	}
}

// UnixDomainSocketDirectory: sockets inside the directory only.
func TestSocketDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "s")
	listen := func(path string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(path), 0o755)
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}
	listen(filepath.Join(dir, "vm1.sock"))
	listen(filepath.Join(dir, "sub", "vm2.sock"))
	listen(filepath.Join(root, "outside.sock"))
	writeFile(t, filepath.Join(dir, "file"), "h:1")
	if err := os.Symlink("../outside.sock", filepath.Join(dir, "out.sock")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("vm1.sock", filepath.Join(dir, "in.sock")); err != nil {
		t.Fatal(err)
	}
	d, err := proxy.NewSocketDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantTarget(t, d, "vm1.sock", "unix", filepath.Join(dir, "vm1.sock"))
	wantTarget(t, d, "sub/vm2.sock", "unix", filepath.Join(dir, "sub", "vm2.sock"))
	wantTarget(t, d, "in.sock", "unix", filepath.Join(dir, "vm1.sock"))
	for _, tok := range []string{"../outside.sock", "sub/../../outside.sock", filepath.Join(root, "outside.sock"), "out.sock", "file", "sub", "", ".", "nope.sock"} {
		wantErr(t, d, tok, proxy.ErrUnknownToken)
	}
}

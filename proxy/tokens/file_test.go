package tokens_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens"
	"github.com/wsproxy/wsproxy/proxy/tokens/internal/tokentest"
)

// The shapes of websockify's token files (its tests' fixtures and
// documentation): "token: host:port", tabs, comments, IPv6, unix sockets;
// bad lines are skipped with a warning that does not show the token.
func TestTokenFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	tokentest.WriteFile(t, path, strings.Join([]string{
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
	var logs bytes.Buffer // written by NewFile and Lookup, in this goroutine
	f, err := tokens.NewFile(path, tokens.FileOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	tokentest.WantTarget(t, f, "testhost", "tcp", "remote_host:5900")
	tokentest.WantTarget(t, f, "tab", "tcp", "remote_host:5901")
	tokentest.WantTarget(t, f, "indented", "tcp", "remote_host:5902")
	tokentest.WantTarget(t, f, "crlf", "tcp", "remote_host:5903")
	tokentest.WantTarget(t, f, "v6", "tcp", "[::1]:5904")
	tokentest.WantTarget(t, f, "v6b", "tcp", "[fe80::1]:5905")
	tokentest.WantTarget(t, f, "sock", "unix", "/run/vnc.sock")
	tokentest.WantTarget(t, f, "colon:in:token", "tcp", "remote_host:5906")
	tokentest.WantTarget(t, f, "dup", "tcp", "second:2")
	for _, tok := range []string{"secret-nocolon", "secret-two", "secret-noport", "secret-portname", "", "nope", "# VNC servers"} {
		tokentest.WantErr(t, f, tok, proxy.ErrUnknownToken)
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
	tokentest.WriteFile(t, filepath.Join(dir, "a"), "testhost1: remote_host1:5901\n")
	tokentest.WriteFile(t, filepath.Join(dir, "b.conf"), "testhost2: remote_host2:5902\n")
	tokentest.WriteFile(t, filepath.Join(dir, "sub", "c"), "testhost3: remote_host3:5903\n")
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	f, err := tokens.NewFile(dir, tokens.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokentest.WantTarget(t, f, "testhost1", "tcp", "remote_host1:5901")
	tokentest.WantTarget(t, f, "testhost2", "tcp", "remote_host2:5902")
	tokentest.WantErr(t, f, "testhost3", proxy.ErrUnknownToken)
}

func TestTokenFileMissing(t *testing.T) {
	t.Parallel()
	if _, err := tokens.NewFile(filepath.Join(t.TempDir(), "nope"), tokens.FileOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tokens.NewFile of a missing file: %v, want ErrNotExist", err)
	}
}

// TokenFile picks up changes to the file, and files added to or removed
// from a directory; ReadOnlyTokenFile does not.
func TestTokenFileReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	tokentest.WriteFile(t, file, "a: host:1\n")
	f, err := tokens.NewFile(file, tokens.FileOptions{Reload: true})
	if err != nil {
		t.Fatal(err)
	}
	ro, err := tokens.NewFile(file, tokens.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokentest.WantTarget(t, f, "a", "tcp", "host:1")

	// In place, the same size: seen at once, within the timestamp's tick.
	tokentest.WriteFile(t, file, "a: host:2\n")
	tokentest.WantTarget(t, f, "a", "tcp", "host:2")
	tokentest.WantTarget(t, ro, "a", "tcp", "host:1")

	// Replaced by a rename, as editors and config tools do.
	tmp := filepath.Join(dir, "tokens.tmp")
	tokentest.WriteFile(t, tmp, "b: other:3\n")
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	tokentest.WantTarget(t, f, "b", "tcp", "other:3")
	tokentest.WantErr(t, f, "a", proxy.ErrUnknownToken)

	// Removed: the lookup fails (it does not serve what is gone), and
	// works again once the file is back.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	tokentest.WantErr(t, f, "b", os.ErrNotExist)
	tokentest.WriteFile(t, file, "c: third:4\n")
	tokentest.WantTarget(t, f, "c", "tcp", "third:4")
	tokentest.WantTarget(t, ro, "a", "tcp", "host:1")

	// Directory: files added and removed.
	tdir := filepath.Join(dir, "tokens.d")
	tokentest.WriteFile(t, filepath.Join(tdir, "one"), "one: h1:1\n")
	fd, err := tokens.NewFile(tdir, tokens.FileOptions{Reload: true})
	if err != nil {
		t.Fatal(err)
	}
	tokentest.WantErr(t, fd, "two", proxy.ErrUnknownToken)
	tokentest.WriteFile(t, filepath.Join(tdir, "two"), "two: h2:2\n")
	tokentest.WantTarget(t, fd, "two", "tcp", "h2:2")
	os.Remove(filepath.Join(tdir, "one"))
	tokentest.WantErr(t, fd, "one", proxy.ErrUnknownToken)
}

// TokenFileName reads the file named by the token; the token is a plain
// file name that cannot lead out of the directory.
func TestTokenFileName(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "tokens")
	tokentest.WriteFile(t, filepath.Join(dir, "vm1"), "remote_host:5900\n")
	tokentest.WriteFile(t, filepath.Join(dir, "vm2"), "unix_socket:/run/vnc.sock")
	tokentest.WriteFile(t, filepath.Join(dir, "bad"), "not a target\n")
	tokentest.WriteFile(t, filepath.Join(dir, "big"), "h:1"+strings.Repeat(" ", tokens.MaxTargetFile))
	tokentest.WriteFile(t, filepath.Join(dir, "sub", "vm3"), "remote_host:5903\n")
	tokentest.WriteFile(t, filepath.Join(root, "secret"), "evil:22\n")
	if err := os.Symlink("../secret", filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("vm1", filepath.Join(dir, "in")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := tokens.NewFileName(dir)
	if err != nil {
		t.Fatal(err)
	}
	tokentest.WantTarget(t, d, "vm1", "tcp", "remote_host:5900")
	tokentest.WantTarget(t, d, "vm2", "unix", "/run/vnc.sock")
	tokentest.WantTarget(t, d, "in", "tcp", "remote_host:5900")
	for _, tok := range []string{"../secret", "sub/vm3", "/etc/hostname", ".", "..", "", "out", "fifo", "sub", "nope", "vm1/x", "a\x00b"} {
		tokentest.WantErr(t, d, tok, proxy.ErrUnknownToken)
	}
	tokentest.WantErr(t, d, "bad", nil)
	tokentest.WantErr(t, d, "big", nil)

	if _, err := tokens.NewFileName(filepath.Join(dir, "vm1")); err == nil {
		t.Error("tokens.NewFileName of a file: no error")
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
	tokentest.WriteFile(t, filepath.Join(dir, "file"), "h:1")
	if err := os.Symlink("../outside.sock", filepath.Join(dir, "out.sock")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("vm1.sock", filepath.Join(dir, "in.sock")); err != nil {
		t.Fatal(err)
	}
	d, err := tokens.NewSocketDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tokentest.WantTarget(t, d, "vm1.sock", "unix", filepath.Join(dir, "vm1.sock"))
	tokentest.WantTarget(t, d, "sub/vm2.sock", "unix", filepath.Join(dir, "sub", "vm2.sock"))
	tokentest.WantTarget(t, d, "in.sock", "unix", filepath.Join(dir, "vm1.sock"))
	for _, tok := range []string{"../outside.sock", "sub/../../outside.sock", filepath.Join(root, "outside.sock"), "out.sock", "file", "sub", "", ".", "nope.sock"} {
		tokentest.WantErr(t, d, tok, proxy.ErrUnknownToken)
	}
}

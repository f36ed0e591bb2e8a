package listen

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// staleSocketAt leaves a socket at path that nobody listens on, as a
// process that was killed leaves it.
func staleSocketAt(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

// liveSocketAt listens on path until the test ends.
func liveSocketAt(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
}

// sameFile reports whether path is still the file fi describes.
func sameFile(path string, fi fs.FileInfo) bool {
	now, err := os.Lstat(path)
	return err == nil && os.SameFile(fi, now)
}

func TestUnix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string) // what is at path before Unix
		wantErr error                           // nil: Unix listens
		wantMsg string                          // in the error
	}{
		{name: "OKNothing", setup: func(*testing.T, string) {}},
		{name: "OKStaleSocket", setup: staleSocketAt},
		{name: "ErrInUse", setup: liveSocketAt, wantErr: ErrInUse, wantMsg: "a process is listening on the socket"},
		{name: "ErrRegularFile", setup: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("DATA\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrNotSocket, wantMsg: "a regular file is there; it is left untouched"},
		{name: "ErrDirectory", setup: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrNotSocket, wantMsg: "a directory"},
		{name: "ErrFIFO", setup: func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrNotSocket, wantMsg: "a named pipe (FIFO)"},
		{name: "ErrSymlinkToFile", setup: func(t *testing.T, path string) {
			target := path + ".target"
			if err := os.WriteFile(target, []byte("DATA\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrNotSocket, wantMsg: "a symbolic link"},
		{name: "ErrSymlinkToStaleSocket", setup: func(t *testing.T, path string) {
			staleSocketAt(t, path+".target")
			if err := os.Symlink(path+".target", path); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrNotSocket, wantMsg: "a symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "ws.sock")
			tt.setup(t, path)
			before, _ := os.Lstat(path)
			var content []byte
			if before != nil && before.Mode().IsRegular() {
				content, _ = os.ReadFile(path)
			}

			ln, remove, err := Unix(path, 0o640)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), path) {
					t.Fatalf("got error %v, want %v naming %s: %s", err, tt.wantErr, path, tt.wantMsg)
				}
				if ln != nil || remove != nil {
					t.Error("got a listener with the error")
				}
				if !sameFile(path, before) {
					t.Errorf("%s was replaced or removed", path)
				}
				if content != nil {
					if got, _ := os.ReadFile(path); string(got) != string(content) {
						t.Errorf("%s holds %q, want %q", path, got, content)
					}
				}
				assertNoLeftovers(t, dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o640 {
				t.Errorf("got %v, want a socket with mode 0640", fi.Mode())
			}
			if before != nil && os.SameFile(before, fi) {
				t.Error("the stale socket is still there")
			}
			if got := ln.Addr().String(); got != path {
				t.Errorf("Addr %s, want %s", got, path)
			}
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatalf("dial the new socket: %v", err)
			}
			c.Close()
			assertNoLeftovers(t, dir)
			if err := remove(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("after remove: %v, want the socket gone", err)
			}
		})
	}
}

// assertNoLeftovers checks that Unix left no private directory behind.
func assertNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".listen-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// remove leaves alone a file that took the socket's place: only the socket
// Unix made is removed.
func TestUnixRemoveOnlyOurs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		replace func(t *testing.T, path string)
	}{
		{"RegularFile", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("DATA\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"OtherSocket", staleSocketAt},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "ws.sock")
			ln, remove, err := Unix(path, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			tt.replace(t, path)
			other, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := remove(); err != nil {
				t.Fatal(err)
			}
			if !sameFile(path, other) {
				t.Errorf("remove removed the file that replaced the socket")
			}
		})
	}
}

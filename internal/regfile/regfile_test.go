//go:build unix

package regfile

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// specialDir returns a directory holding a regular file "file", a
// directory "dir", a named pipe "fifo", a unix socket "sock", and links
// "link-fifo" and "link-file" to them. Nothing writes to the pipe: opening
// it blocking would never return.
func specialDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	must(t, os.WriteFile(filepath.Join(d, "file"), []byte("content"), 0o644))
	must(t, os.Mkdir(filepath.Join(d, "dir"), 0o755))
	must(t, syscall.Mkfifo(filepath.Join(d, "fifo"), 0o644))
	// The socket's path must be short: listen from inside d.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(d, "sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	must(t, os.Symlink("fifo", filepath.Join(d, "link-fifo")))
	must(t, os.Symlink("file", filepath.Join(d, "link-file")))
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// quickly runs f, failing the test if it does not return within a
// second: a blocking open of a named pipe never returns.
func quickly[T any](t *testing.T, f func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(time.Second):
		t.Fatal("blocked")
		panic("unreachable")
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	d := specialDir(t)
	root, err := os.OpenRoot(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	opens := map[string]func(name string) (*os.File, error){
		"Open":   func(name string) (*os.File, error) { return Open(filepath.Join(d, name)) },
		"OpenIn": func(name string) (*os.File, error) { return OpenIn(root, name) },
	}
	for how, open := range opens {
		for _, tc := range []struct {
			name string
			want string // "" for success, else a word of the error
		}{
			{"file", ""},
			{"link-file", ""},
			{"dir", ""},
			{"fifo", "is a named pipe, not a regular file"},
			{"link-fifo", "is a named pipe, not a regular file"},
			{"sock", "is a socket, not a regular file"},
			{"missing", ": no such file or directory"},
		} {
			t.Run(how+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				f, err := quickly(t, func() (*os.File, error) { return open(tc.name) })
				if tc.want == "" {
					if err != nil {
						t.Fatalf("got error %v, want none", err)
					}
					f.Close()
					return
				}
				if err == nil {
					f.Close()
					t.Fatalf("got no error, want %q", tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "open") {
					t.Errorf("got error %q, want an open error saying %q", err, tc.want)
				}
				var pe *fs.PathError
				if !errors.As(err, &pe) || !strings.HasSuffix(pe.Path, tc.name) {
					t.Errorf("got %#v, want a *fs.PathError naming %s", err, tc.name)
				}
				if special := tc.name != "missing"; errors.Is(err, ErrSpecial) != special {
					t.Errorf("errors.Is(%v, ErrSpecial) = %v, want %v", err, !special, special)
				}
			})
		}
	}
}

func TestOpenDevice(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Skip(err)
	}
	_, err := Open("/dev/null")
	if !errors.Is(err, ErrSpecial) || err.Error() != "open /dev/null: is a character device, not a regular file" {
		t.Errorf("got %v, want the character device refused", err)
	}
}

// TestVerify: a file that became a named pipe after it was looked at is
// opened without blocking (O_NONBLOCK), then refused.
func TestVerify(t *testing.T) {
	t.Parallel()
	d := specialDir(t)
	name := filepath.Join(d, "fifo")
	f, err := quickly(t, func() (*os.File, error) {
		f, err := os.OpenFile(name, openFlags, 0)
		return verify(name, f, err)
	})
	if f != nil {
		f.Close()
	}
	if !errors.Is(err, ErrSpecial) {
		t.Fatalf("got %v, want ErrSpecial", err)
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	d := specialDir(t)
	for _, tc := range []struct {
		name, want, err string
	}{
		{name: "file", want: "content"},
		{name: "link-file", want: "content"},
		{name: "dir", err: "is a directory"},
		{name: "fifo", err: "is a named pipe"},
		{name: "sock", err: "is a socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := quickly(t, func() ([]byte, error) { return ReadFile(filepath.Join(d, tc.name)) })
			if tc.err == "" {
				if err != nil || string(b) != tc.want {
					t.Fatalf("got %q, %v; want %q", b, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %q, %v; want an error saying %q", b, err, tc.err)
			}
		})
	}
}

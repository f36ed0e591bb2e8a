package regfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
)

// ErrSpecial is matched (errors.Is) by the errors returned for a file that
// is neither a regular file nor a directory: a named pipe, a socket, a
// device.
var ErrSpecial = errors.New("regfile: special file")

// specialError says which kind of special file was refused.
type specialError struct{ mode fs.FileMode }

func (e *specialError) Error() string {
	return "is a " + kind(e.mode) + ", not a regular file"
}

func (e *specialError) Is(target error) bool { return target == ErrSpecial }

// kind names the type of a special file.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// check returns nil for a regular file or a directory, and a
// *fs.PathError wrapping ErrSpecial for anything else.
func check(name string, fi fs.FileInfo) error {
	if fi.Mode().IsRegular() || fi.IsDir() {
		return nil
	}
	return &fs.PathError{Op: "open", Path: name, Err: &specialError{fi.Mode().Type()}}
}

// Open opens the named file for reading. It returns an error matching
// ErrSpecial (a *fs.PathError) for a file that is neither a regular file
// nor a directory, and otherwise the errors of os.OpenFile (those of the
// os.Stat before it too, named as those of an open).
func Open(name string) (*os.File, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, asOpen(err)
	}
	if err := check(name, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(name, openFlags, 0)
	return verify(name, f, err)
}

// OpenIn opens the named file under root for reading, as Open does; no
// name or symbolic link leads out of root (os.Root).
func OpenIn(root *os.Root, name string) (*os.File, error) {
	fi, err := root.Stat(name)
	if err != nil {
		return nil, asOpen(err)
	}
	if err := check(name, fi); err != nil {
		return nil, err
	}
	f, err := root.OpenFile(name, openFlags, 0)
	return verify(name, f, err)
}

// asOpen names an error of os.Stat or os.Root.Stat as the error of the
// open it stands for: "open x: no such file or directory", as without
// regfile.
func asOpen(err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Op {
	case "stat":
		return &fs.PathError{Op: "open", Path: pe.Path, Err: pe.Err}
	case "statat":
		return &fs.PathError{Op: "openat", Path: pe.Path, Err: pe.Err}
	}
	return err
}

// verify returns f if what was opened is still a regular file or a
// directory, and closes it otherwise.
func verify(name string, f *os.File, err error) (*os.File, error) {
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = check(name, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads the named regular file whole. It returns the errors of
// Open, and of reading (a directory cannot be read).
func ReadFile(name string) ([]byte, error) {
	f, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

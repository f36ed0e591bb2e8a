package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// output is a file a command writes: a temporary file beside its final
// name, which commit moves into place and abort removes, so that a failure
// leaves nothing half-written. The name "-" means stdout.
//
// Without force, commit fails rather than replace an existing file, even
// one created while the command ran.
type output struct {
	name  string
	force bool
	tmp   *os.File // nil for stdout
	w     *bufio.Writer
}

// createOutput starts writing the file name with mode (permission bits)
// or, for "-", stdout. Without force it fails if name exists.
func createOutput(name string, force bool, mode fs.FileMode, stdout io.Writer) (*output, error) {
	o := &output{name: name, force: force}
	if name == "-" {
		o.w = bufio.NewWriterSize(stdout, 64<<10)
		return o, nil
	}
	if !force {
		if _, err := os.Lstat(name); err == nil {
			return nil, errExists(name)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	o.tmp = tmp
	o.w = bufio.NewWriterSize(tmp, 256<<10)
	return o, nil
}

func errExists(name string) error {
	return fmt.Errorf("%s exists: give --force to replace it", name)
}

func (o *output) Write(p []byte) (int, error) { return o.w.Write(p) }

// commit flushes the output and moves it into place.
func (o *output) commit() error {
	if err := o.w.Flush(); err != nil {
		o.abort()
		return fmt.Errorf("write %s: %w", o.name, err)
	}
	if o.tmp == nil {
		return nil
	}
	err := o.tmp.Sync()
	if cerr := o.tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(o.tmp.Name())
		return fmt.Errorf("write %s: %w", o.name, err)
	}
	tmp := o.tmp.Name()
	o.tmp = nil
	if o.force {
		if err := os.Rename(tmp, o.name); err != nil {
			os.Remove(tmp)
			return err
		}
		return nil
	}
	// A hard link fails if the name exists, where a rename would replace
	// it; fall back to a rename where links are not supported.
	err = os.Link(tmp, o.name)
	switch {
	case errors.Is(err, fs.ErrExist):
		err = errExists(o.name)
	case err != nil:
		if _, serr := os.Lstat(o.name); serr == nil {
			err = errExists(o.name)
		} else {
			err = os.Rename(tmp, o.name)
		}
	}
	os.Remove(tmp)
	return err
}

// abort removes the temporary file. It may follow commit, and then does
// nothing.
func (o *output) abort() {
	if o.tmp != nil {
		o.tmp.Close()
		os.Remove(o.tmp.Name())
		o.tmp = nil
	}
}

package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/format"
)

type dumpCmd struct {
	read *readFlags // the root's, set by runEnv

	File      string `arg:"" help:"The recording (wsrec or websockify)."`
	selection `embed:""`
	Output    string `short:"o" default:"-" help:"Write to this file instead of stdout." placeholder:"FILE"`
	Force     bool   `help:"Replace the --output file if it exists."`
}

func (c *dumpCmd) Help() string {
	return `Writes the payloads of the selected messages one after the other, without
separators: for example every byte the target sent (--dir target), to feed
another tool. Other records (open, close, markers, gaps) hold no payload and
are left out.`
}

func (c *dumpCmd) Validate() error { return c.selection.validate() }

func (c *dumpCmd) Run(ctx context.Context, kctx *kong.Context) error {
	if c.Output == "-" && isTerminal(kctx.Stdout) {
		return errors.New("stdout is a terminal: redirect it, or give --output")
	}
	r, err := c.read.open(c.File)
	if err != nil {
		return err
	}
	defer r.Close()
	r.progress(kctx.Stderr)
	if _, err := c.filter.Seek(r.File); err != nil {
		return readError(c.File, err)
	}
	out, err := createOutput(c.Output, c.Force, 0o600, kctx.Stdout)
	if err != nil {
		return err
	}
	defer out.abort()
	var end error
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := r.Next()
		if err != nil {
			end = err
			break
		}
		if c.filter.Past(&rec) {
			break
		}
		if rec.Kind == format.KindMessage && c.filter.Match(&rec) {
			if _, err := out.Write(rec.Payload); err != nil {
				return err
			}
		}
	}
	// What was read before damage is written, as frames prints it.
	if err := out.commit(); err != nil {
		return err
	}
	if end != nil {
		return r.end(end, kctx.Stderr)
	}
	return nil
}

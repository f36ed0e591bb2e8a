package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/render"
)

type indexCmd struct {
	read *readFlags // the root's, set by runEnv

	Paths []string `arg:"" name:"path" help:"Recordings, or directories searched for *.wsrec files."`
	JSON  bool     `name:"json" help:"Print JSON lines, one per recording: file, index, action (up-to-date, built, rebuilt, skipped, failed), reason, keyframes, size and recording_size (bytes), took (nanoseconds)."`
}

func (c *indexCmd) Help() string {
	return `Builds the seek index of each wsrec recording, beside it (REC.wsidx, format/SPEC.md
"Seek index"), so that snapshot, contact-sheet and video reach a late time
of a long session without decoding it from its start: a keyframe of the
screen every 10 seconds of session time or 4 MiB of server data. An index
that is up to date is kept; one that is stale (the recording changed since)
or damaged is rebuilt. Prints what it did for each recording. The other
commands use a valid index and never write one.

An index changes nothing of the recording: verify's verdict is the same.
websockify recordings have no index (they are decoded from the start) and
are skipped with a note when named; in directories only *.wsrec files are
looked at, names starting with "." left out. Exit status 1 if an index could
not be built (one that cannot be read).

An encrypted recording is indexed with --identity; its keyframes, which are
pictures of the screen, are then sealed with a key derived from the
recording's own data key, so that the index opens for exactly those who can
read the recording. Without an identity it is not indexed (exit status 1).`
}

// indexLine is a line of index's output.
type indexLine struct {
	File  string `json:"file"`
	Index string `json:"index"`
	render.IndexResult
	Error string `json:"error,omitempty"`
}

func (c *indexCmd) Run(ctx context.Context, kctx *kong.Context) error {
	ids, err := c.read.identities()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(kctx.Stdout)
	var failed, total int
	for _, path := range c.Paths {
		err := forRecordings(path, func(name string, named bool) error {
			if !named && !strings.HasSuffix(name, ".wsrec") {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			total++
			l := indexLine{File: name, Index: screen.IndexPath(name)}
			res, err := render.RefreshIndex(name, l.Index, screen.IndexOptions{Identities: ids})
			l.IndexResult = res
			switch {
			case errors.Is(err, render.ErrNotIndexable):
				l.Action, l.Reason = "skipped", "a websockify recording: decoded from the start"
			case err != nil:
				l.Action, l.Error = "failed", err.Error()
				failed++
			}
			if c.JSON {
				return enc.Encode(l)
			}
			return printIndexLine(kctx.Stdout, l)
		})
		if err != nil {
			return err
		}
	}
	switch {
	case failed == 1 && total == 1:
		return &cli.ExitError{Code: 1, Err: errors.New("no index built")}
	case failed > 0:
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("%d of %d indexes could not be built", failed, total)}
	}
	return nil
}

func printIndexLine(w io.Writer, l indexLine) error {
	var err error
	switch l.Action {
	case "failed":
		_, err = fmt.Fprintf(w, "%s  failed: %s\n", l.File, l.Error)
	case "skipped":
		_, err = fmt.Fprintf(w, "%s  skipped: %s\n", l.File, l.Reason)
	default:
		what := l.Action
		if l.Reason != "" {
			what += " (" + l.Reason + ")"
		}
		_, err = fmt.Fprintf(w, "%s  %s  %s: %d keyframes, %s, %.1f%% of the recording", l.File, what, l.Index,
			l.Keyframes, fmtBytes(l.Size), 100*float64(l.Size)/float64(max(1, l.RecordingSize)))
		if err == nil && l.Took > 0 {
			_, err = fmt.Fprintf(w, ", in %s", l.Took.Round(time.Millisecond))
		}
		if err == nil {
			_, err = fmt.Fprintln(w)
		}
	}
	return err
}

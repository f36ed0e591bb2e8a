package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
)

type cutCmd struct {
	read *readFlags // the root's, set by runEnv

	File    string        `arg:"" help:"The recording to cut (wsrec or websockify)."`
	From    time.Duration `help:"Start of the slice, included (an offset such as 90s or 1m30s)." placeholder:"TIME"`
	To      time.Duration `help:"End of the slice, excluded; 0, the default, means the end of the recording." placeholder:"TIME"`
	Output  string        `short:"o" required:"" help:"The recording to write." placeholder:"OUT"`
	Force   bool          `help:"Replace OUT if it exists."`
	SignKey string        `help:"Sign OUT with the Ed25519 private key in this PEM file (PKCS #8)." placeholder:"FILE"`
	Start   wallTime      `help:"Wall-clock start of a websockify recording, which records none (see convert)." placeholder:"TIME"`

	env *env `kong:"-"`
}

func (c *cutCmd) Help() string {
	return `Writes the records from --from (included) to --to (excluded) as a new
sealed recording. Times are not rebased: every record keeps its time, and the
header its start, so that a record's wall-clock time is the same in the slice
as in the original, and an auditor can match the two. The slice starts with a
marker record, at --from, that names the original file, its session and the
range; its "source" metadata says the same, and every other metadata entry of
the original is kept. The slice has a session ID of its own.

The original is not verified: run verify on it. Reading stops at --to, so a
slice that ends before damaged data can be cut from a damaged recording.`
}

func (c *cutCmd) Validate() error { return checkRange(c.From, c.To) }

func (c *cutCmd) Run(ctx context.Context, kctx *kong.Context) error {
	key, r, err := openRewrite(c.read, c.File, c.SignKey, c.Start, kctx.Stderr)
	if err != nil {
		return err
	}
	defer r.Close()
	h := r.Header()
	if r.Format() != recfile.WSRec {
		start, _, err := sourceStart(r, c.Start)
		if err != nil {
			return err
		}
		h.Start = start
	}
	rng := fmt.Sprintf("from %s to %s", c.From, c.To)
	if c.To == 0 {
		rng = fmt.Sprintf("from %s to the end", c.From)
	}
	orig := fmt.Sprintf("%s recording %q", r.Format(), filepath.Base(c.File))
	if r.Format() == recfile.WSRec {
		orig += fmt.Sprintf(" (session %s, part %d)", h.SessionID, h.Part)
	}
	now := c.env.now().UTC().Format(time.RFC3339)
	h.Meta = withSource(h.Meta, fmt.Sprintf("cut of %s, %s, made by wsrecord-inspect at %s; times are those of the original", orig, rng, now))
	h.SessionID, h.Part, h.PrevChain = format.SessionID{}, 0, format.Hash{}
	marker := &format.Record{Kind: format.KindMarker, Time: c.From,
		Label: fmt.Sprintf("cut of %s: the records %s, at their original times", orig, rng)}

	if err := r.Seek(c.From); err != nil {
		return readError(c.File, err)
	}
	out, err := createOutput(c.Output, c.Force, 0o600, kctx.Stdout)
	if err != nil {
		return err
	}
	defer out.abort()
	st, err := writeWSRec(ctx, out, h, key, marker, until{r, c.To})
	r.doneReading()
	if err != nil {
		return convertError(c.File, err)
	}
	if err := out.commit(); err != nil {
		return err
	}
	return endOfSource(c.File, c.Output, st.Incomplete, kctx.Stderr)
}

// until reads a Source up to a time: its records from then on read as
// io.EOF. A zero to means to the end.
type until struct {
	src recfile.Source
	to  time.Duration
}

func (u until) Next() (format.Record, error) {
	rec, err := u.src.Next()
	if err == nil && u.to > 0 && rec.Time >= u.to {
		return format.Record{}, io.EOF
	}
	return rec, err
}

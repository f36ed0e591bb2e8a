package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/format/rfb"
)

type keysCmd struct {
	read *readFlags // the root's, set by runEnv

	File string        `arg:"" help:"The recording (wsrec or websockify) of a VNC session."`
	From time.Duration `help:"Only keys pressed at or after this time (an offset such as 90s or 1m30s)." placeholder:"TIME"`
	To   time.Duration `help:"Only keys pressed before this time; 0, the default, means to the end." placeholder:"TIME"`
	JSON bool          `name:"json" help:"Print JSON lines, one object per line typed: time and end (nanoseconds from the session start), text, and whether Return ended it."`
}

func (c *keysCmd) Help() string {
	return `Reconstructs what the user typed in a VNC session, from the client's key
events, as lines of text: each with the time of its first key and of its last
(the Return or keypad Enter that ended it), from the session start. Shift and
Caps Lock make capitals, BackSpace deletes the character before it, and keys
that type nothing are written by name in angle brackets, with the modifiers
held: <Tab>, <Left>, <Ctrl+c>, <BackSpace> where there was nothing to delete
or the cursor may have moved. A key held down long enough to repeat types
again. Only the last line can lack a Return; a note after it says so.

This is what the keys typed, not what the remote programs made of them: text
pasted through the clipboard is in "rfb --kind client-cut-text", and where the
session is encrypted, or decoding of the client's messages stops, a note or a
warning says that keys after it are missing. A recording that is not of an
RFB session, or not from its start (a slice made by cut), exits with status
1.`
}

func (c *keysCmd) Validate() error { return checkRange(c.From, c.To) }

func (c *keysCmd) Run(ctx context.Context, kctx *kong.Context) error {
	r, err := c.read.open(c.File)
	if err != nil {
		return err
	}
	defer r.Close()
	if !isTerminal(kctx.Stdout) {
		r.progress(kctx.Stderr)
	}
	out := bufio.NewWriterSize(kctx.Stdout, 64<<10)
	defer out.Flush()
	p := linePrinter{w: out}
	if c.JSON {
		p.enc = json.NewEncoder(out)
		p.enc.SetEscapeHTML(false)
	}
	var (
		keys rfb.KeyTracker
		werr error // the first error writing stdout
	)
	_, err = decodeSession(ctx, r, c.To, kctx.Stderr, func(e rfb.Event, _ func() rfb.Session) {
		if e.Time < c.From || werr != nil {
			return
		}
		if l, ok := keys.Add(e); ok {
			werr = p.print(l)
		}
	})
	if l, ok := keys.Flush(); ok && werr == nil {
		werr = p.print(l)
	}
	if werr == nil && !errors.Is(err, errNotRFB) {
		werr = p.end()
	}
	if err == nil {
		err = werr
	}
	return err
}

// linePrinter prints typed lines for keys.
type linePrinter struct {
	w       *bufio.Writer
	enc     *json.Encoder // nil for human output
	printed bool
	open    bool // the last line printed was not ended by Return
}

func (p *linePrinter) print(l rfb.Line) error {
	if p.enc != nil {
		return p.enc.Encode(l)
	}
	if !p.printed {
		fmt.Fprintf(p.w, "%9s %9s  %s\n", "START", "END", "TEXT")
		p.printed = true
	}
	p.open = !l.Return
	_, err := fmt.Fprintf(p.w, "%8.3fs %8.3fs  %s\n", l.Time.Seconds(), l.End.Seconds(), l.Text)
	return err
}

// end notes an unfinished last line, or that nothing was typed.
func (p *linePrinter) end() error {
	if p.enc != nil {
		return nil
	}
	var err error
	switch {
	case !p.printed:
		_, err = fmt.Fprintln(p.w, "(nothing typed)")
	case p.open:
		_, err = fmt.Fprintln(p.w, "(the last line was not ended by Return)")
	}
	return err
}

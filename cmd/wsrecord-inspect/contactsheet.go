package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/render"
)

// maxThumbs bounds the thumbnails of one contact sheet.
const maxThumbs = 1000

type contactSheetCmd struct {
	read *readFlags // the root's, set by runEnv
	indexFlag

	File      string        `arg:"" help:"The recording (wsrec or websockify) of a VNC session."`
	Output    string        `short:"o" required:"" placeholder:"OUT" help:"The sheet to write, PNG (or JPEG for .jpg)."`
	Count     int           `short:"n" default:"16" help:"Thumbnails at regular times: the session divided in this many parts, each shown at its end."`
	Every     time.Duration `placeholder:"INTERVAL" help:"A thumbnail every INTERVAL instead of --count."`
	Changes   bool          `help:"A thumbnail each time the screen settles after a change, instead of at regular times."`
	Threshold float64       `default:"0.05" help:"With --changes: the part of the screen (0 to 1) that must have been redrawn since the last thumbnail."`
	Settle    time.Duration `default:"1s" help:"With --changes: how long the screen must stay unchanged after a change."`
	From      time.Duration `placeholder:"TIME" help:"Start of the times shown (an offset such as 90s)."`
	To        time.Duration `placeholder:"TIME" help:"End of the times shown; 0, the default, means the end."`
	Columns   int           `default:"4" help:"Thumbnails a row."`
	Width     int           `default:"320" help:"Width of a thumbnail in pixels."`
	Cursor    bool          `default:"true" negatable:"" help:"Draw the cursor (the default); --no-cursor leaves it out."`
	Force     bool          `help:"Replace OUT if it exists."`
	JSON      bool          `name:"json" help:"Print a JSON object: file, width, height, and the thumbnails' times (nanoseconds) and labels."`
}

func (c *contactSheetCmd) Help() string {
	return `Writes one picture of a VNC session for skimming it: a grid of thumbnails
of its screen, row by row in time order, each labelled with its time from the
session start and its wall-clock time (UTC). The thumbnails are at regular
times (--count of them, or --every INTERVAL), or with --changes wherever the
screen settled after a change that redrew at least --threshold of it (at
most 1000). The screen is decoded as by snapshot, through a seek index when
one is beside the recording.`
}

func (c *contactSheetCmd) Validate() error {
	if err := checkRange(c.From, c.To); err != nil {
		return err
	}
	switch {
	case c.Count < 1 || c.Count > maxThumbs:
		return fmt.Errorf("--count must be from 1 to %d", maxThumbs)
	case c.Every < 0:
		return errors.New("--every must be positive")
	case c.Changes && c.Every > 0:
		return errors.New("give --changes or --every, not both")
	case c.Threshold <= 0 || c.Threshold > 1:
		return errors.New("--threshold must be more than 0 and at most 1")
	case c.Columns < 1 || c.Columns > 100:
		return errors.New("--columns must be from 1 to 100")
	case c.Width < 16 || c.Width > 4096:
		return errors.New("--width must be from 16 to 4096")
	}
	return checkImageName(c.Output)
}

// sheetJSON is contact-sheet's --json output.
type sheetJSON struct {
	File   string      `json:"file"`
	Width  int         `json:"width"`
	Height int         `json:"height"`
	Thumbs []thumbJSON `json:"thumbs"`
}

type thumbJSON struct {
	Time  time.Duration `json:"time"`
	Wall  string        `json:"wall,omitempty"`
	Label string        `json:"label"`
}

func (c *contactSheetCmd) Run(ctx context.Context, kctx *kong.Context) error {
	r, length, err := openTimed(ctx, c.read, c.File)
	if err != nil {
		return err
	}
	defer r.Close()
	to := length
	if c.To > 0 {
		to = min(c.To, length)
	}
	if c.From > to {
		return fmt.Errorf("--from %v: after the end of the recording, at %v", c.From, length)
	}
	if !isTerminal(kctx.Stdout) || c.Output != "-" {
		r.progress(kctx.Stderr)
	}
	p := c.player(ctx, r, kctx.Stderr)
	start := r.Header().Start
	var thumbs []render.Thumb
	take := func(t time.Duration, s *screen.Screen) error {
		th := render.Thumb{Time: t, Label: render.Label(t, start)}
		if s.Image() != nil {
			th.Image = render.Thumbnail(s.Snapshot(c.Cursor), c.Width)
		}
		thumbs = append(thumbs, th)
		return nil
	}
	if c.Changes {
		if _, err := p.At(c.From); err != nil && !errors.Is(err, render.ErrNoScreen) {
			return playError(r, err)
		}
		err = render.Changes(ctx, p, render.ChangeOptions{Threshold: c.Threshold, Settle: c.Settle, Max: maxThumbs, To: c.To}, take)
	} else {
		times := render.Spread(c.From, to, c.Count)
		if c.Every > 0 {
			if times, err = render.Every(c.Every, to-c.From, maxThumbs); err != nil {
				return fmt.Errorf("--every: %w", err)
			}
			for i := range times {
				times[i] += c.From
			}
		}
		for _, t := range times {
			s, err := p.At(t)
			if err != nil && !errors.Is(err, render.ErrNoScreen) {
				return playError(r, err)
			}
			take(t, s)
		}
	}
	if err != nil {
		return playError(r, err)
	}
	r.doneReading()
	if len(thumbs) == 0 {
		return fmt.Errorf("%s: no screen changes to show", r.name)
	}
	sheet := render.Sheet(thumbs, render.SheetOptions{Columns: c.Columns, ThumbWidth: c.Width})
	if err := writeImage(c.Output, c.Force, sheet, kctx.Stdout); err != nil {
		return err
	}
	if c.Output == "-" {
		return endPlay(r, p, kctx.Stderr)
	}
	out := sheetJSON{File: c.Output, Width: sheet.Rect.Dx(), Height: sheet.Rect.Dy()}
	for _, th := range thumbs {
		out.Thumbs = append(out.Thumbs, thumbJSON{Time: th.Time, Wall: wallClock(r, th.Time), Label: th.Label})
	}
	if c.JSON {
		err = json.NewEncoder(kctx.Stdout).Encode(out)
	} else {
		_, err = fmt.Fprintf(kctx.Stdout, "%s  %dx%d  %d thumbnails from %s to %s\n", out.File, out.Width, out.Height,
			len(thumbs), thumbs[0].Label, thumbs[len(thumbs)-1].Label)
	}
	if err != nil {
		return err
	}
	return endPlay(r, p, kctx.Stderr)
}

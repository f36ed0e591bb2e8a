package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/internal/render"
)

// maxSnapshots bounds the files of one snapshot command.
const maxSnapshots = 10000

type snapshotCmd struct {
	read *readFlags // the root's, set by runEnv
	indexFlag

	File   string        `arg:"" help:"The recording (wsrec or websockify) of a VNC session."`
	At     []string      `sep:"none" placeholder:"TIME" help:"A time to show: an offset from the session start (12m30s), an RFC 3339 time, or a time of day in UTC (14:32:05) on the session's day. Repeatable."`
	Every  time.Duration `placeholder:"INTERVAL" help:"A picture every INTERVAL from the session start to its end, instead of --at."`
	Output string        `short:"o" required:"" placeholder:"OUT" help:"The picture to write, PNG (or JPEG for .jpg); with several times, OUT numbered: shot.png makes shot-001.png, shot-002.png..."`
	Cursor bool          `default:"true" negatable:"" help:"Draw the cursor at the pointer position (the default); --no-cursor leaves it out."`
	Force  bool          `help:"Replace files that exist."`
	JSON   bool          `name:"json" help:"Print JSON lines, one per picture: file, time (nanoseconds from the session start), wall (RFC 3339), width, height."`
}

func (c *snapshotCmd) Help() string {
	return `Decodes the screen of a VNC session and writes it as a picture at each time
asked for: what the client showed after every framebuffer update up to that
time, with the cursor drawn where the client's pointer was. Every encoding
that TigerVNC, x11vnc and noVNC use decodes (Raw, CopyRect, RRE, CoRRE,
Hextile, Zlib, ZRLE, Tight, TightPNG), in every pixel format.

A seek index beside the recording (REC.wsidx, made by the index command)
makes a late time quick to reach; without one, or with --no-index, the
session is decoded from its start. An encoding that cannot be decoded, or
damaged data, before a time asked for is an error that names the record and
the rectangle (exit status 1): no picture is written with wrong pixels.
Prints one line per picture written: its file, time, wall-clock time and
size.`
}

func (c *snapshotCmd) Validate() error {
	switch {
	case len(c.At) == 0 && c.Every == 0:
		return errors.New("give --at TIME or --every INTERVAL")
	case len(c.At) > 0 && c.Every != 0:
		return errors.New("give --at or --every, not both")
	case c.Every < 0:
		return errors.New("--every must be positive")
	case c.Output == "-" && (len(c.At) != 1 || c.Every != 0):
		return errors.New("-o - writes one picture: give one --at")
	}
	return checkImageName(c.Output)
}

// snapshotLine is a line of snapshot's output.
type snapshotLine struct {
	File   string        `json:"file"`
	Time   time.Duration `json:"time"`
	Wall   string        `json:"wall,omitempty"`
	Width  int           `json:"width"`
	Height int           `json:"height"`
}

func (c *snapshotCmd) Run(ctx context.Context, kctx *kong.Context) error {
	r, length, err := openTimed(ctx, c.read, c.File)
	if err != nil {
		return err
	}
	defer r.Close()
	var times []time.Duration
	if c.Every > 0 {
		times, err = render.Every(c.Every, length, maxSnapshots)
	} else {
		times, err = parseTimes(r, c.At, length)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	names := make([]string, len(times))
	for i := range times {
		names[i] = c.Output
		if len(times) > 1 {
			names[i] = numbered(c.Output, i+1, len(times))
		}
	}
	if !isTerminal(kctx.Stdout) {
		r.progress(kctx.Stderr)
	}
	out := bufio.NewWriter(kctx.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	p := c.player(ctx, r, kctx.Stderr)
	// Times in order, so that the session is decoded once.
	order := make([]int, len(times))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(times[a] - times[b]) })
	for _, i := range order {
		s, err := p.At(times[i])
		if c.Every > 0 && errors.Is(err, render.ErrNoScreen) {
			notef(kctx.Stderr, "%s: no screen yet at %v: %s not written", r.name, times[i], names[i])
			continue
		}
		if err != nil {
			return playError(r, err)
		}
		img := s.Snapshot(c.Cursor)
		if err := writeImage(names[i], c.Force, img, kctx.Stdout); err != nil {
			return err
		}
		if c.Output == "-" {
			continue
		}
		l := snapshotLine{File: names[i], Time: times[i], Wall: wallClock(r, times[i]), Width: img.Rect.Dx(), Height: img.Rect.Dy()}
		if c.JSON {
			err = enc.Encode(l)
		} else {
			_, err = fmt.Fprintf(out, "%s  %s  %dx%d\n", l.File, render.Label(l.Time, r.Header().Start), l.Width, l.Height)
		}
		if err != nil {
			return err
		}
	}
	r.doneReading()
	return endPlay(r, p, kctx.Stderr)
}

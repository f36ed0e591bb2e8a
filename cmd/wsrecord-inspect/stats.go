package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/format/traffic"
)

type statsCmd struct {
	read *readFlags // the root's, set by runEnv

	File  string `arg:"" help:"The recording (wsrec or websockify)."`
	Width int    `default:"60" help:"Columns of the throughput charts (10 to 1000)."`
	PNG   string `name:"png" help:"Also draw the charts into this PNG image." placeholder:"FILE"`
	Force bool   `help:"Replace the --png file if it exists."`
	JSON  bool   `name:"json" help:"Print JSON: totals, bytes per time slot and message size classes for each direction."`
}

func (c *statsCmd) Help() string {
	return `Reads the whole recording and charts, for each direction, the bytes sent over
time (the session is cut into --width equal slots of 1, 2 or 5 times a power
of ten milliseconds; each column is the bytes of one slot, scaled to the
busiest), and the distribution of message sizes in classes that double: 0,
1, 2-3, 4-7 bytes and so on. --png draws the same charts into an image.`
}

func (c *statsCmd) Validate() error {
	if c.Width < 10 || c.Width > 1000 {
		return fmt.Errorf("--width %d: want 10 to 1000", c.Width)
	}
	return nil
}

// recordingStats is what stats prints: the traffic of a file.
type recordingStats struct {
	File string `json:"file"`
	*traffic.Stats
}

func (c *statsCmd) Run(ctx context.Context, kctx *kong.Context) error {
	r, err := c.read.open(c.File)
	if err != nil {
		return err
	}
	defer r.Close()
	r.progress(kctx.Stderr)
	st, end := traffic.Read(ctx, r.File, traffic.Options{Slots: c.Width})
	r.doneReading()
	if st == nil {
		return end
	}
	s := &recordingStats{File: c.File, Stats: st}
	out := bufio.NewWriter(kctx.Stdout)
	if c.JSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
	} else {
		printStats(out, s)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if c.PNG != "" {
		if err := c.writePNG(s, kctx.Stdout); err != nil {
			return err
		}
	}
	if end == nil {
		return nil
	}
	return r.end(end, kctx.Stderr)
}

func (c *statsCmd) writePNG(s *recordingStats, stdout io.Writer) error {
	out, err := createOutput(c.PNG, c.Force, 0o644, stdout)
	if err != nil {
		return err
	}
	defer out.abort()
	if err := png.Encode(out, plotStats(s)); err != nil {
		return err
	}
	return out.commit()
}

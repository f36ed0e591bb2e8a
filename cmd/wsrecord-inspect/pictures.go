package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/render"
)

// The helpers of the commands that show a session's screen: snapshot,
// contact-sheet and video.

// indexFlag is the flag of the commands that use a seek index.
type indexFlag struct {
	NoIndex bool `help:"Decode from the start of the recording, ignoring a seek index beside it (REC.wsidx, see the index command)."`
}

// player returns a Player of r that jumps through r's seek index, if one
// beside it is valid and --no-index is not given. A stale or damaged
// index is not used, with a note; none is written.
func (f indexFlag) player(ctx context.Context, r *recording, stderr io.Writer) *render.Player {
	var x *screen.Index
	if !f.NoIndex && r.Format() == recfile.WSRec && r.osf != nil { // no index beside an object
		idx := screen.IndexPath(r.name)
		var err error
		x, err = render.LoadIndex(r.File, r.osf, idx, screen.IndexOptions{Identities: r.ids})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			notef(stderr, "%s: not using %s (%v): decoding from the start; \"wsrecord-inspect index\" rebuilds it", r.name, idx, err)
		}
	}
	return render.NewPlayer(ctx, r.File, x, screen.Options{})
}

// openTimed opens a recording for a picture command, and returns it with
// its duration (the time of its last record).
func openTimed(ctx context.Context, read *readFlags, name string) (*recording, time.Duration, error) {
	r, err := read.open(name)
	if err != nil {
		return nil, 0, err
	}
	d, err := render.Duration(ctx, r.File)
	if err != nil {
		r.Close()
		return nil, 0, readError(r.name, err)
	}
	return r, d, nil
}

// playError turns an error of a Player into the command's: exit status 1
// for a screen that cannot be shown (a decoding error, a time after the
// end or before the first screen), as readError for a recording that
// cannot be read.
func playError(r *recording, err error) error {
	if _, ok := errors.AsType[*screen.DecodeError](err); ok ||
		errors.Is(err, render.ErrAfterEnd) || errors.Is(err, render.ErrNoScreen) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	return readError(r.name, err)
}

// endPlay warns of a recording that ended early but cleanly, once the
// Player read to its end.
func endPlay(r *recording, p *render.Player, stderr io.Writer) error {
	if e := p.End(); e != nil && e != io.EOF {
		return r.end(e, stderr)
	}
	return nil
}

// parseTimes parses --at values (render.ParseTime) for r, whose session
// lasts length. A time that is not one is a usage error; one outside the
// session, a failure (exit status 1).
func parseTimes(r *recording, at []string, length time.Duration) ([]time.Duration, error) {
	ts := make([]time.Duration, len(at))
	for i, s := range at {
		t, err := render.ParseTime(s, r.Header().Start, length)
		if err != nil && !errors.Is(err, render.ErrOutOfSession) {
			return nil, cli.Usagef("--at %w", err)
		}
		if err != nil {
			return nil, fmt.Errorf("--at %w", err)
		}
		if t > length {
			return nil, fmt.Errorf("--at %s: after the end of the recording, at %v", s, length)
		}
		ts[i] = t
	}
	return ts, nil
}

// writeImage writes img to the file name (or stdout for "-") as PNG, or
// as JPEG for a name ending in .jpg or .jpeg.
func writeImage(name string, force bool, img image.Image, stdout io.Writer) error {
	o, err := createOutput(name, force, 0o644, stdout)
	if err != nil {
		return err
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg":
		err = jpeg.Encode(o, img, &jpeg.Options{Quality: 90})
	default:
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(o, img)
	}
	if err != nil {
		o.abort()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return o.commit()
}

// checkImageName refuses an output name that is neither PNG nor JPEG.
func checkImageName(name string) error {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return nil
	}
	if name == "-" {
		return nil
	}
	return fmt.Errorf("-o %s: give a name ending in .png, .jpg or .jpeg", name)
}

// numbered returns name with n, of total, before its extension, padded
// to at least 3 digits: shot.png, 7 of 120 is shot-007.png.
func numbered(name string, n, total int) string {
	width := max(3, len(fmt.Sprint(total)))
	ext := filepath.Ext(name)
	return fmt.Sprintf("%s-%0*d%s", strings.TrimSuffix(name, ext), width, n, ext)
}

// wallClock is the wall-clock time of session time t, RFC 3339 in UTC,
// or "" for a recording without a start time.
func wallClock(r *recording, t time.Duration) string {
	if s := r.Header().Start; !s.IsZero() {
		return s.Add(t).UTC().Format(time.RFC3339Nano)
	}
	return ""
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/alecthomas/kong"
	"github.com/schollz/progressbar/v3"
	"github.com/wsproxy/wsproxy/internal/render"
	"github.com/wsproxy/wsproxy/internal/video"
)

type videoCmd struct {
	read *readFlags // the root's, set by runEnv
	indexFlag

	File      string        `arg:"" help:"The recording (wsrec or websockify) of a VNC session."`
	Output    string        `short:"o" required:"" placeholder:"OUT" help:"The video to write: .mp4 (H.264), .webm (VP9) or .mkv."`
	FPS       float64       `name:"fps" default:"10" help:"Frames a second, from 1 to 60."`
	Speed     float64       `default:"1" help:"Playback speed, from 0.1 to 100: 4 makes a video a quarter as long as the session."`
	From      time.Duration `placeholder:"TIME" help:"Start of the session shown (an offset such as 90s)."`
	To        time.Duration `placeholder:"TIME" help:"End of the session shown; 0, the default, means the end."`
	IdleLimit time.Duration `placeholder:"DURATION" help:"Cut every gap longer than this in the recording to this length (before --speed), as wsreplay's --idle-limit. 0 means no limit."`
	Cursor    bool          `default:"true" negatable:"" help:"Draw the cursor (the default); --no-cursor leaves it out."`
	Captions  bool          `help:"Add what the user typed (as the keys command shows it) as a subtitle track."`
	Force     bool          `help:"Replace OUT if it exists."`
	JSON      bool          `name:"json" help:"Print a JSON object: file, frames, duration (nanoseconds), width, height, fps, captions."`
	FFmpeg    string        `name:"ffmpeg" default:"ffmpeg" env:"WSRECORD_FFMPEG" placeholder:"PROGRAM" help:"The ffmpeg program to run."`
}

func (c *videoCmd) Help() string {
	return `Makes a video of a VNC session: its screen, decoded as by snapshot, at a
fixed frame rate, with the cursor drawn where the client's pointer was, fed as
raw frames to ffmpeg (Debian package ffmpeg), which encodes them as H.264 in
MP4 or Matroska, or VP9 in WebM. --speed, --from, --to and --idle-limit time it
as wsreplay replays. The video has the size of the screen at its start; a
desktop resized later is scaled into it. With --captions, each line the user
typed shows as a subtitle from its first key until 2 seconds after its last.

A progress bar shows on stderr when it is a terminal. Without ffmpeg the
command fails with exit status 1 and says which package to install.`
}

func (c *videoCmd) Validate() error {
	switch {
	case c.FPS < 1 || c.FPS > 60:
		return errors.New("--fps must be from 1 to 60")
	case c.Speed < 0.1 || c.Speed > 100:
		return errors.New("--speed must be from 0.1 to 100")
	case c.IdleLimit < 0:
		return errors.New("--idle-limit must not be negative")
	}
	if err := checkRange(c.From, c.To); err != nil {
		return err
	}
	_, err := video.Container(c.Output)
	return err
}

// videoJSON is video's --json output.
type videoJSON struct {
	File     string        `json:"file"`
	Frames   int           `json:"frames"`
	Duration time.Duration `json:"duration"`
	Width    int           `json:"width"`
	Height   int           `json:"height"`
	FPS      float64       `json:"fps"`
	Captions int           `json:"captions"`
}

func (c *videoCmd) Run(ctx context.Context, kctx *kong.Context) error {
	cont, err := video.Container(c.Output)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(c.Output); err == nil && !c.Force {
		return errExists(c.Output)
	}
	r, length, err := openTimed(ctx, c.read, c.File)
	if err != nil {
		return err
	}
	defer r.Close()
	if c.From > length {
		return fmt.Errorf("--from %v: after the end of the recording, at %v", c.From, length)
	}
	opts := render.FrameOptions{FPS: c.FPS, Speed: c.Speed, From: c.From, To: c.To, IdleLimit: c.IdleLimit, Cursor: c.Cursor}
	work, err := os.MkdirTemp(filepath.Dir(c.Output), ".wsrecord-video-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	tmp := filepath.Join(work, "video")

	var bar *progressbar.ProgressBar
	end := length
	if c.To > 0 {
		end = min(c.To, length)
	}
	if isTerminal(kctx.Stderr) {
		bar = progressbar.NewOptions64(int64((end-c.From)/time.Millisecond),
			progressbar.OptionSetWriter(kctx.Stderr),
			progressbar.OptionSetDescription(filepath.Base(r.name)+" (session ms)"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
		defer bar.Finish()
	}
	p := c.player(ctx, r, kctx.Stderr)
	eopts := video.ExportOptions{Frames: opts, Output: tmp, Format: cont, Program: c.FFmpeg, Captions: c.Captions}
	if bar != nil {
		eopts.Progress = func(t time.Duration) { bar.Set64(int64((t - c.From) / time.Millisecond)) }
	}
	est, err := video.Export(ctx, p, r.File, eopts)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		if errors.Is(err, video.ErrNoFFmpeg) {
			return err
		}
		return playError(r, err)
	}
	st, ncap := est.FrameStats, est.Captions
	if err := place(tmp, c.Output, c.Force); err != nil {
		return err
	}
	out := videoJSON{File: c.Output, Frames: st.Frames, Duration: st.Duration, Width: st.Size.X, Height: st.Size.Y, FPS: c.FPS, Captions: ncap}
	if c.JSON {
		err = json.NewEncoder(kctx.Stdout).Encode(out)
	} else {
		_, err = fmt.Fprintf(kctx.Stdout, "%s  %dx%d  %d frames at %g fps, %s  %d captions\n", out.File, out.Width, out.Height,
			out.Frames, out.FPS, out.Duration.Round(time.Millisecond), out.Captions)
	}
	if err != nil {
		return err
	}
	return endPlay(r, p, kctx.Stderr)
}

// place moves the finished file tmp to name: without force, failing if
// name exists.
func place(tmp, name string, force bool) error {
	if force {
		return os.Rename(tmp, name)
	}
	if err := os.Link(tmp, name); err != nil {
		if _, serr := os.Lstat(name); serr == nil {
			return errExists(name)
		}
		return os.Rename(tmp, name)
	}
	return nil
}

package video

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/internal/render"
)

// ExportOptions configure Export. The zero value of each field means
// its default, except Output and Format, which are required.
type ExportOptions struct {
	// Frames times the video (see render.FrameOptions): frame rate,
	// speed, the session's times shown, idle limit, cursor.
	Frames render.FrameOptions
	// Output is the file written, replaced if it exists.
	Output string
	// Format is the container: "mp4", "webm" or "matroska" (see
	// Container).
	Format string
	// Program is the ffmpeg to run. Empty means "ffmpeg" on $PATH.
	Program string
	// Captions adds the lines typed in the session (render.TypedLines) as
	// a subtitle track.
	Captions bool
	// Progress, if not nil, is called with the session time of each
	// frame before it is encoded.
	Progress func(session time.Duration)
}

// ExportStats say what Export made.
type ExportStats struct {
	render.FrameStats
	// Captions counts the subtitles.
	Captions int
}

// Export makes a video of the session that p plays from f, the file p
// reads: the frames of render.Frames, fed to ffmpeg (Start), with the
// typed text muxed in as subtitles (Mux) when opts.Captions is set. The
// intermediate files sit beside opts.Output and are removed. ctx ending
// kills ffmpeg; the partial Output is then removed.
//
// Export returns ErrNoFFmpeg when ffmpeg is not installed, ErrContainer
// for an unknown Format, the errors of render.Frames (render.ErrNoScreen
// for a recording without a screen) and ffmpeg's failures.
func Export(ctx context.Context, p *render.Player, f *recfile.File, opts ExportOptions) (ExportStats, error) {
	var st ExportStats
	fps := opts.Frames.FPS
	if fps <= 0 {
		fps = render.DefaultFPS
	}
	switch opts.Format {
	case "mp4", "webm", "matroska":
	default:
		return st, fmt.Errorf("%w: format %q", ErrContainer, opts.Format)
	}
	plain := opts.Output
	if opts.Captions {
		plain = opts.Output + ".plain"
		defer os.Remove(plain)
	}
	var enc *FFmpeg
	fs, err := render.Frames(ctx, p, opts.Frames, func(fr render.Frame) error {
		if enc == nil {
			e, err := Start(ctx, Options{Output: plain, Format: opts.Format, Size: fr.Image.Rect.Size(), FPS: fps, Program: opts.Program})
			if err != nil {
				return err
			}
			enc = e
		}
		if opts.Progress != nil {
			opts.Progress(fr.Session)
		}
		return enc.WriteFrame(fr.Image)
	})
	st.FrameStats = fs
	if enc != nil {
		if cerr := enc.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		os.Remove(plain)
		return st, err
	}
	if !opts.Captions {
		return st, nil
	}
	lines, err := render.TypedLines(ctx, f, opts.Frames.To)
	if err != nil {
		return st, err
	}
	vtt := opts.Output + ".vtt"
	defer os.Remove(vtt)
	w, err := os.Create(vtt)
	if err != nil {
		return st, err
	}
	st.Captions, err = render.WriteWebVTT(w, lines, fs.Clock, fs.Duration)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = Mux(ctx, opts.Program, plain, vtt, opts.Format, opts.Output)
	}
	if err != nil {
		os.Remove(opts.Output)
	}
	return st, err
}

package video

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// ErrNoFFmpeg: the ffmpeg program is not installed.
var ErrNoFFmpeg = errors.New("video: ffmpeg not found: install Debian's ffmpeg package (apt-get install ffmpeg)")

// ErrContainer: the output's extension names no container this package
// writes.
var ErrContainer = errors.New("video: unknown container: give an output ending in .mp4, .webm or .mkv")

// Encoder takes a video's frames, in order, all of one size.
type Encoder interface {
	// WriteFrame encodes one frame; img is not kept after it returns.
	WriteFrame(img *image.RGBA) error
	// Close finishes the video and releases the encoder; it returns the
	// error that ended encoding, if any. It is idempotent.
	Close() error
}

// Options configure an FFmpeg encoder.
type Options struct {
	// Output is the file written; its extension picks the container.
	Output string
	// Format is the container, overriding Output's extension: "mp4",
	// "webm" or "matroska". Empty means from Output's extension.
	Format string
	// Size is the frames' size; both sides must be even.
	Size image.Point
	// FPS is the frame rate.
	FPS float64
	// Program is the ffmpeg to run. Empty means "ffmpeg" on $PATH.
	Program string
}

// Container returns the ffmpeg format name for an output file name, by
// its extension, or ErrContainer.
func Container(name string) (string, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".mp4", ".m4v":
		return "mp4", nil
	case ".webm":
		return "webm", nil
	case ".mkv":
		return "matroska", nil
	}
	return "", fmt.Errorf("%w: %q", ErrContainer, name)
}

// Args returns ffmpeg's command line (without the program) for opts.
func Args(opts Options) ([]string, error) {
	cont := opts.Format
	if cont == "" {
		var err error
		if cont, err = Container(opts.Output); err != nil {
			return nil, err
		}
	}
	if opts.Size.X <= 0 || opts.Size.Y <= 0 || opts.Size.X%2 != 0 || opts.Size.Y%2 != 0 {
		return nil, fmt.Errorf("video: frame size %dx%d: sides must be even and positive", opts.Size.X, opts.Size.Y)
	}
	if opts.FPS <= 0 {
		return nil, fmt.Errorf("video: frame rate %g", opts.FPS)
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", fmt.Sprintf("%dx%d", opts.Size.X, opts.Size.Y),
		"-framerate", strconv.FormatFloat(opts.FPS, 'g', -1, 64), "-i", "pipe:0"}
	switch cont {
	case "webm":
		// VP9 in constant quality, at libvpx's fastest real-time settings.
		args = append(args, "-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "32", "-deadline", "realtime",
			"-cpu-used", "8", "-row-mt", "1")
	default:
		// H.264, playable everywhere: 4:2:0 chroma, quality 20, at x264's
		// fastest preset: on a busy 1280x800 session it takes 2.3 times
		// less CPU than veryfast for a file 1.7 times larger, which makes
		// 10 fps video about 10 times faster than real time.
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20")
	}
	// The input is already yuv420p (FFmpeg.WriteFrame converts it); the
	// output says so for encoders that would pick another format.
	args = append(args, "-pix_fmt", "yuv420p")
	return append(args, containerArgs(cont, opts.Output)...), nil
}

// containerArgs are the output arguments of ffmpeg for container cont.
func containerArgs(cont, output string) []string {
	if cont == "mp4" {
		return []string{"-movflags", "+faststart", "-f", cont, output}
	}
	return []string{"-f", cont, output}
}

// MuxArgs returns ffmpeg's command line (without the program) that copies
// the video in videoPath to output, in container cont, with the WebVTT
// file subtitles as its subtitle track: mov_text in MP4, WebVTT in WebM
// and Matroska.
func MuxArgs(videoPath, subtitles, cont, output string) []string {
	sub := "webvtt"
	if cont == "mp4" {
		sub = "mov_text"
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", videoPath,
		"-f", "webvtt", "-i", subtitles, "-map", "0:v", "-map", "1:s", "-c:v", "copy", "-c:s", sub,
		"-metadata:s:s:0", "title=Typed text"}
	return append(args, containerArgs(cont, output)...)
}

// Mux runs ffmpeg (program, or "ffmpeg" when empty) with MuxArgs.
func Mux(ctx context.Context, program, videoPath, subtitles, cont, output string) error {
	if program == "" {
		program = "ffmpeg"
	}
	path, err := exec.LookPath(program)
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrNoFFmpeg, err)
	}
	cmd := exec.CommandContext(ctx, path, MuxArgs(videoPath, subtitles, cont, output)...)
	var stderr bytes.Buffer
	cmd.Stderr = &limited{b: &stderr, n: 16 << 10}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("video: ffmpeg (subtitles): %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// FFmpeg is an Encoder that runs ffmpeg. It converts each frame to
// yuv420p itself (see Args) and writes it to ffmpeg from a goroutine of
// its own, so that the next frame is made while ffmpeg reads this one. It
// is not safe for concurrent use.
type FFmpeg struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *bytes.Buffer
	size   image.Point
	once   sync.Once
	err    error

	free   chan []byte   // frame buffers not being written: two in all
	queue  chan []byte   // converted frames for pump, closed by Close
	done   chan struct{} // closed when pump returns
	werr   error         // pump's write error, read after done
	closed bool          // queue is closed
}

// Start runs ffmpeg to write opts.Output. It returns ErrNoFFmpeg when
// ffmpeg is not installed, ErrContainer for an unknown extension. ctx
// ending kills ffmpeg.
func Start(ctx context.Context, opts Options) (*FFmpeg, error) {
	args, err := Args(opts)
	if err != nil {
		return nil, err
	}
	prog := opts.Program
	if prog == "" {
		prog = "ffmpeg"
	}
	path, err := exec.LookPath(prog)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoFFmpeg, err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	e := &FFmpeg{cmd: cmd, stdin: stdin, stderr: new(bytes.Buffer), size: opts.Size,
		free: make(chan []byte, 2), queue: make(chan []byte, 2), done: make(chan struct{})}
	cmd.Stderr = &limited{b: e.stderr, n: 16 << 10}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("video: start ffmpeg: %w", err)
	}
	n := yuv420Size(opts.Size)
	e.free <- make([]byte, n)
	e.free <- make([]byte, n)
	go e.pump()
	return e, nil
}

// pump writes the queued frames to ffmpeg until the queue closes or a
// write fails.
func (e *FFmpeg) pump() {
	defer close(e.done)
	for buf := range e.queue {
		if _, err := e.stdin.Write(buf); err != nil {
			e.werr = err
			return
		}
		e.free <- buf
	}
}

// WriteFrame converts img, which must have the size of Options.Size, and
// queues it for ffmpeg.
func (e *FFmpeg) WriteFrame(img *image.RGBA) error {
	if img.Rect.Size() != e.size {
		return fmt.Errorf("video: frame of %v, want %v", img.Rect.Size(), e.size)
	}
	if e.closed {
		return fmt.Errorf("video: frame written after Close")
	}
	var buf []byte
	select {
	case buf = <-e.free:
	case <-e.done:
		return e.failed(e.werr)
	}
	toYUV420(buf, img)
	e.queue <- buf // never blocks: there are two buffers and room for two
	return nil
}

// failed turns an error writing to ffmpeg into ffmpeg's own.
func (e *FFmpeg) failed(err error) error {
	if cerr := e.Close(); cerr != nil {
		return cerr
	}
	return fmt.Errorf("video: write to ffmpeg: %w", err)
}

// Close ends the input, once the queued frames are written, and waits
// for ffmpeg to finish the file. It returns ffmpeg's failure with what it
// printed, or the error writing to it.
func (e *FFmpeg) Close() error {
	e.once.Do(func() {
		e.closed = true
		close(e.queue)
		<-e.done
		e.stdin.Close()
		if err := e.cmd.Wait(); err != nil {
			msg := strings.TrimSpace(e.stderr.String())
			e.err = fmt.Errorf("video: ffmpeg: %w: %s", err, msg)
		} else if e.werr != nil {
			e.err = fmt.Errorf("video: write to ffmpeg: %w", e.werr)
		}
	})
	return e.err
}

// limited keeps the first n bytes written to it.
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

package main

import (
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/cputime"
	"github.com/wsproxy/wsproxy/internal/vnctest"
)

// busyRecording is a real busy session for the benchmarks: made once by
// recordBusySession and kept in the system's temporary directory (it is
// several MiB: not in the repository), or given with -busy-recording.
var busyRecordingFlag = flag.String("busy-recording", "", "the recording the screen benchmarks read; empty means record one (Xvnc, 1280x800, 30 s of scrolling text)")

const busyLength = 30 * time.Second

// busyRecording returns the busy session, recording it first if needed:
// wsproxy in front of Xvnc at 1280x800, a Go client asking for ZRLE (as
// TigerVNC's viewer does on a fast link) and updates every 40 ms, while an
// xterm of the screen's size scrolls a directory listing without pause.
func busyRecording(b *testing.B) string {
	b.Helper()
	if *busyRecordingFlag != "" {
		return *busyRecordingFlag
	}
	path := filepath.Join(os.TempDir(), "wsproxy-bench-busy-1280x800.wsrec")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	bin := wsproxyBinary(b)
	x := vnctest.StartXvnc(b, vnctest.XvncOptions{Width: 1280, Height: 800})
	dir := b.TempDir()
	addr := vnctest.StartServer(b, "wsproxy", func(addr string) *exec.Cmd {
		return exec.Command(bin, "--record-dir", dir, "--shutdown-timeout", "0", addr, x.RFBAddr)
	}, nil)
	x.Start(b, "xterm", "-geometry", "210x60+0+0", "-e", "sh", "-c", "while :; do ls -lR /usr/share; done")
	c := dialRFB(b, addr)
	go c.drain()
	c.setEncodings(b, encZRLE, encCopyRect, encCursor, encDesktopSize)
	c.request(b, false)
	for end := time.Now().Add(busyLength); time.Now().Before(end); {
		c.request(b, true)
		time.Sleep(40 * time.Millisecond)
	}
	c.close()
	seen := map[string]bool{}
	rec := newRecording(b, dir, seen)
	data, err := os.ReadFile(rec)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// sessionLength returns the duration of a recording.
func sessionLength(b *testing.B, path string) (time.Duration, int64) {
	r, err := format.Open(path, format.ReaderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	s, err := r.Summary()
	if err != nil {
		b.Fatal(err)
	}
	return s.Duration, s.Size
}

// reportRatio reports session time per second of work: of wall-clock
// time, and of CPU time (this process's and its children's, ffmpeg's,
// since cpu0, where the system tells it): on a machine shared with other
// work the first depends on the load, the second much less.
func reportRatio(b *testing.B, session, cpu0 time.Duration) {
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(session)/float64(per), "x-realtime")
	if cpu := cputime.WithChildren() - cpu0; cpu > 0 && cpu0 > 0 {
		b.ReportMetric(float64(session)/float64(cpu/time.Duration(b.N)), "x-realtime-cpu")
	}
}

// BenchmarkBusyDecode decodes the busy session from its start.
func BenchmarkBusyDecode(b *testing.B) {
	path := busyRecording(b)
	length, _ := sessionLength(b, path)
	b.ResetTimer()
	cpu := cputime.WithChildren()
	for b.Loop() {
		r, err := format.Open(path, format.ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		s := screen.New(screen.Options{})
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Feed(rec); err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
	reportRatio(b, length, cpu)
}

// BenchmarkBusyIndexBuild builds the busy session's seek index.
func BenchmarkBusyIndexBuild(b *testing.B) {
	path := busyRecording(b)
	length, size := sessionLength(b, path)
	var idxSize int64
	cpu := cputime.WithChildren()
	for b.Loop() {
		code, _, se := runCmd(b, "index", "--json", path)
		if code != 0 {
			b.Fatal(se)
		}
		fi, err := os.Stat(screen.IndexPath(path))
		if err != nil {
			b.Fatal(err)
		}
		idxSize = fi.Size()
		os.Remove(screen.IndexPath(path))
	}
	reportRatio(b, length, cpu)
	b.ReportMetric(100*float64(idxSize)/float64(size), "%-of-recording")
}

// BenchmarkBusySnapshotLate is snapshot at 90 % of the busy session, with
// and without its index.
func BenchmarkBusySnapshotLate(b *testing.B) {
	path := busyRecording(b)
	length, _ := sessionLength(b, path)
	at := (length * 9 / 10).String()
	for _, mode := range []string{"index", "no-index"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "index" {
				if code, _, se := runCmd(b, "index", path); code != 0 {
					b.Fatal(se)
				}
				b.Cleanup(func() { os.Remove(screen.IndexPath(path)) })
			}
			out := filepath.Join(b.TempDir(), "s.png")
			for b.Loop() {
				code, _, se := runCmd(b, "snapshot", path, "--at", at, "--force", "-o", out)
				if code != 0 {
					b.Fatal(se)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/snapshot")
		})
	}
}

// BenchmarkBusyVideo makes a 10 fps MP4 of the busy session with ffmpeg.
func BenchmarkBusyVideo(b *testing.B) {
	vnctest.Require(b, "ffmpeg", "ffmpeg")
	path := busyRecording(b)
	length, _ := sessionLength(b, path)
	out := filepath.Join(b.TempDir(), "v.mp4")
	cpu := cputime.WithChildren()
	for b.Loop() {
		if code, _, se := runCmd(b, "video", path, "--fps", "10", "--force", "-o", out); code != 0 {
			b.Fatal(se)
		}
	}
	reportRatio(b, length, cpu)
}

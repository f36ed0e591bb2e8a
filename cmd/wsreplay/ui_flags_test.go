package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
)

// TestUIVideoFlags: --video-exports 0 turns the player's video download
// off (501), --ffmpeg names the program whose absence the download
// reports, and bad values are usage errors that name the flag.
func TestUIVideoFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := writeRecording(t, dir, "a.wsrec")
	for _, tc := range []struct {
		name     string
		args     []string
		want     int
		wantBody string
	}{
		{"Off", []string{"--video-exports", "0"}, http.StatusNotImplemented, "video export is disabled"},
		{"NoFFmpeg", []string{"--ffmpeg", "/nonexistent/ffmpeg"}, http.StatusNotImplemented, "/nonexistent/ffmpeg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := start(t, append(append([]string{"--ui"}, tc.args...), "127.0.0.1:0", dir)...)
			resp, err := http.Get("http://" + cmd.addr + "/ui/api/video?name=a.wsrec&format=mp4")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			status, body := resp.StatusCode, string(b)
			if status != tc.want || !strings.Contains(body, tc.wantBody) {
				t.Errorf("GET /ui/api/video: got %d %q, want %d %q", status, body, tc.want, tc.wantBody)
			}
		})
	}
	clitest.RunCases(t, run, []clitest.Case{
		{Name: "ErrExports", Args: []string{"--ui", "--video-exports=-1", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --video-exports must not be negative (0 turns the video download off)\n"}},
		{Name: "ErrCache", Args: []string{"--ui", "--video-cache", "lots", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --video-cache: \"lots\" is not a size such as 512M\n"}},
	})
}

package ui_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsproxy/wsproxy/internal/vnctest"
	"github.com/wsproxy/wsproxy/replay/ui"
)

// TestBrowserVideoLink opens the player in Chromium: its "Download
// video" link must point at the video export of the recording at the
// player's speed, follow the format chosen, and a click must have the
// server make the video under the page's Content-Security-Policy, the
// page saying so until it is ready.
func TestBrowserVideoLink(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Chromium and ffmpeg")
	}
	vnctest.Require(t, "ffmpeg", "ffmpeg")
	hs, _ := startUI(t, videoSession(t), ui.Options{VideoDir: t.TempDir()})
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
	p := b.OpenPage(t, hs.URL+"/ui/play.html?name=alice.wsrec")
	href := func(want string) {
		t.Helper()
		var got string
		vnctest.Poll(t, "video link "+want, func() (bool, string) {
			got = vnctest.Eval[string](t, p, `document.getElementById("video").href`)
			return got == want, got
		})
	}
	api := hs.URL + "/ui/api/video?"
	href(api + "name=alice.wsrec&format=mp4&speed=1")
	if got := vnctest.Eval[string](t, p, `document.getElementById("video").download`); got != "alice.mp4" {
		t.Errorf("download name %q, want alice.mp4", got)
	}
	vnctest.Eval[bool](t, p, `(() => { const s = document.getElementById("video-format"); s.value = "webm";
		s.dispatchEvent(new Event("change")); document.getElementById("skip-idle").click(); return true; })()`)
	q := "name=alice.wsrec&format=webm&speed=1&idle=1"
	href(api + q)

	vnctest.Eval[bool](t, p, `(document.getElementById("video").click(), true)`)
	var state string
	vnctest.Poll(t, "the page says the video is ready", func() (bool, string) {
		state = vnctest.Eval[string](t, p, `document.body.dataset.video || ""`)
		return state == "Video ready", state
	})
	if shots := os.Getenv("WSPROXY_SCREENSHOTS"); shots != "" { // a directory to keep them in
		p.Screenshot(t, filepath.Join(shots, "TestBrowserVideoLink.png"))
	}
	_, body := get(t, hs.URL+"/ui/api/videostatus?"+q)
	var st ui.VideoStatus
	if err := json.Unmarshal(body, &st); err != nil || st.State != "ready" {
		t.Errorf("videostatus after the click: %s, want ready", body)
	}
}

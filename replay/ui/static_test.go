package ui_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/wsproxy/wsproxy/internal/vnctest"
	"github.com/wsproxy/wsproxy/replay/ui"
)

// fetch GETs u with the request headers hdr (the Transport then leaves
// the body as sent) and returns the response and its body.
func fetch(t testing.TB, u string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStaticCaching proves the headers of the pages' files and noVNC's:
// gzip when Accept-Encoding allows it, an ETag (or noVNC's Last-Modified)
// that a revalidation answers with 304, and no-cache so that browsers
// revalidate.
func TestStaticCaching(t *testing.T) {
	t.Parallel()
	novnc := vnctest.NoVNCDir
	vnctest.Require(t, filepath.Join(novnc, "core", "rfb.js"), "novnc")
	hs, _ := startUI(t, fixtures(t), ui.Options{NoVNCDir: novnc})
	_, plain := fetch(t, hs.URL+"/ui/player.js", nil)
	_, rfbJS := fetch(t, hs.URL+"/ui/novnc/core/rfb.js", nil)
	for _, tc := range []struct {
		name, path, accept string
		gzip               bool
		want               []byte
	}{
		{"OwnGzip", "/ui/player.js", "gzip, deflate, br", true, plain},
		{"OwnNoGzip", "/ui/player.js", "", false, plain},
		{"OwnGzipRefused", "/ui/player.js", "br, gzip;q=0", false, plain},
		{"OwnIndex", "/ui/", "gzip", true, nil},
		{"NoVNCGzip", "/ui/novnc/core/rfb.js", "gzip", true, rfbJS},
		{"NoVNCNoGzip", "/ui/novnc/core/rfb.js", "identity", false, rfbJS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := fetch(t, hs.URL+tc.path, map[string]string{"Accept-Encoding": tc.accept})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tc.gzip {
				t.Fatalf("Content-Encoding %q, want gzip %v", resp.Header.Get("Content-Encoding"), tc.gzip)
			}
			if tc.gzip {
				b = gunzip(t, b)
			}
			if tc.want != nil && !bytes.Equal(b, tc.want) {
				t.Errorf("body of %d bytes differs from the file's %d", len(b), len(tc.want))
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", cc)
			}
			// Revalidate with what the response gave.
			hdr := map[string]string{"Accept-Encoding": tc.accept}
			if e := resp.Header.Get("ETag"); e != "" {
				hdr["If-None-Match"] = e
			} else if lm := resp.Header.Get("Last-Modified"); lm != "" {
				hdr["If-Modified-Since"] = lm
			} else {
				t.Fatal("neither ETag nor Last-Modified")
			}
			resp, b = fetch(t, hs.URL+tc.path, hdr)
			if resp.StatusCode != http.StatusNotModified || len(b) != 0 {
				t.Errorf("revalidation: status %d with %d bytes, want 304 without a body", resp.StatusCode, len(b))
			}
		})
	}
}

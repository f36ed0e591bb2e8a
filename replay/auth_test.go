package replay_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/wstest"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/replay"
)

// TestAuthCoversAPI sets an Authenticator that wants a bearer token and
// checks that it guards every way into a replay: the replay's
// WebSocket, the control WebSocket and the JSON lists of recordings and
// replays (whose IDs control the replays).
func TestAuthCoversAPI(t *testing.T) {
	t.Parallel()
	auth := proxy.AuthenticatorFunc(func(_ context.Context, r *proxy.Request) (string, error) {
		if r.HTTP.Header.Get("Authorization") != "Bearer good" {
			return "", &proxy.HTTPError{Status: http.StatusUnauthorized, Reason: "token wanted",
				Header: http.Header{"Www-Authenticate": {"Bearer"}}}
		}
		return "alice", nil
	})
	srv := startServer(t, []string{rfbFixture}, replay.ServerOptions{
		Proxy:    proxy.ServerOptions{Authenticator: auth},
		Playback: replay.Options{End: replay.EndHold, Speed: replay.SpeedMax}})
	good := http.Header{"Authorization": {"Bearer good"}}

	// A render-mode replay, with an ID chosen by the viewer.
	viewer := wstest.Dial(t, "ws://"+srv.addr+"/?replay=mine", wstest.DialOptions{Header: good, Protocols: []string{"binary"}})
	viewer.ReadN(t, 12) // the RFB banner
	waitReplay(t, srv)
	// Before the viewer's handshake is done, the replay cannot be
	// controlled yet.
	if _, err := srv.Control(t.Context(), "mine", replay.Command{Action: "pause"}); !errors.Is(err, replay.ErrNotStarted) {
		t.Errorf("control during the handshake: got %v, want ErrNotStarted", err)
	}
	viewer.Send(t, "RFB 003.008\n")
	if got := viewer.ReadN(t, 2); got != "\x01\x01" {
		t.Fatalf("security types %q, want None", got)
	}
	viewer.Send(t, "\x01")
	viewer.ReadN(t, 4)
	viewer.Send(t, "\x01")      // ClientInit
	init := viewer.ReadN(t, 24) // ServerInit, with the name or part of it
	if n := 24 + int(binary.BigEndian.Uint32([]byte(init[20:]))); len(init) < n {
		viewer.ReadN(t, n-len(init))
	}
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
		_, err := srv.Control(t.Context(), "mine", replay.Command{Action: "resume"})
		if err == nil {
			break
		}
		if !errors.Is(err, replay.ErrNotStarted) || time.Now().After(deadline) {
			t.Fatalf("control after the handshake: %v", err)
		}
	}

	for _, tc := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", http.Header{"Authorization": {"Bearer bad"}}, http.StatusUnauthorized},
		{"good token", good, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/recordings", "/replays", "/replays/mine"} {
				req, _ := http.NewRequest("GET", "http://"+srv.addr+path, nil)
				req.Header = tc.header.Clone()
				if req.Header == nil {
					req.Header = http.Header{}
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Errorf("GET %s: status %d, want %d", path, resp.StatusCode, tc.status)
				}
				if tc.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("GET %s: WWW-Authenticate %q, want Bearer", path, resp.Header.Get("WWW-Authenticate"))
				}
			}
			for _, path := range []string{"/replays/mine/control", "/?replay=other"} {
				c, err := wstest.TryDial(t, "ws://"+srv.addr+path, wstest.DialOptions{Header: tc.header, Protocols: []string{"binary"}})
				switch {
				case tc.status == http.StatusOK && err != nil:
					t.Errorf("WebSocket %s: %v, want it open", path, err)
				case tc.status != http.StatusOK && (err == nil || !strings.Contains(err.Error(), "401")):
					t.Errorf("WebSocket %s: got %v, want refused with 401", path, err)
				}
				if err == nil && strings.HasSuffix(path, "/control") {
					c.Send(t, `{"action":"pause"}`)
					if f := c.Next(t); !strings.Contains(string(f.Payload), `"paused":true`) {
						t.Errorf("control: got %s, want the paused state", f.Payload)
					}
				}
			}
		})
	}
}

package websockify

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"
)

// The fixture testdata/recordings/websockify-vnc-session.txt is a real
// recording by Debian 12's websockify of an RFB session with TigerVNC's
// Xvnc, made on 2026-11-25 with
//
//	apt-get install -y websockify tigervnc-standalone-server
//	# websockify, python3-websockify 0.10.0+dfsg1-4+b1 (Python 3.11.2);
//	# tigervnc-standalone-server 1.12.0+dfsg-8
//	Xvnc :57 -geometry 320x240 -depth 24 -SecurityTypes None \
//	    -rfbport $VNCPORT -interface 127.0.0.1 -nolisten tcp -retro &
//	websockify --record /tmp/wsfix/rec 127.0.0.1:$WSPORT 127.0.0.1:$VNCPORT &
//	python3 /tmp/wsfix/driver.py 127.0.0.1 $WSPORT session.json
//	cp /tmp/wsfix/rec.1 testdata/recordings/websockify-vnc-session.txt
//
// with both ports free loopback ports. driver.py, a throwaway script not
// kept in the repository, is a WebSocket client written on a plain socket
// (offering the "binary" subprotocol) that speaks RFB 3.8 (RFC 6143): it
// answers the version, picks security type None, sends ClientInit (shared),
// SetPixelFormat to 8 bits per pixel true colour, SetEncodings Raw and a
// full FramebufferUpdateRequest; after 300 ms SetEncodings ZRLE, Raw and
// another full request; KeyEvents down and up for ', \, ", Return and a;
// five PointerEvents; a ClientCutText holding quotes, backslashes and bytes
// 0x00, 0x7f, 0x80 and 0xff; after 300 ms three incremental requests, each
// waiting up to 500 ms for an answer; then a WebSocket close. It logged every binary message it sent or
// received, with its own clock in milliseconds since the handshake, and
// that log is testdata/recordings/websockify-vnc-session.client.json.
const (
	fixtureRecording = "../../testdata/recordings/websockify-vnc-session.txt"
	fixtureClientLog = "../../testdata/recordings/websockify-vnc-session.client.json"
)

type clientLog struct {
	Messages []struct {
		FromClient bool   `json:"fromClient"`
		MS         int64  `json:"ms"`
		Data       []byte `json:"data"`
	} `json:"messages"`
}

func TestFixtureVNCSession(t *testing.T) {
	t.Parallel()
	file, err := os.ReadFile(fixtureRecording)
	if err != nil {
		t.Fatal(err)
	}
	logJSON, err := os.ReadFile(fixtureClientLog)
	if err != nil {
		t.Fatal(err)
	}
	var log clientLog
	if err := json.Unmarshal(logJSON, &log); err != nil {
		t.Fatalf("%s: %v", fixtureClientLog, err)
	}

	if !Detect(file) {
		t.Errorf("Detect(fixture) = false")
	}
	r := NewReader(bytes.NewReader(file), ReaderOptions{})
	frames, err := readAll(r)
	if err != io.EOF {
		t.Fatalf("got error %v, want io.EOF", err)
	}
	if r.Encoding() != EncodingBinary {
		t.Errorf("Encoding() = %v, want binary", r.Encoding())
	}
	if len(frames) != len(log.Messages) {
		t.Fatalf("got %d frames, the client logged %d messages", len(frames), len(log.Messages))
	}

	// The file and the client may order messages of opposite directions
	// differently, but each direction's messages must match one for one,
	// byte for byte, at about the same time.
	var next [2]int // index into log.Messages for each direction
	for i, f := range frames {
		dir := 0
		if f.FromClient {
			dir = 1
		}
		for next[dir] < len(log.Messages) && log.Messages[next[dir]].FromClient != f.FromClient {
			next[dir]++
		}
		if next[dir] == len(log.Messages) {
			t.Fatalf("frame %d (FromClient %v): no such message left in the client's log", i, f.FromClient)
		}
		m := log.Messages[next[dir]]
		next[dir]++
		if !bytes.Equal(f.Data, m.Data) {
			t.Errorf("frame %d (FromClient %v): got %.80q, the client logged %.80q", i, f.FromClient, f.Data, m.Data)
		}
		if d := f.Time - time.Duration(m.MS)*time.Millisecond; d < -50*time.Millisecond || d > 50*time.Millisecond {
			t.Errorf("frame %d: recorded at %v, the client logged %d ms", i, f.Time, m.MS)
		}
		if i > 0 && f.Time < frames[i-1].Time {
			t.Errorf("frame %d: time %v before the previous frame's %v", i, f.Time, frames[i-1].Time)
		}
	}

	if got, want := string(frames[0].Data), "RFB 003.008\n"; frames[0].FromClient || got != want {
		t.Errorf("frame 0: got FromClient %v %q, want the server's %q", frames[0].FromClient, got, want)
	}
	if last := frames[len(frames)-1].Time; last < time.Second {
		t.Errorf("last frame at %v; the session lasted over a second", last)
	}

	// Writing the frames again reproduces websockify's file byte for byte.
	if got := writeAll(t, frames); !bytes.Equal(got, file) {
		t.Errorf("rewritten recording differs from websockify's (%d bytes, want %d)", len(got), len(file))
	}
}

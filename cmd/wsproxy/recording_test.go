package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/websockify"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
)

// recordings lists the files under dir.
func recordings(t testing.TB, dir string) []string { return rfbtest.Files(t, dir) }

// waitSealed waits until dir holds one recording, sealed, and returns
// its name.
func waitSealed(t testing.TB, dir string) string {
	t.Helper()
	waitFor(t, "the recording to be sealed", func() bool {
		names := recordings(t, dir)
		if len(names) != 1 {
			return false
		}
		r, err := format.Open(names[0], format.ReaderOptions{})
		if err != nil {
			return false
		}
		defer r.Close()
		return r.Sealed()
	})
	return recordings(t, dir)[0]
}

// readRecording returns the records of a wsrec file and whether it is
// sealed.
func readRecording(t testing.TB, name string) (format.Header, []format.Record, bool) {
	return rfbtest.Open(t, name)
}

// messages returns the payloads of the message records one way.
func messages(recs []format.Record, dir format.Direction) [][]byte {
	var out [][]byte
	for _, r := range recs {
		if r.Kind == format.KindMessage && r.Dir == dir {
			out = append(out, r.Payload)
		}
	}
	return out
}

// TestRecordByteExact sends random messages, empty ones included, through
// wsproxy with --record-dir: the recording holds exactly what the client
// sent and what the target returned, with the session's metadata, sealed.
func TestRecordByteExact(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "recordings")
	in := startRun(t, "--record-dir", dir, "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+in.addr+"/vnc?token=x", nil)
	rng := rand.New(rand.NewPCG(1, 1))
	var sent [][]byte
	var echoed []byte
	for i := range 200 {
		p := make([]byte, []int{0, 1, 7, 1000, 70000}[i%5])
		for j := range p {
			p[j] = byte(rng.IntN(256))
		}
		sent = append(sent, p)
		if err := wsutil.WriteClientBinary(c, p); err != nil {
			t.Fatal(err)
		}
		for want := len(echoed) + len(p); len(echoed) < want; {
			q, err := wsutil.ReadServerBinary(c)
			if err != nil {
				t.Fatal(err)
			}
			echoed = append(echoed, q...)
		}
	}
	ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "done"))))
	readClose(t, c)
	name := waitSealed(t, dir)
	if fi, _ := os.Stat(name); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	h, recs, _ := readRecording(t, name)
	got := messages(recs, format.ClientToTarget)
	if len(got) != len(sent) {
		t.Fatalf("%d client messages recorded, %d sent", len(got), len(sent))
	}
	for i := range sent {
		if !bytes.Equal(got[i], sent[i]) {
			t.Fatalf("client message %d differs", i)
		}
	}
	if back := bytes.Join(messages(recs, format.TargetToClient), nil); !bytes.Equal(back, echoed) {
		t.Fatalf("target→client: %d bytes recorded, %d received", len(back), len(echoed))
	}
	last := recs[len(recs)-1]
	if recs[0].Kind != format.KindOpen || last.Kind != format.KindClose || last.Close.By != format.ClosedByClient ||
		last.Close.Code != 1000 || last.Close.Reason != "done" || last.Close.ClientBytes != uint64(len(bytes.Join(sent, nil))) {
		t.Errorf("first %v, last %+v", recs[0].Kind, last)
	}
	for k, want := range map[string]string{
		format.MetaTarget: "127.0.0.1:", format.MetaClient: "127.0.0.1:", format.MetaListen: "127.0.0.1:",
		format.MetaSubprotocol: "binary", format.MetaPath: "/vnc", format.MetaProgram: "wsproxy ",
	} {
		if !strings.HasPrefix(h.Meta[k], want) {
			t.Errorf("metadata %s = %q, want prefix %q", k, h.Meta[k], want)
		}
	}
	if host, _ := os.Hostname(); h.Meta[format.MetaHostname] != host {
		t.Errorf("hostname %q", h.Meta[format.MetaHostname])
	}
}

// TestRecordBase64 records a base64 session: the decoded bytes, typed as
// text messages.
func TestRecordBase64(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := startRun(t, "--record-dir", dir, "127.0.0.1:0", startEcho(t, "tcp", nil))
	c, _, _, err := ws.Dialer{Protocols: []string{"base64"}}.Dial(t.Context(), "ws://"+in.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := []byte{0, 1, 2, 0xff, 'h', 'i'}
	if err := wsutil.WriteClientText(c, []byte(base64.StdEncoding.EncodeToString(payload))); err != nil {
		t.Fatal(err)
	}
	q, err := wsutil.ReadServerText(c)
	if err != nil {
		t.Fatal(err)
	}
	if dec, _ := base64.StdEncoding.DecodeString(string(q)); !bytes.Equal(dec, payload) {
		t.Fatalf("echo %q", q)
	}
	c.Close()
	h, recs, _ := readRecording(t, waitSealed(t, dir))
	if h.Meta[format.MetaSubprotocol] != "base64" {
		t.Errorf("subprotocol %q", h.Meta[format.MetaSubprotocol])
	}
	for _, r := range recs {
		if r.Kind == format.KindMessage && (r.Type != format.Text || !bytes.Equal(r.Payload, payload)) {
			t.Errorf("record %v %v %q, want text %q", r.Dir, r.Type, r.Payload, payload)
		}
	}
}

// TestRecordWebsockifyFile: --record FILE --record-format websockify writes
// FILE.1 (FILE.2 when FILE.1 exists), readable as websockify's format.
func TestRecordWebsockifyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "session")
	writeFile(t, base+".1", []byte("an older recording"))
	in := startRun(t, "--record", base, "--record-format", "websockify", "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+in.addr+"/", nil)
	assertEcho(t, c, "hello 'quoted' \\ text")
	c.Close()
	waitFor(t, "the recording to end", func() bool {
		b, _ := os.ReadFile(base + ".2")
		return bytes.HasSuffix(b, []byte("'EOF'];\n"))
	})
	if b, _ := os.ReadFile(base + ".1"); string(b) != "an older recording" {
		t.Fatalf("FILE.1 overwritten: %q", b)
	}
	f, err := os.Open(base + ".2")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := websockify.NewReader(f, websockify.ReaderOptions{})
	fr, err := r.Next()
	if err != nil || !fr.FromClient || string(fr.Data) != "hello 'quoted' \\ text" {
		t.Fatalf("first frame %+v, %v", fr, err)
	}
}

// TestRecordNoFileForRejected: plain HTTP requests and refused handshakes
// create no recording.
func TestRecordNoFileForRejected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := startRun(t, "--record-dir", dir, "127.0.0.1:0", startEcho(t, "tcp", nil))
	resp, err := http.Get("http://" + in.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", "http://"+in.addr+"/", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "6")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("version 6: status %d", resp.StatusCode)
	}
	time.Sleep(100 * time.Millisecond)
	if names := recordings(t, dir); len(names) != 0 {
		t.Fatalf("recordings %v for rejected requests", names)
	}
}

// TestRecordKill kills a real wsproxy with SIGKILL in the middle of a
// stream: the recording is unsealed but readable, and holds everything up
// to at most one flush interval before the kill.
func TestRecordKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startBinary(t, nil, "--record-dir", dir, "--record-flush", "200ms", "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+p.addr+"/", nil)
	var (
		last     int
		lastEcho time.Time // when the last message came back: it was relayed, and queued
	)
	start := time.Now()
	deadline := start.Add(1500 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		assertEcho(t, c, "message "+strings.Repeat("x", i%50)+strconv.Itoa(i))
		last, lastEcho = i, time.Now()
		time.Sleep(2 * time.Millisecond)
	}
	killed := time.Now()
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)
	names := recordings(t, dir)
	if len(names) != 1 {
		t.Fatalf("recordings %v", names)
	}
	_, recs, sealed := readRecording(t, names[0])
	if sealed {
		t.Fatal("a killed recording reads as sealed")
	}
	got := messages(recs, format.ClientToTarget)
	if len(got) == 0 {
		t.Fatal("nothing recorded before the kill")
	}
	// The last recorded message was sent at most one flush interval (plus
	// scheduling slack) before the kill, or before the last message the
	// proxy relayed: a test starved of CPU on a busy machine sends nothing
	// for a while, and nothing is lost then (it once waited 1.85 s for an
	// echo under the whole race suite).
	lastRec := recs[len(recs)-1].Time
	sessionLen := killed.Sub(start)
	if lost := lastEcho.Sub(start) - lastRec; lost > 200*time.Millisecond+300*time.Millisecond {
		t.Errorf("last record at %v of a %v session, the last echo at %v: %v lost, want ≤ one flush interval (200ms) plus slack", lastRec, sessionLen, lastEcho.Sub(start), lost)
	}
	t.Logf("sent %d messages, %d recorded; last record %v before the kill", last+1, len(got), sessionLen-lastRec)
}

// TestRecordSIGTERMSeals: a graceful shutdown seals the open recordings.
func TestRecordSIGTERMSeals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startBinary(t, nil, "--record-dir", dir, "--shutdown-timeout", "0.2", "127.0.0.1:0", startEcho(t, "tcp", nil))
	c := mustDialWS(t, "ws://"+p.addr+"/", nil)
	assertEcho(t, c, "before SIGTERM")
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	_, recs, sealed := readRecording(t, recordings(t, dir)[0])
	last := recs[len(recs)-1]
	if !sealed || last.Kind != format.KindClose || last.Close.Code != 1001 || last.Close.By != format.ClosedByProxy {
		t.Fatalf("sealed %v, last record %+v", sealed, last)
	}
}

// TestRecordDiskFull records to a full filesystem (a 256 KiB tmpfs, when the
// test may mount one): strict closes the session with 1011; best-effort
// keeps it open.
func TestRecordDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING: mounting a small tmpfs needs root")
	}
	for _, policy := range []string{"strict", "best-effort"} {
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
				t.Skipf("SKIPPING: cannot mount a tmpfs: %v %s", err, out)
			}
			t.Cleanup(func() { exec.Command("umount", dir).Run() })
			in := startRun(t, "--record-dir", dir, "--record-policy", policy, "--record-flush", "10ms", "127.0.0.1:0", startEcho(t, "tcp", nil))
			c := mustDialWS(t, "ws://"+in.addr+"/", nil)
			rng := rand.NewChaCha8([32]byte{9})
			closed := false
			for i := 0; i < 200 && !closed; i++ { // 200 × 8 KiB of random bytes: far over 256 KiB
				p := make([]byte, 8<<10)
				rng.Read(p)
				c.SetDeadline(time.Now().Add(waitTimeout))
				if err := wsutil.WriteClientBinary(c, p); err != nil {
					closed = true
					break
				}
				for n := 0; n < len(p); {
					h, err := ws.ReadHeader(c)
					if err != nil {
						closed = true
						break
					}
					q := make([]byte, h.Length)
					io.ReadFull(c, q)
					if h.OpCode == ws.OpClose {
						code, reason := ws.ParseCloseFrameData(q)
						if code != ws.StatusInternalServerError || reason != "Recording failed" {
							t.Fatalf("closed with %d %q", code, reason)
						}
						closed = true
						break
					}
					n += len(q)
				}
				time.Sleep(2 * time.Millisecond)
			}
			if policy == "strict" && !closed {
				t.Fatal("strict: the session went on after the disk filled")
			}
			if policy == "best-effort" {
				if closed {
					t.Fatal("best-effort: the session was closed")
				}
				in.stderr.Wait(t, regexp.MustCompile(`recording failed.*no space left on device`))
			}
		})
	}
}

// TestRecordLevel: --record-level reaches the compressor. The same
// compressible traffic recorded at "best" makes a smaller file than at
// "fastest", the default.
func TestRecordLevel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(2, 2))
	words := strings.Fields("frame buffer update rectangle pixel format key event pointer cut text bell resize")
	var text []byte
	for len(text) < 1<<20 {
		text = append(text, words[rng.IntN(len(words))]...)
		text = append(text, ' ')
	}
	size := func(level ...string) int64 {
		dir := t.TempDir()
		in := startRun(t, append(append([]string{"--record-dir", dir}, level...), "127.0.0.1:0", startEcho(t, "tcp", nil))...)
		c := mustDialWS(t, "ws://"+in.addr+"/", nil)
		if err := wsutil.WriteClientBinary(c, text); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < len(text); {
			q, err := wsutil.ReadServerBinary(c)
			if err != nil {
				t.Fatal(err)
			}
			got += len(q)
		}
		ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
		readClose(t, c)
		fi, err := os.Stat(waitSealed(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	fastest, best := size(), size("--record-level", "best")
	t.Logf("recording of 2 × %d bytes: %d bytes at fastest, %d at best", len(text), fastest, best)
	if best >= fastest {
		t.Errorf("--record-level best made %d bytes, the default %d: want fewer", best, fastest)
	}
}

// TestRecordSymlinkedSubdir: a directory of --record-name's template that
// is a symbolic link out of --record-dir is not followed. strict refuses
// the session with 1011 and logs why; best-effort lets it through
// unrecorded and logs why; nothing is written outside.
func TestRecordSymlinkedSubdir(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"strict", "best-effort"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			dir, outside := filepath.Join(tmp, "rec"), filepath.Join(tmp, "outside")
			for _, d := range []string{dir, outside} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(outside, filepath.Join(dir, "127.0.0.1")); err != nil {
				t.Skipf("SKIPPING: no symbolic links here: %v", err)
			}
			in := startRun(t, "--record-dir", dir, "--record-name", "{client}/x.wsrec", "--record-policy", policy,
				"--record-flush", "10ms", "127.0.0.1:0", startEcho(t, "tcp", nil))
			c := mustDialWS(t, "ws://"+in.addr+"/", nil)
			defer c.Close()
			switch policy {
			case "strict":
				if code := readClose(t, c); code != ws.StatusInternalServerError {
					t.Errorf("strict: closed with %d, want 1011", code)
				}
			case "best-effort":
				for i := range 3 {
					assertEcho(t, c, "hello "+strconv.Itoa(i))
					time.Sleep(20 * time.Millisecond) // past the flush interval: a retry
				}
			}
			want := regexp.QuoteMeta(filepath.Join(dir, "127.0.0.1") + " is a symbolic link, not a directory")
			in.stderr.Wait(t, regexp.MustCompile(`recording: cannot create the file.*`+want))
			if names := recordings(t, outside); len(names) != 0 {
				t.Errorf("written outside --record-dir: %v", names)
			}
		})
	}
}

// vanishingListener accepts connections whose writes, once gone is set,
// send half of what they are given and fail: the client vanished in the
// middle of a message.
type vanishingListener struct {
	net.Listener
	gone *atomic.Bool
}

func (l vanishingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return vanishingConn{c, l.gone}, nil
}

type vanishingConn struct {
	net.Conn
	gone *atomic.Bool
}

func (c vanishingConn) Write(p []byte) (int, error) {
	if c.gone.Load() {
		n, _ := c.Conn.Write(p[:len(p)/2])
		return n, syscall.ECONNRESET
	}
	return c.Conn.Write(p)
}

// TestRecordUndeliveredMessage: when the write of a target→client message
// to the client fails, the message is not in the recording, whose
// target→client records then add up to the close record's byte count.
func TestRecordUndeliveredMessage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec, err := record.New(record.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tln.Close()
	srv, err := proxy.NewServer(proxy.ServerOptions{
		Resolver: proxy.Target{Address: tln.Addr().String()},
		NewTap:   newRecordingTap(rec),
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := new(atomic.Bool)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), vanishingListener{ln, gone}) }()

	c := mustDialWS(t, "ws://"+ln.Addr().String()+"/", nil)
	tln.(*net.TCPListener).SetDeadline(time.Now().Add(waitTimeout))
	target, err := tln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	target.Write([]byte("delivered"))
	c.SetDeadline(time.Now().Add(waitTimeout))
	if p, err := wsutil.ReadServerBinary(c); err != nil || string(p) != "delivered" {
		t.Fatalf("client got %q, %v", p, err)
	}
	gone.Store(true)
	target.Write([]byte("never received"))
	// The proxy ends the session: the target sees EOF. The client is gone.
	target.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := io.Copy(io.Discard, target); err != nil {
		t.Fatalf("target: %v, want EOF", err)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	<-served

	names := recordings(t, dir)
	if len(names) != 1 {
		t.Fatalf("recordings %v, want 1", names)
	}
	_, recs, sealed := readRecording(t, names[0])
	if !sealed {
		t.Error("recording not sealed")
	}
	got := messages(recs, format.TargetToClient)
	if len(got) != 1 || string(got[0]) != "delivered" {
		t.Errorf("target→client records %q, want just %q", got, "delivered")
	}
	last := recs[len(recs)-1]
	if last.Kind != format.KindClose {
		t.Fatalf("last record %v, want the close", last.Kind)
	}
	if last.Close.TargetBytes != uint64(len("delivered")) || last.Close.By != format.ClosedByClient {
		t.Errorf("close record %+v, want %d bytes to the client, closed by the client", last.Close, len("delivered"))
	}
}

package demo_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/examples/internal/wsproxytest"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/vnctest"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// rfbVersion is the ProtocolVersion message of RFB 3.8 (RFC 6143, section
// 7.1.1), which Xvnc sends first and the client echoes.
const rfbVersion = "RFB 003.008\n"

// TestDemo runs demo.sh on free ports, opens noVNC's page and a WebSocket
// session at the address it prints, interrupts it as Ctrl-C would, and
// checks that the session was recorded and that nothing it started runs.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wsproxy and runs Xvnc")
	}
	vnctest.Require(t, "Xvnc", "tigervnc-standalone-server")
	vnctest.Require(t, "/usr/share/novnc/vnc.html", "novnc")
	display := freeDisplay()
	recordDir := filepath.Join(t.TempDir(), "recordings")
	tmp := t.TempDir()

	cmd := exec.Command("bash", "demo.sh", "--shutdown-timeout", "1")
	cmd.Env = append(os.Environ(),
		"DEMO_PORT="+strconv.Itoa(vnctest.FreePort(t)),
		"DEMO_VNC_PORT="+strconv.Itoa(vnctest.FreePort(t)),
		"DEMO_DISPLAY="+strconv.Itoa(display),
		"DEMO_RECORD_DIR="+recordDir,
		"TMPDIR="+tmp,
	)
	// Files, not buffers, so that Wait returns when the script exits, even
	// if a process it left behind holds its output.
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	stdout, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	cmd.Stdout = w
	// Its own process group, which the cleanup kills should the script
	// leave something behind; SIGINT goes to the script alone, which is
	// harder than a terminal's Ctrl-C (to the whole group).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	lines := make(chan string, 10)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		// What the script left behind, if anything: SIGTERM lets Xvnc
		// remove its socket and lock file.
		group := -cmd.Process.Pid
		syscall.Kill(group, syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(group, 0) == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		syscall.Kill(group, syscall.SIGKILL)
		if t.Failed() {
			b, _ := os.ReadFile(stderr.Name())
			t.Logf("demo.sh's standard error:\n%s", b)
		}
	})

	// The first line is the URL to open. The script builds wsproxy first.
	var page *url.URL
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("demo.sh exited before it printed the URL")
		}
		m := regexp.MustCompile(`^Open (http://localhost:\d+/vnc\.html\?\S*)$`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("got first line %q, want Open http://localhost:PORT/vnc.html?...", line)
		}
		if page, err = url.Parse(m[1]); err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute): // a first build takes long
		t.Fatal("demo.sh printed no URL within 2 minutes")
	}
	children := childPIDs(t, cmd.Process.Pid)
	if len(children) < 2 {
		t.Fatalf("got children %v of demo.sh, want Xvnc and wsproxy at least", children)
	}

	// noVNC's page, from wsproxy's --web.
	resp, err := (&http.Client{Timeout: wsproxytest.Timeout}).Get(page.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "noVNC") {
		t.Errorf("GET %s: got %s, %d bytes, want 200 and noVNC's page", page, resp.Status, len(body))
	}

	// A session as noVNC opens it: Xvnc's greeting, the client's version,
	// and the security types (one: None) through wsproxy.
	c := wstest.Dial(t, "ws://"+page.Host+"/websockify", wstest.DialOptions{Protocols: []string{"binary"}})
	if got := c.ReadN(t, len(rfbVersion)); got != rfbVersion {
		t.Fatalf("got greeting %q, want %q", got, rfbVersion)
	}
	if err := wsutil.WriteClientBinary(c, []byte(rfbVersion)); err != nil {
		t.Fatal(err)
	}
	if got, want := c.ReadN(t, 2), "\x01\x01"; got != want {
		t.Errorf("got security types %q, want %q (one: None)", got, want)
	}
	c.Goodbye()

	// Ctrl-C.
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-exited:
	case <-time.After(wsproxytest.Timeout):
		t.Fatalf("demo.sh did not exit within %v of SIGINT", wsproxytest.Timeout)
	}
	if code := exitCode(err); code != 130 {
		t.Errorf("got exit status %d (%v), want 130 (SIGINT)", code, err)
	}
	for _, pid := range children {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d that demo.sh started still exists after it exited: %s", pid, procStatus(pid))
		}
	}
	if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", display)); err == nil {
		t.Errorf("Xvnc's socket /tmp/.X11-unix/X%d is still there", display)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "wsproxy-demo.*")); len(left) > 0 {
		t.Errorf("got %q left in TMPDIR, want the script's directory removed", left)
	}
	checkRecording(t, recordDir)
}

// checkRecording checks that dir holds one sealed recording of the session
// with the RFB versions of both sides.
func checkRecording(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.wsrec"))
	if len(files) != 1 {
		t.Fatalf("got recordings %q in %s, want one", files, dir)
	}
	r, err := format.Open(files[0], format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Sealed() {
		t.Errorf("recording %s is not sealed", files[0])
	}
	first := map[format.Direction]string{}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("recording %s: %v", files[0], err)
		}
		if _, ok := first[rec.Dir]; rec.Kind == format.KindMessage && !ok {
			first[rec.Dir] = string(rec.Payload)
		}
	}
	for _, d := range []format.Direction{format.TargetToClient, format.ClientToTarget} {
		if got := first[d]; !strings.HasPrefix(got, rfbVersion) {
			t.Errorf("recording: got first %s message %q, want %q", d, got, rfbVersion)
		}
	}
}

// freeDisplay returns an X display number whose socket and lock file do not
// exist, from a random start so that parallel tests rarely try the same.
func freeDisplay() int {
	for n := 100 + rand.IntN(800); ; n++ {
		_, errSocket := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		_, errLock := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n))
		if os.IsNotExist(errSocket) && os.IsNotExist(errLock) {
			return n
		}
	}
}

// childPIDs returns the processes whose parent is pid, from /proc.
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone in between
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(strings.Fields(s)[0])
			out = append(out, child)
		}
	}
	return out
}

// procStatus describes process pid for a message.
func procStatus(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}

// exitCode returns the exit status of a command's Wait error.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

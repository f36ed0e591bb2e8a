package systemd_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/examples/internal/wsproxytest"
	"github.com/wsproxy/wsproxy/internal/systemdtest"
	"github.com/wsproxy/wsproxy/internal/vnctest"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

var units = []string{"wsproxy.socket", "wsproxy.service", "wsproxy-retention.service", "wsproxy-retention.timer"}

// unitLines returns the values of key in the unit file name, in order.
func unitLines(t *testing.T, name, key string) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var values []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+"="); ok {
			values = append(values, v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return values
}

// unitLine returns the value of key, which the unit file name must set once.
func unitLine(t *testing.T, name, key string) string {
	t.Helper()
	v := unitLines(t, name, key)
	if len(v) != 1 {
		t.Fatalf("%s sets %s= %d times, want once: the test must follow the file", name, key, len(v))
	}
	return v[0]
}

// TestVerify runs systemd-analyze verify on the units, with
// wsproxy.service's ExecStart= on a wsproxy binary built for the test. It
// fails on any message about the units; other messages (a container without
// a running systemd) are logged.
func TestVerify(t *testing.T) {
	t.Parallel()
	vnctest.Require(t, "systemd-analyze", "systemd")
	bin := wsproxytest.Build(t)
	dir := t.TempDir()
	var paths []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if u == "wsproxy.service" {
			if n := strings.Count(s, "ExecStart=/usr/bin/wsproxy "); n != 1 {
				t.Fatalf("%s has ExecStart=/usr/bin/wsproxy %d times, want once: the test must follow the file", u, n)
			}
			s = strings.Replace(s, "ExecStart=/usr/bin/wsproxy ", "ExecStart="+bin+" ", 1)
		}
		p := filepath.Join(dir, u)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	ctx, cancel := context.WithTimeout(t.Context(), wsproxytest.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var about, other []string
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if slices.ContainsFunc(units, func(u string) bool { return strings.Contains(line, u) }) {
			about = append(about, line)
		} else {
			other = append(other, line)
		}
	}
	if len(about) > 0 {
		t.Errorf("systemd-analyze verify (%v) on the units:\n%s", err, strings.Join(about, "\n"))
	}
	if len(other) > 0 || err != nil {
		t.Logf("systemd-analyze verify: %v; messages not about the units:\n%s", err, strings.Join(other, "\n"))
	}
}

// TestService runs wsproxy.service's command line as systemd would run it
// with wsproxy.socket: the socket on fd 3 (a port of 127.0.0.1 instead of
// 6080), NOTIFY_SOCKET, and /var/lib/wsproxy in a temporary directory.
func TestService(t *testing.T) {
	t.Parallel()
	if got := unitLine(t, "wsproxy.socket", "ListenStream"); got != "6080" {
		t.Errorf("wsproxy.socket listens on %s, want 6080 as README.md says", got)
	}
	name := unitLine(t, "wsproxy.socket", "FileDescriptorName")
	args := strings.Fields(unitLine(t, "wsproxy.service", "ExecStart"))
	if args[0] != "/usr/bin/wsproxy" || args[len(args)-1] != "localhost:5900" {
		t.Fatalf("ExecStart=%s: want /usr/bin/wsproxy ... localhost:5900: the test must follow the file", strings.Join(args, " "))
	}
	state := t.TempDir()
	args[0] = wsproxytest.Build(t)
	args[len(args)-1] = wstest.Echo(t)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "/var/lib/wsproxy", state)
	}

	f, addr := systemdtest.ListenerFile(t)
	notifyPath, notified := systemdtest.NotifySocket(t)
	cmd := systemdtest.ActivatedCommand(args[0], []*os.File{f}, name, "", args[1:]...)
	cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+notifyPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			<-waited
		}
		if t.Failed() {
			t.Logf("wsproxy %v stderr:\n%s", args[1:], stderr.String())
		}
	})

	if got, want := systemdtest.NextNotification(t, notified), "READY=1\nSTATUS=listening on "+addr; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	ctx, cancel := context.WithTimeout(t.Context(), wsproxytest.Timeout)
	defer cancel()
	c, _, _, err := ws.Dialer{Protocols: []string{"binary"}}.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wsproxytest.Timeout))
	if err := wsutil.WriteClientBinary(c, []byte("through the unit")); err != nil {
		t.Fatal(err)
	}
	if got, err := wsutil.ReadServerBinary(c); err != nil || string(got) != "through the unit" {
		t.Fatalf("got echo %q, %v; want %q", got, err, "through the unit")
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if got, want := systemdtest.NextNotification(t, notified), "STOPPING=1\nSTATUS=shutting down, 1 sessions open"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	c.Close()
	select {
	case err := <-waited:
		exited = true
		if err != nil {
			t.Errorf("got %v, want exit status 0", err)
		}
	case <-time.After(wsproxytest.Timeout):
		t.Fatal("wsproxy did not exit on SIGTERM")
	}
	recs, err := filepath.Glob(filepath.Join(state, "recordings", "*.wsrec"))
	if err != nil || len(recs) != 1 {
		t.Errorf("got recordings %q (%v), want one under %s/recordings", recs, err, state)
	}
}

// TestRetention runs wsproxy-retention.service's find commands on a state
// directory of old and new recordings.
func TestRetention(t *testing.T) {
	t.Parallel()
	env := unitLine(t, "wsproxy-retention.service", "Environment")
	days, ok := strings.CutPrefix(env, "RETENTION_DAYS=")
	if !ok {
		t.Fatalf("Environment=%s: want RETENTION_DAYS=N: the test must follow the file", env)
	}
	var n int
	if _, err := fmt.Sscan(days, &n); err != nil {
		t.Fatalf("RETENTION_DAYS=%s: %v", days, err)
	}
	state := t.TempDir()
	day := 24 * time.Hour
	now := time.Now()
	files := []struct {
		path     string
		age      time.Duration
		wantKept bool
	}{
		{"recordings/old.wsrec", time.Duration(n+1)*day + time.Hour, false},
		{"recordings/sub/dir/old.wsrec", time.Duration(n+2) * day, false},
		{"recordings/young.wsrec", time.Duration(n-1) * day, true},
		{"recordings/websockify.txt.1", 0, true},
		{"other/old", time.Duration(n+10) * day, true}, // not a recording
	}
	for _, f := range files {
		p := filepath.Join(state, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-f.age), now.Add(-f.age)); err != nil {
			t.Fatal(err)
		}
	}
	// An empty directory, unused for two hours: removed. One that is new
	// may be about to get its first recording: kept.
	oldDir := filepath.Join(state, "recordings", "empty-old")
	newDir := filepath.Join(state, "recordings", "empty-new")
	for _, d := range []string{oldDir, newDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(oldDir, now.Add(-2*time.Hour), now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}

	lines := unitLines(t, "wsproxy-retention.service", "ExecStart")
	if len(lines) == 0 {
		t.Fatal("wsproxy-retention.service has no ExecStart=")
	}
	for _, line := range lines {
		if strings.ContainsAny(line, `'"\`) {
			t.Fatalf("ExecStart=%s: quotes: the test splits on spaces", line)
		}
		args := strings.Fields(strings.ReplaceAll(line, "${RETENTION_DAYS}", days))
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, "/var/lib/wsproxy", state)
		}
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", args, err, out)
		}
	}
	for _, f := range files {
		_, err := os.Stat(filepath.Join(state, f.path))
		if kept := err == nil; kept != f.wantKept {
			t.Errorf("%s, %v old: kept %v, want %v", f.path, f.age, kept, f.wantKept)
		}
	}
	if _, err := os.Stat(oldDir); err == nil {
		t.Errorf("%s is empty and unused for 2h: want it removed", oldDir)
	}
	if _, err := os.Stat(newDir); err != nil {
		t.Errorf("%s is empty but new: want it kept (%v)", newDir, err)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/internal/systemdtest"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// Tests of running under systemd, with the real binary: socket activation
// (LISTEN_FDS) and readiness notification (NOTIFY_SOCKET).

func TestSystemd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the wsreplay binary")
	}
	bin := filepath.Join(t.TempDir(), "wsreplay")
	if out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rec := writeRecording(t, t.TempDir(), "a.wsrec")
	tests := []struct {
		name    string
		args    []string
		wantLog string
	}{
		// The first argument is a recording.
		{"RecordingOnly", []string{"--end", "hold", rec}, `msg=listening addr=ADDR recordings=\[` + regexp.QuoteMeta(rec) + `\]`},
		// The first argument reads as a source, and is no file: it is the
		// source, and it is not bound (port 1 would need root).
		{"SourceNotBound", []string{"--end", "hold", "127.0.0.1:1", rec}, `level=WARN msg="socket activation: the source is not bound, and its port is none of the sockets' from systemd" source=127\.0\.0\.1:1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, addr := systemdtest.ListenerFile(t)
			notifyPath, notified := systemdtest.NotifySocket(t)

			// As systemd does: the socket on fd 3, LISTEN_PID the pid that
			// the shell's exec keeps.
			cmd := systemdtest.ActivatedCommand(bin, []*os.File{f}, "wsreplay", "", tt.args...)
			cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+notifyPath)
			stderr := new(wstest.LogBuffer)
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-waited
				if t.Failed() {
					t.Logf("wsreplay stderr:\n%s", stderr)
				}
			})

			expectNotification(t, notified, "READY=1\nSTATUS=listening on "+addr)
			stderr.Wait(t, regexp.MustCompile(`msg="socket activation: serving the sockets from systemd" addr=`+regexp.QuoteMeta(addr)+` names=\[wsreplay\]`))
			stderr.Wait(t, regexp.MustCompile(strings.ReplaceAll(tt.wantLog, "ADDR", regexp.QuoteMeta(addr))))
			c := wstest.Dial(t, "ws://"+addr+"/", wstest.DialOptions{})
			c.Expect(t, "hello")
			c.Expect(t, "world")

			// The replay is held open (--end hold) until the shutdown.
			cmd.Process.Signal(syscall.SIGTERM)
			expectNotification(t, notified, "STOPPING=1\nSTATUS=shutting down, 1 replays open")
			c.ExpectClose(t, ws.StatusGoingAway)
			select {
			case err := <-waited:
				waited <- err
				if err != nil {
					t.Errorf("got %v, want exit status 0", err)
				}
			case <-time.After(waitTimeout):
				t.Fatal("wsreplay did not exit on SIGTERM")
			}
		})
	}
}

func expectNotification(t *testing.T, got <-chan string, want string) {
	t.Helper()
	if s := systemdtest.NextNotification(t, got); s != want {
		t.Errorf("got notification %q, want %q", s, want)
	}
}

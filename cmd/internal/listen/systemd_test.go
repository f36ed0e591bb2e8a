package listen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/systemdtest"
	"go.uber.org/goleak"
)

const waitTimeout = 10 * time.Second

// helperEnv makes the test binary run activatedHelper instead of the tests:
// a process that systemd's way of passing sockets can be tried on.
const helperEnv = "LISTEN_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(activatedHelper())
	}
	goleak.VerifyTestMain(m)
}

// helperReport is what activatedHelper prints on stdout.
type helperReport struct {
	Names []string          // of Activated's files
	Env   map[string]string // LISTEN_* as Activated left them
	Addrs []string          // of Listeners' listeners
	Err   string            // from Listeners
}

// activatedHelper takes the sockets of socket activation, reports them on
// stdout, then answers one connection on each with "hello from NAME".
func activatedHelper() int {
	files := Activated()
	r := helperReport{Env: map[string]string{}}
	for _, f := range files {
		r.Names = append(r.Names, f.Name())
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if v, ok := os.LookupEnv(k); ok {
			r.Env[k] = v
		}
	}
	lns, err := Listeners(files)
	if err != nil {
		r.Err = err.Error()
	}
	for _, ln := range lns {
		r.Addrs = append(r.Addrs, ln.Addr().String())
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	for i, ln := range lns {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		fmt.Fprintf(c, "hello from %s", r.Names[i])
		c.Close()
		ln.Close()
	}
	return 0
}

// activate runs the test binary as activatedHelper with files from fd 3 on,
// as systemd does: LISTEN_FDS counts them, and LISTEN_PID is the helper's
// pid, which the shell's exec keeps (unless pid is given). It returns the
// helper's report; the helper waits for a connection on each listener.
func activate(t *testing.T, files []*os.File, names, pid string) (helperReport, *exec.Cmd) {
	t.Helper()
	cmd := systemdtest.ActivatedCommand(os.Args[0], files, names, pid, "-test.run=^$")
	cmd.Env = append(cmd.Env, helperEnv+"=1")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait closes stdout: only once the report is read (a helper whose
	// Listeners fails reports and exits at once).
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan []byte, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadBytes('\n')
		lines <- line
	}()
	var r helperReport
	select {
	case line := <-lines:
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("helper's report %q: %v", line, err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no report from the helper")
	}
	return r, cmd
}

func readAll(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestActivated(t *testing.T) {
	t.Parallel()
	t.Run("Named", func(t *testing.T) {
		t.Parallel()
		f1, addr1 := systemdtest.ListenerFile(t)
		f2, addr2 := systemdtest.ListenerFile(t)
		r, _ := activate(t, []*os.File{f1, f2}, "web:admin", "")
		if want := []string{"web", "admin"}; !slices.Equal(r.Names, want) {
			t.Errorf("got names %q, want %q", r.Names, want)
		}
		if len(r.Env) != 0 {
			t.Errorf("got LISTEN_* %v after Activated, want them unset", r.Env)
		}
		if r.Err != "" {
			t.Fatalf("Listeners: %s", r.Err)
		}
		if want := []string{addr1, addr2}; !slices.Equal(r.Addrs, want) {
			t.Errorf("got addresses %q, want %q", r.Addrs, want)
		}
		if got := readAll(t, addr1); got != "hello from web" {
			t.Errorf("first socket: got %q, want %q", got, "hello from web")
		}
		if got := readAll(t, addr2); got != "hello from admin" {
			t.Errorf("second socket: got %q, want %q", got, "hello from admin")
		}
	})
	t.Run("Unnamed", func(t *testing.T) {
		t.Parallel()
		f, addr := systemdtest.ListenerFile(t)
		r, _ := activate(t, []*os.File{f}, "", "")
		if want := []string{"LISTEN_FD_3"}; !slices.Equal(r.Names, want) {
			t.Errorf("got names %q, want %q", r.Names, want)
		}
		if got := readAll(t, addr); got != "hello from LISTEN_FD_3" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("OtherPID", func(t *testing.T) {
		t.Parallel()
		// Variables inherited from an activated parent: not for this process.
		f, _ := systemdtest.ListenerFile(t)
		r, _ := activate(t, []*os.File{f}, "web", "1")
		if len(r.Names) != 0 || len(r.Addrs) != 0 {
			t.Errorf("got names %q, addresses %q, want none", r.Names, r.Addrs)
		}
		if len(r.Env) != 0 {
			t.Errorf("got LISTEN_* %v after Activated, want them unset", r.Env)
		}
	})
	t.Run("ErrNotListening", func(t *testing.T) {
		t.Parallel()
		c, _ := connectedPair(t)
		r, _ := activate(t, []*os.File{c}, "", "")
		if !strings.Contains(r.Err, "LISTEN_FD_3: listen: not a listening stream socket: a connected socket") {
			t.Errorf("got error %q, want ErrNotListening for a connected socket", r.Err)
		}
	})
}

// connectedPair returns the files of both ends of a TCP connection.
func connectedPair(t *testing.T) (client, server *os.File) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cf, err := c.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	sf, err := s.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cf.Close(); sf.Close() })
	return cf, sf
}

func TestListeners(t *testing.T) {
	t.Parallel()
	tcp := func(t *testing.T) *os.File { f, _ := systemdtest.ListenerFile(t); return f }
	unix := func(t *testing.T) *os.File {
		ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		f, err := ln.(*net.UnixListener).File()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	connected := func(t *testing.T) *os.File { f, _ := connectedPair(t); return f }
	udp := func(t *testing.T) *os.File {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		f, err := pc.(*net.UDPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	regular := func(t *testing.T) *os.File {
		f, err := os.Create(filepath.Join(t.TempDir(), "file"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	tests := []struct {
		name    string
		files   []func(*testing.T) *os.File
		wantErr string // "" for none
	}{
		{"TCP", []func(*testing.T) *os.File{tcp}, ""},
		{"TCPAndUnix", []func(*testing.T) *os.File{tcp, unix}, ""},
		{"ErrConnected", []func(*testing.T) *os.File{tcp, connected, tcp}, "a connected socket"},
		{"ErrDatagram", []func(*testing.T) *os.File{udp}, "a datagram"},
		{"ErrNotASocket", []func(*testing.T) *os.File{regular}, "socket operation on non-socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var files []*os.File
			for _, mk := range tt.files {
				files = append(files, mk(t))
			}
			lns, err := Listeners(files)
			for i, f := range files {
				if err := f.Close(); !errors.Is(err, os.ErrClosed) {
					t.Errorf("file %d: got Close error %v, want os.ErrClosed: Listeners must close its files", i, err)
				}
			}
			if tt.wantErr != "" {
				if !errors.Is(err, ErrNotListening) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want ErrNotListening: %s", err, tt.wantErr)
				}
				if lns != nil {
					t.Errorf("got listeners %v with an error", lns)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(lns) != len(files) {
				t.Fatalf("got %d listeners, want %d", len(lns), len(files))
			}
			for i, ln := range lns {
				assertAccepts(t, ln, fmt.Sprintf("listener %d", i))
				ln.Close()
			}
		})
	}
}

// assertAccepts connects to ln and checks that the bytes sent arrive on the
// connection ln accepts.
func assertAccepts(t *testing.T, ln net.Listener, msg string) {
	t.Helper()
	c, err := net.DialTimeout(ln.Addr().Network(), ln.Addr().String(), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	c.(interface{ CloseWrite() error }).CloseWrite()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(waitTimeout))
	b, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != msg {
		t.Errorf("got %q, want %q", b, msg)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	t.Run("One", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if got := Merge([]net.Listener{ln}); got != ln {
			t.Errorf("got %v, want the listener itself", got)
		}
	})
	t.Run("Several", func(t *testing.T) {
		t.Parallel()
		var lns []net.Listener
		var addrs []string
		for range 3 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lns = append(lns, ln)
			addrs = append(addrs, ln.Addr().String())
		}
		m := Merge(lns)
		if got, want := m.Addr().String(), strings.Join(addrs, ","); got != want {
			t.Errorf("got Addr %q, want %q", got, want)
		}
		if got := m.Addr().Network(); got != "tcp" {
			t.Errorf("got network %q, want tcp", got)
		}
		// Each listener's connections come out of the merged one, the
		// second and third before anything on the first.
		for _, i := range []int{2, 1, 0, 2} {
			c, err := net.Dial("tcp", addrs[i])
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.Accept()
			if err != nil {
				t.Fatal(err)
			}
			if got := s.LocalAddr().String(); got != addrs[i] {
				t.Errorf("accepted a connection to %s, want %s", got, addrs[i])
			}
			s.Close()
			c.Close()
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := m.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Accept during Close: got %v, want net.ErrClosed", err)
			}
		})
		time.Sleep(10 * time.Millisecond) // Accept waits
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		wg.Wait()
		if _, err := m.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: got %v, want net.ErrClosed", err)
		}
		for _, a := range addrs {
			if c, err := net.Dial("tcp", a); err == nil {
				c.Close()
				t.Errorf("%s still accepts connections after Close", a)
			}
		}
		m.Close() // idempotent
	})
	t.Run("Error", func(t *testing.T) {
		t.Parallel()
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		b, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		m := Merge([]net.Listener{a, b})
		defer m.Close()
		b.Close() // fails b's Accept, as an error of the socket would
		if _, err := m.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("got %v, want b's error", err)
		}
		// a still serves.
		c, err := net.Dial("tcp", a.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := m.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
}

// expectDatagram waits for the next datagram and checks it is want.
func expectDatagram(t *testing.T, got <-chan string, want string) {
	t.Helper()
	select {
	case s := <-got:
		if s != want {
			t.Errorf("got %q, want %q", s, want)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no datagram, want %q", want)
	}
}

// NOTIFY_SOCKET and WATCHDOG_USEC are the process's: these tests set them,
// and are not parallel.

func TestNotifier(t *testing.T) {
	path, got := systemdtest.NotifySocket(t)
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "20000") // every 10ms
	var logs bytes.Buffer
	n := NewNotifier(slog.New(slog.NewTextHandler(&logs, nil)))
	n.Ready("listening on [::]:6080")
	expectDatagram(t, got, "READY=1\nSTATUS=listening on [::]:6080")
	expectDatagram(t, got, "WATCHDOG=1")
	expectDatagram(t, got, "WATCHDOG=1")
	n.Stopping("shutting down, 2 sessions open")
	// Watchdog pings may come before it; they go on until Close.
	for s := range got {
		if s != "WATCHDOG=1" {
			if want := "STOPPING=1\nSTATUS=shutting down, 2 sessions open"; s != want {
				t.Errorf("got %q, want %q", s, want)
			}
			break
		}
	}
	n.Close()
	n.Close()
	for len(got) > 0 {
		<-got
	}
	select {
	case s := <-got:
		t.Errorf("got %q after Close, want nothing", s)
	case <-time.After(100 * time.Millisecond):
	}
	if logs.Len() != 0 {
		t.Errorf("got logs:\n%s", logs.String())
	}
}

func TestNotifierOff(t *testing.T) {
	t.Run("NoSocket", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		t.Setenv("WATCHDOG_USEC", "20000")
		var logs bytes.Buffer
		n := NewNotifier(slog.New(slog.NewTextHandler(&logs, nil)))
		n.Ready("x")
		n.Stopping("y")
		n.Close()
		if logs.Len() != 0 {
			t.Errorf("got logs without NOTIFY_SOCKET:\n%s", logs.String())
		}
	})
	t.Run("Nil", func(t *testing.T) {
		var n *Notifier
		n.Ready("x")
		n.Stopping("y")
		n.Close()
	})
	t.Run("SocketGone", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
		t.Setenv("WATCHDOG_USEC", "")
		var logs bytes.Buffer
		n := NewNotifier(slog.New(slog.NewTextHandler(&logs, nil)))
		n.Ready("x")
		n.Close()
		if !strings.Contains(logs.String(), `level=WARN msg=sd_notify state="READY=1" err=`) {
			t.Errorf("got logs %q, want a warning", logs.String())
		}
	})
}

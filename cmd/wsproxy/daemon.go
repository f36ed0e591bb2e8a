package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/internal/regfile"
	"golang.org/x/sys/unix"
)

// Daemon mode (-D) re-executes wsproxy instead of forking as websockify's
// daemonize does (websockifyserver.py: chdir, umask(0), double fork, setsid,
// close every fd, stdio to /dev/null): a Go program cannot fork safely. The
// operator's process (the parent) starts the same program with the same
// arguments in a new session, stdin and stdout on /dev/null, and two pipes:
//
//   - the child's stderr, which the parent copies to its own stderr while
//     the child starts, so the child's startup logs, its error message and
//     even a panic reach the operator's terminal;
//   - a status pipe on fd 3, on which the child writes daemonReady once it
//     serves, after it has moved its stderr to /dev/null.
//
// The parent returns when the child is ready (exit status 0), or when it
// exits first (the child's own exit status), or after daemonReadyTimeout
// (the child is stopped). A daemon that dies at startup is thus reported on
// the terminal that started it, with a non-zero status, where websockify
// would have daemonized already and died silently.
//
// The child knows it is the child by detachEnv, not by its arguments: they
// are passed unchanged, -D included, which spares parsing "-vD" or a "-D"
// inside WRAP_COMMAND_LINE.

const (
	// detachEnv marks the re-executed child; its value is the status fd.
	detachEnv = "_WSPROXY_DETACHED"
	// detachStatusFD is the child's status pipe: ExtraFiles[0].
	detachStatusFD = 3
	// daemonReady is what the child writes on the status pipe when it serves.
	daemonReady = "ready"

	// daemonReadyTimeout bounds how long the parent waits for its child.
	daemonReadyTimeout = 10 * time.Second
	// daemonStopGrace is how long a child that did not get ready in time has
	// to exit after SIGTERM before it is killed.
	daemonStopGrace = 2 * time.Second
)

// errPIDFileLive is returned by createPIDFile (and so by detach in the child)
// when the pid file names a running process.
var errPIDFileLive = errors.New("a running process holds the pid file")

// daemon is the detached child's side of -D: it tells the parent when the
// child serves, and removes the pid file at the end. Its methods are safe for
// concurrent use; Close must be called, and may be called more than once.
type daemon struct {
	mu     sync.Mutex
	status *os.File // status pipe to the parent; nil once Ready or Close
	pid    *pidFile // nil without --pid-file
}

// detach runs the daemon mode of -D. Call it after the command line was
// checked and before listening or opening what the daemon keeps; args are the
// arguments to re-execute the program with, normally os.Args[1:] as they
// are (-D included: see detachEnv).
//
// In the process the operator started, detach starts the child in a new
// session (setsid) with stdin and stdout on /dev/null, relays the child's
// stderr to stderr until the child is ready and returns (nil, nil) once it
// is: the caller must then exit with status 0 and nothing else. If the child
// exits before it is ready, detach returns an error that carries the child's
// exit status (a *cli.ExitError: the child has already printed why on the
// relayed stderr); if it is not ready within daemonReadyTimeout, or ctx ends
// first, the child is stopped and detach returns an error.
//
// In the child, detach returns a *daemon after writing pidFile (unless it is
// empty); it returns an error wrapping errPIDFileLive if pidFile names a
// running process. The child then starts serving, calls Ready once it
// listens, and Close when it exits. The working directory is kept (websockify
// changes to "/"), so relative paths in args mean the same in the child.
func detach(ctx context.Context, args []string, pidFile string, stderr io.Writer) (*daemon, error) {
	if v, ok := os.LookupEnv(detachEnv); ok {
		return detachedChild(v, pidFile)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	return nil, startDaemon(ctx, exe, args, stderr, daemonReadyTimeout)
}

// startDaemon is the parent's side of detach: it runs exe with args as the
// detached child and waits up to timeout for it to be ready.
func startDaemon(ctx context.Context, exe string, args []string, stderr io.Writer, timeout time.Duration) error {
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	defer statusR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		statusW.Close()
		return fmt.Errorf("daemon: %w", err)
	}
	defer errR.Close()

	cmd := exec.Command(exe, args...)
	cmd.Args[0] = os.Args[0] // as the operator typed it, for ps
	cmd.Env = append(os.Environ(), detachEnv+"="+strconv.Itoa(detachStatusFD))
	cmd.Stderr = errW // stdin and stdout are /dev/null
	cmd.ExtraFiles = []*os.File{statusW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	// The child has its copies; the parent's would hold both pipes open.
	statusW.Close()
	errW.Close()
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}

	relayed := make(chan struct{})
	go relayStderr(stderr, errR, relayed)

	// The status pipe ends (EOF) when the child writes daemonReady and closes
	// it, or exits. A deadline bounds the wait, and ctx cuts it short.
	statusR.SetReadDeadline(time.Now().Add(timeout))
	stopAfter := context.AfterFunc(ctx, func() { statusR.SetReadDeadline(time.Now()) })
	status, readErr := io.ReadAll(statusR)
	stopAfter()

	switch {
	case readErr == nil && string(status) == daemonReady:
		// The child moved its stderr to /dev/null before it said so, so the
		// relay ends at once; unless a process the child started before it
		// was ready holds the pipe: do not wait for that one.
		errR.SetReadDeadline(time.Now().Add(time.Second))
		<-relayed
		return cmd.Process.Release()
	case readErr == nil:
		// The child exited, or gave up, before it was ready.
		waitErr := cmd.Wait()
		errR.SetReadDeadline(time.Now().Add(time.Second))
		<-relayed
		return childFailed(waitErr)
	default:
		stopErr := stopChild(cmd, daemonStopGrace)
		errR.SetReadDeadline(time.Now().Add(time.Second))
		<-relayed
		if ctx.Err() != nil {
			return fmt.Errorf("daemon: %w (stopped it: %v)", ctx.Err(), stopErr)
		}
		return fmt.Errorf("daemon: not ready after %v: stopped it (%v)", timeout, stopErr)
	}
}

// relayStderr copies the child's stderr to the parent's until the pipe ends
// or its read deadline passes, then closes done.
func relayStderr(dst io.Writer, src *os.File, done chan<- struct{}) {
	defer close(done)
	io.Copy(dst, src)
}

// childFailed turns the wait status of a child that exited before it was
// ready into detach's error, with the child's exit status.
func childFailed(waitErr error) error {
	code := cli.ExitFailure
	if ee, ok := errors.AsType[*exec.ExitError](waitErr); ok {
		code = exitStatus(ee)
	}
	if waitErr == nil {
		waitErr = errors.New("exit status 0")
	}
	return &cli.ExitError{Code: code, Err: fmt.Errorf("daemon exited before it was ready: %w", waitErr)}
}

// exitStatus is a shell's $? for ee: the exit status, or 128 plus the signal
// number for a process killed by a signal; never 0.
func exitStatus(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ee.ExitCode(); c > 0 {
		return c
	}
	return cli.ExitFailure
}

// stopChild ends a child that has not become ready: SIGTERM to its process
// group (it leads its own session), SIGKILL after grace, and reaps it.
func stopChild(cmd *exec.Cmd, grace time.Duration) error {
	waited := make(chan error, 1)
	go waitChild(cmd, waited)
	pgid := cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-waited:
		return err
	case <-t.C:
		syscall.Kill(-pgid, syscall.SIGKILL)
		return <-waited
	}
}

// waitChild reaps cmd and sends the result on waited.
func waitChild(cmd *exec.Cmd, waited chan<- error) { waited <- cmd.Wait() }

// detachedChild is the child's side of detach. v is detachEnv's value.
func detachedChild(v, pidPath string) (*daemon, error) {
	// Not for the programs this process will start (a wrapped command might
	// be wsproxy -D itself).
	os.Unsetenv(detachEnv)
	if v != strconv.Itoa(detachStatusFD) {
		return nil, fmt.Errorf("daemon: %s=%q: want %d", detachEnv, v, detachStatusFD)
	}
	var st unix.Stat_t
	if err := unix.Fstat(detachStatusFD, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return nil, fmt.Errorf("daemon: %s is set but fd %d is not the status pipe", detachEnv, detachStatusFD)
	}
	// Commands this process starts must not hold the pipe: the parent would
	// not see the child exit.
	syscall.CloseOnExec(detachStatusFD)
	d := &daemon{status: os.NewFile(detachStatusFD, "daemon status")}
	if pidPath != "" {
		pf, err := createPIDFile(pidPath)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.pid = pf
	}
	return d, nil
}

// Ready tells the parent that the daemon serves, after pointing the
// process's stderr (fd 2) at /dev/null; the parent then exits with status 0.
// Call it once the server listens and before starting a wrapped command
// (runWrapped), which would otherwise inherit the pipe to the parent as its
// stderr. Later calls do nothing.
func (d *daemon) Ready() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.status == nil {
		return nil
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	err = unix.Dup2(int(null.Fd()), 2)
	null.Close()
	if err != nil {
		return fmt.Errorf("daemon: stderr to %s: %w", os.DevNull, err)
	}
	_, err = io.WriteString(d.status, daemonReady)
	if cerr := d.status.Close(); err == nil {
		err = cerr
	}
	d.status = nil
	if err != nil {
		return fmt.Errorf("daemon: tell the parent: %w", err)
	}
	return nil
}

// Close removes the pid file if it still names this process and, if Ready
// was not called, closes the status pipe: the parent then waits for this
// process's exit status and reports it. Later calls do nothing.
func (d *daemon) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.status != nil {
		d.status.Close()
		d.status = nil
	}
	if d.pid == nil {
		return nil
	}
	err := d.pid.Remove()
	d.pid = nil
	return err
}

// pidFile is a pid file written by createPIDFile.
type pidFile struct {
	path string // absolute
	pid  int
}

// createPIDFile writes this process's pid and a newline to path, atomically
// and exclusively: the file is written under a temporary name and hard-linked
// into place, so a reader never sees it half-written and two wsproxy
// processes cannot both take it. An existing file that names a running
// process (one that signal 0 reaches, or that exists but belongs to another
// user) makes it fail with an error wrapping errPIDFileLive; one that names
// a process that is gone, this process or its parent (pids are reused, in
// containers soonest), or is empty, is replaced. A file that does not hold a
// pid is left alone and is an error: the path may be a mistake.
//
// The file has mode 0644, whatever the umask. (websockify has no pid file;
// wsproxy keeps the umask, where websockify sets it to 0 when it
// daemonizes, which leaves its recordings writable by everyone.)
func createPIDFile(path string) (*pidFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	pf := &pidFile{path: abs, pid: os.Getpid()}
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".*")
	if err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = fmt.Fprintf(tmp, "%d\n", pf.pid)
	if err == nil {
		err = tmp.Chmod(0o644) // CreateTemp made it 0600
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}

	// At most two rounds: link, or find a stale file, remove it and link.
	for range 2 {
		err = os.Link(tmp.Name(), abs)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
		if err = checkStalePIDFile(abs); err != nil {
			return nil, err
		}
		if err = os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return pf, nil
}

// checkStalePIDFile returns nil if the pid file at path may be replaced.
func checkStalePIDFile(path string) error {
	b, err := regfile.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	s := string(bytes.TrimSpace(b))
	if s == "" {
		return nil
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return fmt.Errorf("pid file %s does not hold a pid: not replacing it", path)
	}
	if pid == os.Getpid() || pid == os.Getppid() {
		return nil
	}
	if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("pid file %s: process %d is running: %w", path, pid, errPIDFileLive)
	}
	return nil
}

// Remove deletes the pid file if it still names this process, so that it
// never deletes the file of a wsproxy started after this one. Later calls
// do nothing.
func (pf *pidFile) Remove() error {
	if pf.path == "" {
		return nil
	}
	path := pf.path
	pf.path = ""
	b, err := regfile.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if string(bytes.TrimSpace(b)) != strconv.Itoa(pf.pid) {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

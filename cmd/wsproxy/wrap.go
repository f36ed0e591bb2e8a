package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

// Wrap mode (wsproxy SOURCE -- WRAP_COMMAND_LINE) reproduces websockify's
// (websocketproxy.py: WebSocketProxy.__init__, run_wrap_cmd, poll): wsproxy
// picks a free port P on 127.0.0.1, runs the command, and proxies to
// 127.0.0.1:P. The command is told P in two ways:
//
//   - as websockify does, with Debian's rebind.so in LD_PRELOAD and
//     REBIND_OLD_PORT=SOURCE_PORT, REBIND_NEW_PORT=P, when rebind.so is
//     found (rebindPaths): a program that binds SOURCE_PORT on IPv4 is bound
//     to 127.0.0.1:P instead, so websockify's command lines work unchanged;
//   - always, in WSPROXY_TARGET_PORT=P, for programs that rebind.so cannot
//     reach (static binaries, Go programs, setuid programs, IPv6 sockets) or
//     when rebind.so is not installed (websockify then refuses to start):
//     wsproxy 6080 -- sh -c 'exec x11vnc -rfbport $WSPROXY_TARGET_PORT'.
//
// Each run of the command leads its own process group, so that stopping
// wsproxy stops the command and its children (SIGTERM, then SIGKILL after
// wrapPolicy.grace); websockify leaves them running. Its stdin is /dev/null
// (in its own group it could not read the terminal), its stdout and stderr
// are wsproxy's.

// wrapTargetEnv tells the wrapped command the port to listen on.
const wrapTargetEnv = "WSPROXY_TARGET_PORT"

// The --wrap-mode values, as in websockify.
const (
	wrapExit    = "exit"    // wsproxy exits when the command exits
	wrapIgnore  = "ignore"  // wsproxy keeps running without it
	wrapRespawn = "respawn" // wsproxy runs it again, throttled
)

// errRespawnGaveUp is Err's error (wrapped) when --wrap-mode=respawn gave up
// on a command that kept exiting soon after it started.
var errRespawnGaveUp = errors.New("wrapped command keeps exiting: giving up")

// rebindPaths are where rebind.so is looked for, first found first used:
// beside the wsproxy executable as websockify looks beside its script
// (EXEDIR/../lib, EXEDIR/../lib/websockify, EXEDIR), then where Debian's
// websockify package installs it. "EXEDIR" is replaced.
var rebindPaths = []string{
	"EXEDIR/../lib/rebind.so",
	"EXEDIR/../lib/websockify/rebind.so",
	"EXEDIR/rebind.so",
	"/usr/lib/websockify/rebind.so",
	"/usr/local/lib/websockify/rebind.so",
}

// wrapPolicy is how a wrapped command is restarted and stopped.
//
// websockify restarts the command at once unless it started three times in
// about ten seconds (the mean of its last three start times is less than
// ten seconds ago), then waits until it may, and never gives up. wsproxy
// backs off instead and gives up: a run shorter than stable is quick; after
// a quick run the restart waits first, doubling up to max; after limit quick
// runs in a row wsproxy gives up and exits with status 1, as in exit mode
// (a supervisor such as systemd sees the failure, where websockify goes on
// proxying to nothing). A run of at least stable restarts at once and
// forgives the earlier quick ones.
type wrapPolicy struct {
	stable time.Duration // a run this long is not quick
	first  time.Duration // delay after the first quick run
	max    time.Duration // delay cap
	limit  int           // quick runs in a row before giving up
	grace  time.Duration // from SIGTERM to SIGKILL when stopping
	rebind []string      // rebind.so candidates (see rebindPaths); none: no LD_PRELOAD
}

// defaultWrapPolicy: quick runs are restarted after 1, 2, 4 and 8 s, the
// fifth in a row ends wsproxy, about 15 s after the first.
var defaultWrapPolicy = wrapPolicy{
	stable: 10 * time.Second,
	first:  time.Second,
	max:    30 * time.Second,
	limit:  5,
	grace:  5 * time.Second,
	rebind: rebindPaths,
}

// next returns the delay before restarting a command whose run lasted ran,
// after quick quick runs in a row, the new count of quick runs, and whether
// to give up instead.
func (p wrapPolicy) next(ran time.Duration, quick int) (delay time.Duration, quickNext int, giveUp bool) {
	if ran >= p.stable {
		return 0, 0, false
	}
	quick++
	if quick >= p.limit {
		return 0, quick, true
	}
	delay = p.first
	for i := 1; i < quick && delay < p.max; i++ {
		delay *= 2
	}
	return min(delay, p.max), quick, false
}

// wrapped is a running WRAP_COMMAND_LINE. Its methods are safe for
// concurrent use; Stop must be called (it is also what ctx's end does) and
// may be called more than once.
type wrapped struct {
	argv   []string
	mode   string
	target string   // 127.0.0.1:P
	env    []string // the command's environment
	policy wrapPolicy
	log    *slog.Logger

	stop     chan struct{} // closed by Stop
	stopOnce sync.Once
	finished chan struct{} // closed when supervise has returned
	done     chan struct{} // closed when wsproxy must exit; then err is set
	err      error

	mu   sync.Mutex
	pgid int // process group of the current or last run; 0 when none is left
}

// runWrapped starts argv (WRAP_COMMAND_LINE) as websockify's wrap mode does,
// for a wsproxy that listens on listenPort (0 or less when it listens on no
// TCP port: then the command is only told WSPROXY_TARGET_PORT). The proxy
// must connect to Target. mode is "exit", "ignore" or "respawn" (the
// --wrap-mode values); see wrapPolicy for respawn's throttling.
//
// In exit mode, Done is closed when the command exits, and in respawn mode
// when wsproxy gives up on it; the caller must then shut down, call Stop
// and exit with Err. When ctx ends, the command is stopped as by Stop.
//
// runWrapped returns an error for an unknown mode, an empty argv, or a
// command that cannot be started (errors.Is exec.ErrNotFound when a name is
// not in PATH, fs.ErrNotExist when a path does not exist).
// In a daemon (-D), call it after daemon.Ready.
func runWrapped(ctx context.Context, argv []string, mode string, listenPort int, log *slog.Logger) (*wrapped, error) {
	return startWrapped(ctx, argv, mode, listenPort, log, defaultWrapPolicy)
}

// startWrapped is runWrapped with its policy.
func startWrapped(ctx context.Context, argv []string, mode string, listenPort int, log *slog.Logger, policy wrapPolicy) (*wrapped, error) {
	switch mode {
	case wrapExit, wrapIgnore, wrapRespawn:
	default:
		return nil, fmt.Errorf("wrap: mode %q: want %s, %s or %s", mode, wrapExit, wrapIgnore, wrapRespawn)
	}
	if len(argv) == 0 {
		return nil, errors.New("wrap: empty command line")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("wrap: pick a port: %w", err)
	}
	w := &wrapped{
		argv:     argv,
		mode:     mode,
		target:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		policy:   policy,
		log:      log.With("command", argv),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
		done:     make(chan struct{}),
	}
	rebind := ""
	switch {
	case listenPort <= 0:
		w.log.Info("wrap: no TCP port to rebind: the command must listen on 127.0.0.1:$"+wrapTargetEnv, "target", w.target)
	case findRebind(policy.rebind) == "":
		w.log.Info("wrap: rebind.so not found: the command must listen on 127.0.0.1:$"+wrapTargetEnv, "target", w.target)
	default:
		rebind = findRebind(policy.rebind)
		w.log.Debug("wrap: rebinding with LD_PRELOAD", "rebind", rebind, "from_port", listenPort, "target", w.target)
	}
	w.env = wrapEnv(os.Environ(), port, listenPort, rebind)

	r, err := w.start()
	if err != nil {
		return nil, err
	}
	go w.supervise(ctx, r)
	return w, nil
}

// freePort returns a TCP port free on 127.0.0.1 now. Like websockify, it
// closes the socket before the command binds the port: another process
// could take it in between.
func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// findRebind returns the first of paths that is a file, with EXEDIR replaced
// by the executable's directory, or "".
func findRebind(paths []string) string {
	exeDir := ""
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			exeDir = filepath.Dir(exe)
		}
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "EXEDIR/") {
			if exeDir == "" {
				continue
			}
			p = filepath.Join(exeDir, strings.TrimPrefix(p, "EXEDIR/"))
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// wrapEnv returns the wrapped command's environment: environ with
// WSPROXY_TARGET_PORT and, when rebind is not "", rebind.so put first in
// LD_PRELOAD and websockify's REBIND_OLD_PORT and REBIND_NEW_PORT.
func wrapEnv(environ []string, port, listenPort int, rebind string) []string {
	env := make([]string, 0, len(environ)+4)
	preload := ""
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case wrapTargetEnv, "REBIND_OLD_PORT", "REBIND_NEW_PORT":
			continue
		case "LD_PRELOAD":
			if rebind != "" {
				preload = v
				continue
			}
		}
		env = append(env, kv)
	}
	env = append(env, wrapTargetEnv+"="+strconv.Itoa(port))
	if rebind != "" && listenPort > 0 {
		if preload != "" {
			rebind += ":" + preload
		}
		env = append(env,
			"LD_PRELOAD="+rebind,
			"REBIND_OLD_PORT="+strconv.Itoa(listenPort),
			"REBIND_NEW_PORT="+strconv.Itoa(port))
	} else if preload != "" {
		env = append(env, "LD_PRELOAD="+preload)
	}
	return env
}

// Target returns the address the proxy must connect to: 127.0.0.1:P.
func (w *wrapped) Target() string { return w.target }

// Done is closed when wsproxy must exit: in exit mode when the command
// exited, in respawn mode when wsproxy gave up on it. It is never closed in
// ignore mode.
func (w *wrapped) Done() <-chan struct{} { return w.done }

// Err returns, once Done is closed, why: nil if the command exited with
// status 0, else a *cli.ExitError with the command's exit status (128 plus
// the signal number if a signal killed it), or status 1 wrapping
// errRespawnGaveUp. Before Done is closed it returns nil.
func (w *wrapped) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

// Stop stops the command: SIGTERM to its process group, SIGKILL to what is
// left of it after the grace period (5 s), and waits until the command is
// reaped. It returns nil; later calls only wait.
func (w *wrapped) Stop() error {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.finished
	return nil
}

// wrapRun is one run of the command.
type wrapRun struct {
	cmd     *exec.Cmd
	started time.Time
	exited  <-chan error // receives cmd.Wait's result
}

// start starts one run of the command.
func (w *wrapped) start() (wrapRun, error) {
	cmd := exec.Command(w.argv[0], w.argv[1:]...)
	cmd.Env = w.env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return wrapRun{}, fmt.Errorf("wrap: %w", err)
	}
	started := time.Now()
	w.mu.Lock()
	w.pgid = cmd.Process.Pid
	w.mu.Unlock()
	w.log.Info("wrap: command started", "pid", cmd.Process.Pid, "target", w.target)
	exited := make(chan error, 1)
	go waitChild(cmd, exited)
	return wrapRun{cmd: cmd, started: started, exited: exited}, nil
}

// supervise runs for the command's life: it applies the mode when a run
// ends, and stops the command when Stop is called or ctx ends.
func (w *wrapped) supervise(ctx context.Context, r wrapRun) {
	defer close(w.finished)
	quick := 0
	for {
		var err error
		select {
		case err = <-r.exited:
		case <-w.stop:
			w.terminate(r.exited)
			return
		case <-ctx.Done():
			w.terminate(r.exited)
			return
		}
		ran := time.Since(r.started)
		w.log.Info("wrap: command exited", "pid", r.cmd.Process.Pid, "status", r.cmd.ProcessState.String(), "ran", ran.Round(time.Millisecond))

		switch w.mode {
		case wrapExit:
			w.finish(commandError(w.argv[0], err))
			w.waitStop(ctx)
			return
		case wrapIgnore:
			w.waitStop(ctx)
			return
		}

		// Respawn: what the last run left in its group would hold its
		// port.
		w.terminate(nil)
		for {
			var delay time.Duration
			var giveUp bool
			delay, quick, giveUp = w.policy.next(ran, quick)
			if giveUp {
				w.log.Error("wrap: command keeps exiting: giving up", "runs", quick, "shorter_than", w.policy.stable)
				w.finish(&cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("%w (%d runs in a row shorter than %v)", errRespawnGaveUp, quick, w.policy.stable)})
				w.waitStop(ctx)
				return
			}
			if delay > 0 {
				w.log.Warn("wrap: command exited soon after it started: restarting later", "delay", delay)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-w.stop:
					t.Stop()
					return
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
			r, err = w.start()
			if err == nil {
				break
			}
			w.log.Error("wrap: restart", "err", err)
			ran = 0
		}
	}
}

// finish sets Err and closes Done.
func (w *wrapped) finish(err error) {
	w.err = err
	close(w.done)
}

// waitStop waits for Stop or ctx's end, then stops what is left of the
// last run's process group.
func (w *wrapped) waitStop(ctx context.Context) {
	select {
	case <-w.stop:
	case <-ctx.Done():
	}
	w.terminate(nil)
}

// terminate stops the current run's process group: SIGTERM, then SIGKILL
// after the grace period if the group has members left. If exited is not
// nil, the group's leader is still to be reaped: terminate waits for it.
func (w *wrapped) terminate(exited <-chan error) {
	w.mu.Lock()
	pgid := w.pgid
	w.pgid = 0
	w.mu.Unlock()
	if pgid == 0 {
		return
	}
	if exited == nil && processExists(pgid) {
		// The leader was reaped, so the process with its pid is another
		// one: the pid was reused, which the kernel does only once the
		// group is gone. Signalling -pgid would hit a stranger's group.
		return
	}
	if err := syscall.Kill(-pgid, syscall.SIGTERM); errors.Is(err, syscall.ESRCH) && exited == nil {
		return // nothing left
	}
	grace := time.NewTimer(w.policy.grace)
	defer grace.Stop()
	poll := time.NewTicker(25 * time.Millisecond)
	defer poll.Stop()
	for exited != nil || groupAlive(pgid) {
		select {
		case <-exited:
			exited = nil
		case <-poll.C:
		case <-grace.C:
			w.log.Warn("wrap: command did not stop after SIGTERM: killing it", "pgid", pgid, "grace", w.policy.grace)
			syscall.Kill(-pgid, syscall.SIGKILL)
			if exited != nil {
				<-exited
			}
			return
		}
	}
}

// processExists reports whether a process (a zombie included) has this pid.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// commandError is Err for a command that exited with err (from Wait).
func commandError(name string, err error) error {
	if err == nil {
		return nil
	}
	code := cli.ExitFailure
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = exitStatus(ee)
	}
	return &cli.ExitError{Code: code, Err: fmt.Errorf("wrapped command %s: %w", name, err)}
}

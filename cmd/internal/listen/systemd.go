package listen

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"
)

// systemd's socket activation (sd_listen_fds(3)) and readiness protocol
// (sd_notify(3)), through github.com/coreos/go-systemd: the reference Go
// implementation of both, small and without dependencies. Activation
// hands the process listening sockets from fd 3 (SD_LISTEN_FDS_START) on,
// with LISTEN_PID naming the process they are meant for, LISTEN_FDS
// counting them and LISTEN_FDNAMES naming them (FileDescriptorName=).

// ErrNotListening is returned by Listeners for an inherited file that is
// not a listening stream socket: a connected socket (a unit with
// Accept=yes), a datagram socket (ListenDatagram=) or a FIFO.
var ErrNotListening = errors.New("listen: not a listening stream socket")

// Activated returns the sockets that systemd passed to the process by
// socket activation, in the order of the unit's Listen*= lines, named by
// LISTEN_FDNAMES (else LISTEN_FD_3, LISTEN_FD_4...); nil when there are
// none, or when LISTEN_PID names another process (the variables were
// inherited from an activated parent).
//
// Activated unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES in every case
// and marks the sockets close-on-exec, so that neither a command the
// process starts nor a re-executed daemon takes them for its own. Call it
// once, before starting other processes: a second call returns nil.
func Activated() []*os.File {
	return activation.Files(true)
}

// Listeners returns a listener for each of files, in order, and closes the
// files (the listeners use duplicates). It returns an error wrapping
// ErrNotListening, and closes every file, if one of them is not a
// listening stream socket (TCP or unix).
func Listeners(files []*os.File) ([]net.Listener, error) {
	var lns []net.Listener
	var err error
	for _, f := range files {
		if err != nil {
			f.Close()
			continue
		}
		var ln net.Listener
		ln, err = fileListener(f)
		f.Close()
		if err != nil {
			err = fmt.Errorf("socket activation: %s: %w", f.Name(), err)
			continue
		}
		lns = append(lns, ln)
	}
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return nil, err
	}
	return lns, nil
}

// fileListener returns a listener on a duplicate of f, which must be a
// listening stream socket. (net.FileListener takes a connected TCP socket
// too, whose Accept then fails.)
func fileListener(f *os.File) (net.Listener, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var typ, acc int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if typ, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TYPE); serr != nil {
			return
		}
		acc, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	}); err != nil {
		return nil, err
	}
	switch {
	case serr != nil:
		return nil, fmt.Errorf("%w: %w", ErrNotListening, serr)
	case typ != syscall.SOCK_STREAM:
		return nil, fmt.Errorf("%w: a datagram or sequential packet socket", ErrNotListening)
	case acc == 0:
		return nil, fmt.Errorf("%w: a connected socket (with Accept=yes, use --inetd and StandardInput=socket)", ErrNotListening)
	}
	return net.FileListener(f)
}

// Merge returns a listener that accepts the connections of every one of
// lns, or lns[0] itself when there is only one. lns must not be empty.
//
// The merged listener's Accept, Close and Addr are safe for concurrent use.
// Its Addr is an Addrs of every listener's address. Accept returns the first
// error of a listener other than a temporary one; after Close, it returns
// net.ErrClosed. Close closes every listener and waits for the goroutines
// that accept on them; it may be called more than once.
func Merge(lns []net.Listener) net.Listener {
	if len(lns) == 1 {
		return lns[0]
	}
	m := &multiListener{lns: lns, accepted: make(chan accepted), done: make(chan struct{})}
	for _, ln := range lns {
		m.addrs = append(m.addrs, ln.Addr())
		m.wg.Go(func() { m.acceptLoop(ln) })
	}
	return m
}

// multiListener is the listener of Merge.
type multiListener struct {
	lns      []net.Listener
	addrs    Addrs
	accepted chan accepted // unbuffered: a listener waits for Accept
	done     chan struct{} // closed by Close
	once     sync.Once
	wg       sync.WaitGroup
}

type accepted struct {
	c   net.Conn
	err error
}

// acceptLoop hands ln's connections to Accept until ln fails or m is
// closed. A temporary error is handed on (the caller backs off, and this
// loop with it, being unbuffered) and the loop goes on.
func (m *multiListener) acceptLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		select {
		case m.accepted <- accepted{c, err}:
		case <-m.done:
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil && !isTemporary(err) {
			return
		}
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (m *multiListener) Accept() (net.Conn, error) {
	select {
	case a := <-m.accepted:
		return a.c, a.err
	case <-m.done:
		return nil, net.ErrClosed
	}
}

func (m *multiListener) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		for _, ln := range m.lns {
			err = errors.Join(err, ln.Close())
		}
		m.wg.Wait()
	})
	return err
}

func (m *multiListener) Addr() net.Addr { return m.addrs }

// Addrs is the address of a listener on several sockets: its Network is
// the first socket's, and its String lists every address, separated by
// commas.
type Addrs []net.Addr

func (a Addrs) Network() string { return a[0].Network() }

func (a Addrs) String() string {
	s := make([]string, len(a))
	for i, addr := range a {
		s[i] = addr.String()
	}
	return strings.Join(s, ",")
}

// Notifier tells systemd the state of the service with sd_notify(3), when
// systemd asks for it by setting NOTIFY_SOCKET (Type=notify): READY=1 once
// the service listens, WATCHDOG=1 every half WatchdogSec= from then if the
// unit sets it, STOPPING=1 when the service begins to shut down, each with
// a STATUS= line that systemctl status shows. Without NOTIFY_SOCKET it does
// nothing. A failure to notify is logged, not returned: the service goes on
// (systemd acts on missing notifications itself).
//
// Its methods are safe for concurrent use, and do nothing on a nil
// *Notifier. Close must be called to stop the watchdog; it may be called
// more than once.
type Notifier struct {
	log  *slog.Logger
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// NewNotifier returns a Notifier that logs its failures to log.
func NewNotifier(log *slog.Logger) *Notifier {
	return &Notifier{log: log, stop: make(chan struct{})}
}

// Ready sends READY=1 and status, and starts the watchdog's pings if
// WATCHDOG_USEC asks for them (and WATCHDOG_PID, if set, is this process).
// Call it once.
func (n *Notifier) Ready(status string) {
	if n == nil {
		return
	}
	n.notify(daemon.SdNotifyReady + "\nSTATUS=" + status)
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("sd_notify: watchdog", "err", err)
		return
	}
	if every <= 0 {
		return
	}
	n.wg.Go(func() { n.watchdog(every / 2) })
}

// Stopping sends STOPPING=1 and status. The watchdog's pings go on until
// Close.
func (n *Notifier) Stopping(status string) {
	if n == nil {
		return
	}
	n.notify(daemon.SdNotifyStopping + "\nSTATUS=" + status)
}

// Close stops the watchdog's pings and waits for them to end.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	n.once.Do(func() { close(n.stop) })
	n.wg.Wait()
	return nil
}

// watchdog sends WATCHDOG=1 every period until Close.
func (n *Notifier) watchdog(period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			n.notify(daemon.SdNotifyWatchdog)
		case <-n.stop:
			return
		}
	}
}

func (n *Notifier) notify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("sd_notify", "state", strings.SplitN(state, "\n", 2)[0], "err", err)
	}
}

// Activation holds the sockets of socket activation from the moment a
// program reads them (when its command line is checked: whether there are
// sockets decides what its arguments mean) until its listener takes them.
// The zero value has read nothing yet. It is not safe for concurrent use.
type Activation struct {
	read  bool
	any   bool       // whether systemd passed sockets
	files []*os.File // until Listener takes them
}

// Take reads the sockets with Activated, the first time it is called, and
// reports whether there were any (also after Listener took them).
func (a *Activation) Take() bool {
	if !a.read {
		a.read = true
		a.files = Activated()
		a.any = len(a.files) > 0
	}
	return a.any
}

// Listener returns one listener on every socket taken, and logs them.
// source is the program's source argument, which is not bound: it is
// logged, with a warning when it names a TCP port that none of the sockets
// has. Listener hands the sockets over: a second call fails.
func (a *Activation) Listener(source string, log *slog.Logger) (net.Listener, error) {
	if len(a.files) == 0 {
		return nil, errors.New("listen: no sockets from systemd")
	}
	files := a.files
	a.files = nil
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name()
	}
	lns, err := Listeners(files)
	if err != nil {
		return nil, err
	}
	ln := Merge(lns)
	log.Info("socket activation: serving the sockets from systemd", "addr", ln.Addr().String(), "names", names)
	if source != "" {
		if _, port, _ := ParseSource(source); port != 0 && !hasPort(lns, port) {
			log.Warn("socket activation: the source is not bound, and its port is none of the sockets' from systemd", "source", source)
		} else {
			log.Info("socket activation: the source is not bound", "source", source)
		}
	}
	return ln, nil
}

// hasPort reports whether one of lns listens on the TCP port.
func hasPort(lns []net.Listener, port int) bool {
	for _, ln := range lns {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.Port == port {
			return true
		}
	}
	return false
}

// Systemd is what a server command keeps of systemd's environment: the
// sockets of socket activation (a .socket unit, or systemd-socket-activate),
// served instead of binding its own, and the notifier of Type=notify. The
// zero value has taken no sockets yet and has no notifier.
type Systemd struct {
	Sockets Activation
	Notify  *Notifier // nil until the command's Run makes it
}

// NotBoth returns the usage error of an option that cannot go with socket
// activation, with why (may be empty) after it.
func NotBoth(option, why string) error {
	msg := "give " + option + " or systemd's socket activation (LISTEN_FDS), not both"
	if why != "" {
		msg += ": " + why
	}
	return errors.New(msg)
}

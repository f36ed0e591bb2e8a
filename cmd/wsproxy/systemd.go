package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/wsproxy/wsproxy/cmd/internal/listen"
)

// Running under systemd. With socket activation (a .socket unit, or
// systemd-socket-activate) wsproxy serves every socket systemd passes, and
// binds nothing itself: the source argument may then be left out, and if
// it is given it is not bound (it is logged, with a warning if its port is
// none of the sockets'), so the same command line works with and without
// the .socket unit. With Type=notify, wsproxy reports READY=1 once it
// listens and STOPPING=1 when it begins to shut down (sd_notify(3)).

// systemdState is what wsproxy keeps of systemd's environment.
type systemdState struct {
	read   bool             // whether Validate has taken the activated sockets
	files  []*os.File       // the activated sockets, until listen takes them
	notify *listen.Notifier // nil until Run makes it
}

// takeActivated takes the sockets of systemd's socket activation, once (it
// unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, so that a wrapped
// command does not inherit them), and refuses the options that cannot go
// with them. Validate calls it: whether there are sockets decides what the
// positional arguments are.
func (c *rootCmd) takeActivated() error {
	if !c.sd.read {
		c.sd.read = true
		c.sd.files = listen.Activated()
	}
	if !c.activated() {
		return nil
	}
	switch {
	case c.Inetd:
		return errors.New("give --inetd or systemd's socket activation (LISTEN_FDS), not both")
	case c.UnixListen != "":
		return errors.New("give --unix-listen or systemd's socket activation (LISTEN_FDS), not both: the .socket unit's ListenStream= names the socket")
	case c.Daemon:
		return errors.New("give --daemon or systemd's socket activation (LISTEN_FDS), not both: systemd runs the service")
	}
	return nil
}

// activated reports whether systemd passed sockets to the process.
func (c *rootCmd) activated() bool { return len(c.sd.files) > 0 }

// openListener returns a listener on the sockets of socket activation, if
// there are any, and otherwise opens the one the options name (listen).
// Its connections are followed by conns.
func (c *rootCmd) openListener(ctx context.Context, conns *tracker, log *slog.Logger) (net.Listener, error) {
	if !c.activated() {
		return c.listen(ctx, conns, log)
	}
	files := c.sd.files
	c.sd.files = nil
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name()
	}
	lns, err := listen.Listeners(files)
	if err != nil {
		return nil, err
	}
	ln := listen.Merge(lns)
	log.Info("socket activation: serving the sockets from systemd", "addr", ln.Addr().String(), "names", names)
	if c.Source != "" {
		if _, port, _ := listen.ParseSource(c.Source); port != 0 && !hasPort(lns, port) {
			log.Warn("socket activation: the source is not bound, and its port is none of the sockets' from systemd", "source", c.Source)
		} else {
			log.Info("socket activation: the source is not bound", "source", c.Source)
		}
	}
	return conns.listener(ln), nil
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

// notifyReady tells systemd that wsproxy serves on ln.
func (c *rootCmd) notifyReady(ln net.Listener) {
	c.sd.notify.Ready("listening on " + ln.Addr().String())
}

// notifyStopping tells systemd that wsproxy shuts down, with sessions open.
func (c *rootCmd) notifyStopping(sessions int) {
	c.sd.notify.Stopping(fmt.Sprintf("shutting down, %d sessions open", sessions))
}

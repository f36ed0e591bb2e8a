package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/wsproxy/wsproxy/cmd/internal/listen"
)

// Running under systemd. With socket activation (a .socket unit, or
// systemd-socket-activate) wsproxy serves every socket systemd passes, and
// binds nothing itself: the source argument may then be left out, and if
// it is given it is not bound (it is logged, with a warning if its port is
// none of the sockets'), so the same command line works with and without
// the .socket unit. With Type=notify, wsproxy reports READY=1 once it
// listens and STOPPING=1 when it begins to shut down (sd_notify(3)).

// takeActivated takes the sockets of systemd's socket activation, once (it
// unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, so that a wrapped
// command does not inherit them), and refuses the options that cannot go
// with them. Validate calls it: whether there are sockets decides what the
// positional arguments are.
func (c *rootCmd) takeActivated() error {
	if !c.sd.Sockets.Take() {
		return nil
	}
	switch {
	case c.Inetd:
		return listen.NotBoth("--inetd", "")
	case c.UnixListen != "":
		return listen.NotBoth("--unix-listen", "the .socket unit's ListenStream= names the socket")
	case c.Daemon:
		return listen.NotBoth("--daemon", "systemd runs the service")
	}
	return nil
}

// activated reports whether systemd passed sockets to the process.
func (c *rootCmd) activated() bool { return c.sd.Sockets.Take() }

// openListener returns a listener on the sockets of socket activation, if
// there are any, and otherwise opens the one the options name (listen).
// Its connections are followed by conns.
func (c *rootCmd) openListener(ctx context.Context, conns *tracker, log *slog.Logger) (net.Listener, error) {
	if !c.activated() {
		return c.listen(ctx, conns, log)
	}
	ln, err := c.sd.Sockets.Listener(c.Source, log)
	if err != nil {
		return nil, err
	}
	return conns.listener(ln), nil
}

// notifyReady tells systemd that wsproxy serves on ln.
func (c *rootCmd) notifyReady(ln net.Listener) {
	c.sd.Notify.Ready("listening on " + ln.Addr().String())
}

// notifyStopping tells systemd that wsproxy shuts down, with sessions open.
func (c *rootCmd) notifyStopping(sessions int) {
	c.sd.Notify.Stopping(fmt.Sprintf("shutting down, %d sessions open", sessions))
}

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/wsproxy/wsproxy/cmd/internal/listen"
)

// Running under systemd, as wsproxy does: with socket activation wsreplay
// serves every socket systemd passes and binds nothing itself. The source
// may then be left out: a first argument is taken for the source (and not
// bound) only if it reads as [source_addr:]source_port and no file has that
// name; otherwise it is a recording. With Type=notify, wsreplay reports
// READY=1 once it listens and STOPPING=1 when it shuts down.

// systemdState is what wsreplay keeps of systemd's environment.
type systemdState struct {
	read   bool             // whether Validate has taken the activated sockets
	files  []*os.File       // the activated sockets, until listen takes them
	notify *listen.Notifier // nil until Run makes it
}

// takeActivated takes the sockets of systemd's socket activation, once,
// and reads the positional arguments as socket activation has them: the
// source is optional. Validate calls it first.
func (c *rootCmd) takeActivated() error {
	if !c.sd.read {
		c.sd.read = true
		c.sd.files = listen.Activated()
	}
	if !c.activated() {
		return nil
	}
	if c.UnixListen != "" {
		return errors.New("give --unix-listen or systemd's socket activation (LISTEN_FDS), not both: the .socket unit's ListenStream= names the socket")
	}
	if c.Source != "" && !isSource(c.Source) {
		c.Recordings = append([]string{c.Source}, c.Recordings...)
		c.Source = ""
	}
	return nil
}

// isSource reports whether arg is a source rather than a recording: it
// reads as [source_addr:]source_port, and no file has that name.
func isSource(arg string) bool {
	if _, _, err := listen.ParseSource(arg); err != nil {
		return false
	}
	_, err := os.Stat(arg)
	return errors.Is(err, os.ErrNotExist)
}

// activated reports whether systemd passed sockets to the process.
func (c *rootCmd) activated() bool { return len(c.sd.files) > 0 }

// listenActivated returns a listener on every socket of socket
// activation, and logs them.
func (c *rootCmd) listenActivated(log *slog.Logger) (net.Listener, error) {
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
		log.Info("socket activation: the source is not bound", "source", c.Source)
	}
	return ln, nil
}

// notifyStopping tells systemd that wsreplay shuts down, with replays open.
func (c *rootCmd) notifyStopping(replays int) {
	c.sd.notify.Stopping(fmt.Sprintf("shutting down, %d replays open", replays))
}

package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/wsproxy/wsproxy/cmd/internal/listen"
)

// Running under systemd, as wsproxy does: with socket activation wsreplay
// serves every socket systemd passes and binds nothing itself. The source
// may then be left out: a first argument is taken for the source (and not
// bound) only if it reads as [source_addr:]source_port and no file has that
// name; otherwise it is a recording. With Type=notify, wsreplay reports
// READY=1 once it listens and STOPPING=1 when it shuts down.

// takeActivated takes the sockets of systemd's socket activation, once,
// and reads the positional arguments as socket activation has them: the
// source is optional. Validate calls it first.
func (c *rootCmd) takeActivated() error {
	if !c.sd.Sockets.Take() {
		return nil
	}
	if c.UnixListen != "" {
		return listen.NotBoth("--unix-listen", "the .socket unit's ListenStream= names the socket")
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
func (c *rootCmd) activated() bool { return c.sd.Sockets.Take() }

// notifyStopping tells systemd that wsreplay shuts down, with replays open.
func (c *rootCmd) notifyStopping(replays int) {
	c.sd.Notify.Stopping(fmt.Sprintf("shutting down, %d replays open", replays))
}

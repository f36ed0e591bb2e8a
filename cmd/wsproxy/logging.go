package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/logging"
)

// logger returns the command's logger: lines on stderr, and with
// --log-file and --syslog there too, as websockify_init sets up Python's
// logging; JSON lines with --log-format json (syslog keeps its own format);
// debug lines with -v. close closes the file and the syslog connection.
func (c *rootCmd) logger(stderr io.Writer) (log *slog.Logger, close func(), err error) {
	handlers, closeFile, err := logging.Handlers(stderr, logging.Options{Format: c.LogFormat, File: c.LogFile, Verbose: c.Verbose})
	if err != nil {
		return nil, nil, err
	}
	close = closeFile
	if c.Syslog != "" {
		facility := facilityUser
		if c.Daemon {
			facility = facilityDaemon
		}
		h, err := newSyslogHandler(c.Syslog, facility, c.LegacySyslog, &slog.HandlerOptions{Level: logging.Level(c.Verbose)})
		if err != nil {
			closeFile()
			return nil, nil, err
		}
		close = func() {
			closeFile()
			h.sink.Close()
		}
		handlers = append(handlers, h)
	}
	return logging.New(handlers...), close, nil
}

// Syslog facilities (RFC 5424 section 6.2.1): websockify logs as "user",
// or as "daemon" with --daemon.
const (
	facilityUser   = 1
	facilityDaemon = 3
)

// syslogAppName is the APP-NAME (RFC 5424) or TAG (RFC 3164) of the lines.
const syslogAppName = "wsproxy"

// syslogAddr parses --syslog as websockify does: host:port is UDP (an IPv6
// host in brackets), anything without a colon a local socket's path.
func syslogAddr(s string) (network, addr string, err error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		p, err := filepath.Abs(s)
		if err != nil {
			return "", "", fmt.Errorf("--syslog: %w", err)
		}
		return "unix", p, nil
	}
	port, err := strconv.Atoi(s[i+1:])
	if err != nil || port < 1 || port > 65535 {
		return "", "", cli.Usagef("--syslog %q: want a UDP host:port or a socket path", s)
	}
	return "udp", net.JoinHostPort(strings.Trim(s[:i], "[]"), strconv.Itoa(port)), nil
}

// syslogHandler formats records as slog's text handler does, without the
// time and level (which the syslog header carries), and sends each as one
// syslog message (websockify's WebsockifySysLogHandler). It is safe for
// concurrent use.
type syslogHandler struct {
	text slog.Handler // writes into sink
	sink *syslogSink
}

func newSyslogHandler(server string, facility int, legacy bool, opts *slog.HandlerOptions) (*syslogHandler, error) {
	network, addr, err := syslogAddr(server)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	s := &syslogSink{network: network, addr: addr, facility: facility, legacy: legacy, host: cmp.Or(host, "-"), pid: os.Getpid()}
	if err := s.connect(); err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	text := slog.NewTextHandler(s, &slog.HandlerOptions{
		Level: opts.Level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &syslogHandler{text: text, sink: s}, nil
}

func (h *syslogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	h.sink.level, h.sink.time = r.Level, r.Time
	return h.text.Handle(ctx, r) // one Write to the sink
}

func (h *syslogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &syslogHandler{text: h.text.WithAttrs(attrs), sink: h.sink}
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	return &syslogHandler{text: h.text.WithGroup(name), sink: h.sink}
}

// syslogSink sends syslog messages over UDP, or to a local datagram or
// stream socket (reconnecting once when a write fails: the daemon may have
// restarted).
type syslogSink struct {
	network, addr string
	facility      int
	legacy        bool
	host          string
	pid           int

	mu    sync.Mutex // held by syslogHandler.Handle around Write
	level slog.Level
	time  time.Time
	conn  net.Conn
	dgram bool
	buf   bytes.Buffer
}

func (s *syslogSink) connect() error {
	if s.network == "udp" {
		c, err := net.Dial("udp", s.addr)
		s.conn, s.dgram = c, true
		return err
	}
	// As Python's SysLogHandler: a datagram socket, else a stream one.
	c, err := net.Dial("unixgram", s.addr)
	if err == nil {
		s.conn, s.dgram = c, true
		return nil
	}
	c, err2 := net.Dial("unix", s.addr)
	if err2 != nil {
		return errors.Join(err, err2)
	}
	s.conn, s.dgram = c, false
	return nil
}

// Write sends one formatted record, p, with the header of the record that
// syslogHandler.Handle set; s.mu is held.
func (s *syslogSink) Write(p []byte) (int, error) {
	msg := bytes.TrimRight(p, "\n")
	s.buf.Reset()
	pri := s.facility*8 + severity(s.level)
	if s.legacy {
		// websockify's legacy header: "<PRI>ident[pid]: ", which syslog
		// daemons complete with their own time and host.
		fmt.Fprintf(&s.buf, "<%d>%s[%d]: ", pri, syslogAppName, s.pid)
	} else {
		// RFC 5424 section 6: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME
		// PROCID MSGID STRUCTURED-DATA MSG.
		fmt.Fprintf(&s.buf, "<%d>1 %s %s %s %d - - ", pri, s.time.UTC().Format("2006-01-02T15:04:05.000000Z"), s.host, syslogAppName, s.pid)
		if !isASCII(msg) {
			s.buf.WriteString("\ufeff") // section 6.4: a UTF-8 MSG starts with a BOM
		}
	}
	s.buf.Write(msg)
	if !s.dgram {
		s.buf.WriteByte('\n')
	}
	if err := s.send(); err != nil && s.network != "udp" {
		if s.conn != nil {
			s.conn.Close()
			s.conn = nil
		}
		if s.connect() == nil {
			s.send()
		}
	}
	return len(p), nil
}

func (s *syslogSink) send() error {
	if s.conn == nil {
		return net.ErrClosed
	}
	s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := s.conn.Write(s.buf.Bytes())
	return err
}

// Close closes the connection.
func (s *syslogSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	return s.conn.Close()
}

// severity maps a slog level to a syslog severity (RFC 5424 section 6.2.1).
func severity(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3 // error
	case l >= slog.LevelWarn:
		return 4 // warning
	case l >= slog.LevelInfo:
		return 6 // informational
	}
	return 7 // debug
}

func isASCII(p []byte) bool {
	for _, b := range p {
		if b >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

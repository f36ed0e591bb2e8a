package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/wsproxy/wsproxy/cmd/internal/authflags"
	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/listen"
	"github.com/wsproxy/wsproxy/cmd/internal/metrics"
	"github.com/wsproxy/wsproxy/cmd/internal/servetls"
	"github.com/wsproxy/wsproxy/proxy"
)

const description = `
wsproxy relays WebSocket connections to a TCP server, as websockify does. It
is a drop-in replacement for websockify: it takes websockify's command line
and options, with the same names and meanings:

  wsproxy [options] [source_addr:]source_port [target_addr:target_port]
  wsproxy [options] --unix-target=FILE [source_addr:]source_port
  wsproxy [options] [source_addr:]source_port -- WRAP_COMMAND_LINE

With --unix-listen or --inetd the source is left out. Addresses are split on
their last colon; an IPv6 address may be written in brackets. A source
without an address listens on every address, IPv4 and IPv6.

Under systemd, wsproxy serves every socket that a .socket unit passes it
(socket activation: LISTEN_FDS) and binds nothing itself: the source may
then be left out, and if it is given it is not bound (it is logged, with a
warning when its port is none of the sockets'). With Type=notify it tells
systemd when it is ready and when it stops (sd_notify). See
examples/systemd in wsproxy's sources.

The same port serves ws:// and, when a certificate is found (--cert,
self.pem by default), wss://; with --web it also serves static files, such
as noVNC's. Every option can also be set with the environment variable
named after it in the list below ($WSPROXY_...); the command line wins.

On SIGINT or SIGTERM wsproxy stops accepting connections, lets the open
sessions run for --shutdown-timeout, then closes them with WebSocket status
1001 and exits with status 0 (a second signal closes them at once). SIGHUP
reloads the certificate, which is also reloaded when its files change.

With --metrics-listen ADDR, wsproxy serves Prometheus metrics on
http://ADDR/metrics, and a health check on /healthz (503 once it is
shutting down), on a plain-HTTP listener of their own, never on the
WebSocket port.

With --record-upload s3://BUCKET/PREFIX/, --record-dir is a spool: each
recording is sent to S3-compatible storage as the session runs (a
multipart upload, a part each 8 MiB), checked against the spool's file
(size and trailer) once complete, then removed. Failed uploads are retried
with backoff while sessions go on; at start, recordings left by a killed
wsproxy are sent, their half-done uploads resumed. Credentials come only
from the AWS environment and configuration files.

Examples:

  # Relay WebSocket connections on port 6080 to the VNC server on
  # localhost:5900.
  wsproxy 6080 localhost:5900

  # The same, with noVNC's web pages on the same port: open
  # http://localhost:6080/vnc.html in a browser.
  wsproxy --web /usr/share/novnc 6080 localhost:5900

  # Relay to a VNC server's unix socket; ping clients every 30 seconds and
  # close the sessions of those that do not answer within 10; exit after
  # 10 minutes without a connection.
  wsproxy --unix-target /run/vnc.sock --heartbeat 30 --heartbeat-timeout 10 --idle-timeout 600 6080

  # Print the version.
  wsproxy --version
`

// rootCmd is wsproxy's command line.
type rootCmd struct {
	Source string `arg:"" optional:"" help:"Where to accept WebSocket connections: [source_addr:]source_port. Left out with --unix-listen or --inetd; optional, and not bound, with systemd's socket activation."`
	Target string `arg:"" optional:"" help:"The TCP server to relay to: target_addr:target_port. Left out with --unix-target, or when -- WRAP_COMMAND_LINE follows."`

	Verbose bool `short:"v" env:"WSPROXY_VERBOSE" help:"Log debug messages too."`
	Traffic bool `env:"WSPROXY_TRAFFIC" help:"Print a character on standard output for each message relayed, with websockify's legend: } client receive, > target send, { target receive, < client send."`

	Daemon          bool    `short:"D" env:"WSPROXY_DAEMON" group:"Process" help:"Become a daemon: run in the background, detached from the terminal, with standard input and output on /dev/null."`
	PIDFile         string  `env:"WSPROXY_PID_FILE" type:"path" placeholder:"FILE" group:"Process" help:"With --daemon, write the daemon's process ID to FILE."`
	RunOnce         bool    `env:"WSPROXY_RUN_ONCE" group:"Process" help:"Serve one WebSocket connection, then exit when it closes."`
	Timeout         seconds `env:"WSPROXY_TIMEOUT" default:"0" placeholder:"SECONDS" group:"Process" help:"Stop accepting connections SECONDS after start, and exit once the open sessions have ended. 0 means never."`
	IdleTimeout     seconds `env:"WSPROXY_IDLE_TIMEOUT" default:"0" placeholder:"SECONDS" group:"Process" help:"Exit after SECONDS without any client connection open. 0 means never."`
	ShutdownTimeout seconds `env:"WSPROXY_SHUTDOWN_TIMEOUT" default:"5" placeholder:"SECONDS" group:"Process" help:"On SIGINT or SIGTERM, how long open sessions may go on before they are closed with status 1001. Default: 5."`
	WrapMode        string  `env:"WSPROXY_WRAP_MODE" default:"exit" enum:"exit,ignore,respawn" group:"Process" help:"What to do when the wrapped command exits: exit, ignore or respawn."`
	Libserver       bool    `env:"WSPROXY_LIBSERVER" group:"Process" help:"Accepted for websockify's command lines and ignored: wsproxy has a single server engine."`

	servetls.Flags `embed:"" envprefix:"WSPROXY_"`

	SSLTarget      bool   `env:"WSPROXY_SSL_TARGET" group:"TLS" help:"Connect to the target with TLS, verifying its certificate against the system's roots and the target's host name."`
	UnixTarget     string `env:"WSPROXY_UNIX_TARGET" type:"path" placeholder:"FILE" group:"Sockets" help:"Relay to the unix socket FILE instead of a TCP target."`
	UnixListen     string `env:"WSPROXY_UNIX_LISTEN" type:"path" placeholder:"FILE" group:"Sockets" help:"Listen on the unix socket FILE instead of a TCP port. A stale socket at FILE (nobody listening) is replaced; a live one, or any other file, is an error and is left as it is. The socket is removed at exit."`
	UnixListenMode string `env:"WSPROXY_UNIX_LISTEN_MODE" default:"0600" placeholder:"MODE" group:"Sockets" help:"Permissions of the --unix-listen socket, in octal. Default: 0600."`
	Inetd          bool   `env:"WSPROXY_INETD" group:"Sockets" help:"Serve the socket on standard input, from inetd or systemd: a listening socket is served until exit, a connected socket until it closes."`
	PreferIPv6     bool   `name:"prefer-ipv6" short:"6" env:"WSPROXY_PREFER_IPV6" group:"Sockets" help:"Listen on the IPv6 address when source_addr has IPv4 and IPv6 addresses."`

	Web      string `env:"WSPROXY_WEB" type:"existingdir" placeholder:"DIR" group:"Web" help:"Serve the files under DIR on the same port (GET and HEAD). Nothing outside DIR is served, symbolic links included; named pipes, sockets and devices are refused (403), never opened."`
	FileOnly bool   `env:"WSPROXY_FILE_ONLY" group:"Web" help:"With --web, answer 404 for a directory without index.html instead of listing it."`

	Heartbeat        seconds `env:"WSPROXY_HEARTBEAT" default:"0" placeholder:"SECONDS" group:"WebSocket" help:"Send a ping to each client every SECONDS. 0 means never."`
	HeartbeatTimeout seconds `env:"WSPROXY_HEARTBEAT_TIMEOUT" default:"0" placeholder:"SECONDS" group:"WebSocket" help:"With --heartbeat, close a session (status 1001) whose client has not answered a ping within SECONDS. 0 means never."`
	ClientTimeout    seconds `env:"WSPROXY_CLIENT_TIMEOUT" default:"60" placeholder:"SECONDS" group:"WebSocket" help:"Close a session (as a lost connection, 1006) whose client has vanished: its TCP connection left the data sent to it unacknowledged, or keepalive probes unanswered, for SECONDS (a client that does not read for that long is closed too). Found even while the target is not reading. Sets TCP keepalive and, on Linux, TCP_USER_TIMEOUT on client connections. 0 leaves the system's limits (about 15 minutes for unacknowledged data). Default: 60."`
	FirstByteTimeout seconds `env:"WSPROXY_FIRST_BYTE_TIMEOUT" default:"10" placeholder:"SECONDS" group:"WebSocket" help:"Drop a new connection that sends nothing for SECONDS. 0 means no limit. Default: 10."`
	HandshakeTimeout seconds `env:"WSPROXY_HANDSHAKE_TIMEOUT" default:"30" placeholder:"SECONDS" group:"WebSocket" help:"Drop a connection whose TLS and WebSocket handshakes take longer than SECONDS in all. 0 means no limit. Default: 30."`
	MaxMessageSize   int64   `env:"WSPROXY_MAX_MESSAGE_SIZE" default:"16777216" placeholder:"BYTES" group:"WebSocket" help:"Close a session (status 1009) whose client sends a larger message. Default: 16777216 (16 MiB)."`
	NoFlashPolicy    bool    `env:"WSPROXY_NO_FLASH_POLICY" group:"WebSocket" help:"Do not answer Flash's <policy-file-request/> probes."`

	TargetConfig string          `name:"target-config" env:"WSPROXY_TARGET_CONFIG" type:"path" placeholder:"FILE" group:"Tokens and authentication" help:"Deprecated alias of --token-plugin TokenFile --token-source FILE, as in websockify."`
	TokenPlugin  string          `env:"WSPROXY_TOKEN_PLUGIN" placeholder:"CLASS" group:"Tokens and authentication" help:"Choose the target by a token (the token query parameter): ReadOnlyTokenFile, TokenFile, TokenFileName, BaseTokenAPI, JSONTokenApi, JWTTokenApi, TokenRedis or UnixDomainSocketDirectory, with websockify's names and --token-source syntax."`
	TokenSource  string          `env:"WSPROXY_TOKEN_SOURCE" secret:"" placeholder:"ARG" group:"Tokens and authentication" help:"The token plugin's source: a file, directory, URL, key file or Redis address, as for websockify."`
	HostToken    bool            `env:"WSPROXY_HOST_TOKEN" group:"Tokens and authentication" help:"Take the token from the Host header instead of the token query parameter."`
	Auth         authflags.Flags `embed:"" envprefix:"WSPROXY_" group:"Tokens and authentication" set:"auth_guards=before the upgrade"`
	WebAuth      bool            `env:"WSPROXY_WEB_AUTH" group:"Tokens and authentication" help:"With --web, apply the auth plugin to the static files too."`
	SSLTargetCA  string          `name:"ssl-target-ca" env:"WSPROXY_SSL_TARGET_CA" type:"path" placeholder:"FILE" group:"Tokens and authentication" help:"With --ssl-target, trust the authorities in FILE (PEM) instead of the system's roots."`

	TrustedProxy []string `env:"WSPROXY_TRUSTED_PROXY" placeholder:"CIDR" group:"Proxies" help:"Believe the client address that a peer inside CIDR (repeatable) gives in a PROXY protocol v1/v2 header, Forwarded, X-Forwarded-For or X-Real-IP, for the logs and recordings. Other peers' headers are ignored, and their PROXY headers refused."`

	recordFlags  `embed:""`
	uploadFlags  `embed:""`
	metricsFlags `embed:""`

	LogFormat    string `env:"WSPROXY_LOG_FORMAT" default:"text" enum:"text,json" group:"Logging" help:"Format of the lines on stderr and in --log-file: text (key=value) or json (one object per line, for log shippers). Every line about a connection carries its session ID."`
	LogFile      string `env:"WSPROXY_LOG_FILE" type:"path" placeholder:"FILE" group:"Logging" help:"Also append the log to FILE."`
	Syslog       string `env:"WSPROXY_SYSLOG" placeholder:"SERVER" group:"Logging" help:"Also send the log to a syslog server, in RFC 5424 format: a UDP host:port, or a local socket such as /dev/log."`
	LegacySyslog bool   `env:"WSPROXY_LEGACY_SYSLOG" group:"Logging" help:"With --syslog, use the old BSD syslog header instead of RFC 5424's."`

	// Wrap is the command line after "--", set by run before parsing; nil
	// when there was no "--".
	Wrap []string `kong:"-"`
	// args are the arguments run was given, for a daemon to start itself.
	args []string
	// sd is systemd's socket activation and notification (systemd.go).
	sd listen.Systemd
}

// Validate checks the command line as a whole: which positional arguments
// the options leave, and the options that go together.
func (c *rootCmd) Validate() error {
	if err := c.takeActivated(); err != nil {
		return err
	}
	needSource := !c.Inetd && c.UnixListen == "" && !c.activated()
	needTarget := c.Wrap == nil && c.UnixTarget == "" && !c.plugins().usesTokens()
	if !needSource && c.Target == "" && (needTarget || !c.activated()) {
		// The first argument is the target: there is no source. (With
		// socket activation the source is optional: a single argument is
		// the target if one is needed, else the source.)
		c.Source, c.Target = "", c.Source
	}
	switch {
	case c.Wrap != nil && len(c.Wrap) == 0:
		return errors.New("missing WRAP_COMMAND_LINE after --")
	case c.Wrap != nil && c.UnixTarget != "":
		return errors.New("give --unix-target or -- WRAP_COMMAND_LINE, not both")
	case c.Inetd && c.UnixListen != "":
		return errors.New("give --inetd or --unix-listen, not both")
	case needSource && c.Source == "":
		return errors.New("missing source: give [source_addr:]source_port")
	case !needSource && !c.activated() && c.Source != "":
		return fmt.Errorf("unexpected argument %s: with --inetd or --unix-listen there is no source", c.Source)
	case c.Wrap != nil && c.Target != "":
		return errors.New("give a target or -- WRAP_COMMAND_LINE, not both")
	case c.UnixTarget != "" && c.Target != "":
		return fmt.Errorf("unexpected argument %s: give a target or --unix-target, not both", c.Target)
	case needTarget && c.Target == "":
		return errors.New("missing target: give target_addr:target_port, --unix-target FILE, or -- WRAP_COMMAND_LINE")
	}
	if c.Source != "" {
		if _, _, err := listen.ParseSource(c.Source); err != nil {
			return err
		}
	}
	if c.Target != "" {
		if _, _, err := parseTarget(c.Target); err != nil {
			return err
		}
	}
	if _, err := c.unixListenMode(); err != nil {
		return err
	}
	if err := c.Flags.Check(); err != nil {
		return err
	}
	if c.Syslog != "" {
		if _, _, err := syslogAddr(c.Syslog); err != nil {
			return err
		}
	}
	switch {
	case c.PIDFile != "" && !c.Daemon:
		return errors.New("--pid-file needs --daemon")
	case c.Daemon && c.Inetd:
		return errors.New("give --daemon or --inetd, not both: a daemon has no standard input")
	case c.LegacySyslog && c.Syslog == "":
		return errors.New("--legacy-syslog needs --syslog")
	case c.HeartbeatTimeout > 0 && c.Heartbeat == 0:
		return errors.New("--heartbeat-timeout needs --heartbeat")
	case c.SSLTarget && c.UnixTarget != "":
		return errors.New("--ssl-target needs a TCP target, not --unix-target")
	case c.MaxMessageSize <= 0:
		return fmt.Errorf("--max-message-size %d: want a number of bytes > 0", c.MaxMessageSize)
	}
	if err := c.plugins().validate(); err != nil {
		return err
	}
	if _, err := proxy.ParseTrustedProxies(c.TrustedProxy, nil); err != nil {
		return fmt.Errorf("--trusted-proxy: %w", err)
	}
	if c.WebAuth && (c.Web == "" || c.Auth.AuthPlugin == "") {
		return errors.New("--web-auth needs --web and --auth-plugin")
	}
	if err := c.recordFlags.validate(); err != nil {
		return err
	}
	return c.uploadFlags.validate(&c.recordFlags)
}

// plugins returns the token and auth plugin options.
func (c *rootCmd) plugins() pluginOptions {
	return pluginOptions{
		TargetConfig: c.TargetConfig, TokenPlugin: c.TokenPlugin, TokenSource: c.TokenSource, HostToken: c.HostToken,
		AuthPlugin: c.Auth.AuthPlugin, AuthSource: c.Auth.AuthSource,
		Target: c.Target, UnixTarget: c.UnixTarget, Wrap: c.Wrap != nil,
		SSLTarget: c.SSLTarget, SSLTargetCA: c.SSLTargetCA, VerifyClient: c.VerifyClient,
	}
}

// targetTLS is the TLS configuration of --ssl-target for a target host:
// the system's roots or --ssl-target-ca, and the host for SNI and
// verification.
func (c *rootCmd) targetTLS(host string) (*tls.Config, error) {
	conf, err := sslTargetConfig(c.plugins())
	if err != nil || conf == nil {
		return conf, err
	}
	conf = conf.Clone()
	conf.ServerName = host
	return conf, nil
}

// unixListenMode parses --unix-listen-mode, octal as websockify reads it.
func (c *rootCmd) unixListenMode() (os.FileMode, error) {
	m, err := listen.ParseMode(c.UnixListenMode)
	if err != nil {
		return 0, fmt.Errorf("--unix-listen-mode: %w", err)
	}
	return m, nil
}

// Run starts the proxy and serves until a signal, --timeout, --idle-timeout
// or --run-once ends it.
func (c *rootCmd) Run(ctx context.Context, kctx *kong.Context) error {
	// What can fail on the command line's account fails here, before a
	// daemon leaves the terminal.
	tlsConfig, certs, err := c.Flags.Config()
	if err != nil {
		return err
	}
	target, err := c.target()
	if err != nil {
		return err
	}
	var dmn *daemon
	if c.Daemon {
		if dmn, err = detach(ctx, c.args, c.PIDFile, kctx.Stderr); err != nil || dmn == nil {
			return err // nil in the parent, once the daemon serves
		}
		defer dmn.Close()
	}
	web, err := c.webHandler()
	if err != nil {
		return err
	}
	if web != nil {
		defer web.Close()
	}
	log, closeLog, err := c.logger(kctx.Stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	c.warnIgnored(log)
	c.sd.Notify = listen.NewNotifier(log)
	defer c.sd.Notify.Close()

	// Certificate reloads, and SIGHUP, until Run returns.
	defer servetls.Watch(ctx, certs, time.Duration(c.CertReload), log)()

	// Everything else that can fail does before the listener opens, so
	// that a refused start never has a port open for a moment.
	var taps []func(context.Context, *proxy.SessionInfo) (proxy.Tap, error)
	if c.Traffic {
		taps = append(taps, newTrafficTap(kctx.Stdout))
	}
	up, err := c.startUpload(ctx, c.RecordDir, log)
	if err != nil {
		return err
	}
	if up != nil {
		defer stopUpload(up, log) // after rec.Close below
		c.spool = up
	}
	rec, err := c.recorder(log)
	if err != nil {
		return err
	}
	if rec != nil {
		// After the server has shut down, which ends (and seals) every
		// session's recording: this only catches what is left.
		defer rec.Close()
		taps = append(taps, newRecordingTap(rec))
	}
	if c.metrics, err = metrics.Start(ctx, "wsproxy", c.MetricsListen, log); err != nil {
		return err
	}
	defer c.metrics.Close() // after the server has shut down
	if rec != nil {
		c.metrics.AddRecorder(rec.Stats)
		registerUpload(c.metrics, up)
	}
	resolver, auth, stopPlugins, err := buildPlugins(c.plugins(), log)
	if err != nil {
		return err
	}
	defer stopPlugins() // after the server has shut down
	if resolver != nil {
		target = proxy.Target{Address: "token:" + c.TokenPlugin + c.TargetConfig}
	}
	trusted, _ := proxy.ParseTrustedProxies(c.TrustedProxy, log) // checked by Validate
	opts := proxy.ServerOptions{
		Resolver:           target,
		TLSConfig:          tlsConfig,
		RequireTLS:         c.SSLOnly,
		DisableFlashPolicy: c.NoFlashPolicy,
		Logger:             log,
		FirstByteTimeout:   orNoLimit(c.FirstByteTimeout),
		HandshakeTimeout:   orNoLimit(c.HandshakeTimeout),
		Heartbeat:          time.Duration(c.Heartbeat),
		HeartbeatTimeout:   time.Duration(c.HeartbeatTimeout),
		ClientTimeout:      orNoLimit(c.ClientTimeout),
		MaxMessageSize:     c.MaxMessageSize,
		NewTap:             proxy.TeeTaps(taps...),
		Observer:           c.metrics.Observer(),
		Authenticator:      auth,
	}
	if resolver != nil {
		opts.Resolver = resolver
	}
	if !trusted.Empty() {
		opts.ClientAddr = trusted.ClientAddr
	}
	if web != nil {
		opts.Handler = web
		if c.WebAuth {
			opts.Handler = authflags.Guard(auth, web, nil)
		}
	}

	conns := newTracker()
	defer conns.removeSocket()
	ln, err := c.openListener(ctx, conns, log)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Closed by the server's shutdown in serve; this closes it on the
	// ways out before serve (a second Close only returns an error).
	defer ln.Close()
	ln = trusted.Listener(ln)
	if c.Wrap == nil {
		log.Info("listening", c.describe(ln, target, tlsConfig != nil)...)
	}
	if dmn != nil {
		// After the line above, which the parent relays to the operator,
		// and before the wrapped command starts, which would inherit the
		// parent's stderr otherwise.
		if err := dmn.Ready(); err != nil {
			return err
		}
	}
	var wrap *wrapped
	if c.Wrap != nil {
		// The port the wrapped command binds and rebind.so moves; none
		// with --unix-listen or --inetd.
		listenPort := 0
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			listenPort = a.Port
		}
		wrap, err = runWrapped(ctx, c.Wrap, c.WrapMode, listenPort, log)
		if err != nil {
			return err
		}
		// After serve, which has shut the server down.
		defer wrap.Stop()
		addr := wrap.Target()
		target.Address = addr
		if c.SSLTarget {
			host, _, _ := net.SplitHostPort(addr)
			if target.TLS, err = c.targetTLS(host); err != nil {
				return err
			}
		}
		opts.Resolver = target
		log.Info("listening", c.describe(ln, target, tlsConfig != nil)...)
	}
	var once *onceResolver
	if c.RunOnce {
		once = &onceResolver{next: opts.Resolver, conns: conns, done: make(chan struct{})}
		opts.Resolver = once
	}
	srv, err := proxy.NewServer(opts)
	if err != nil {
		return err
	}
	c.metrics.AddServer(srv.Stats)
	return c.serve(ctx, srv, ln, conns, once, wrap, log)
}

// serve runs srv on ln until a signal (ctx), --timeout, --idle-timeout,
// --run-once or the end of an inetd connection, then shuts it down.
func (c *rootCmd) serve(ctx context.Context, srv *proxy.Server, ln net.Listener, conns *tracker, once *onceResolver, wrap *wrapped, log *slog.Logger) error {
	// Sessions outlive ctx: shutdown closes them.
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.WithoutCancel(ctx), ln) }()
	c.notifyReady(ln)

	var timeout <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(time.Duration(c.Timeout))
		defer t.Stop()
		timeout = t.C
	}
	_, single := ln.(*singleListener)
	idle := make(chan struct{})
	if c.IdleTimeout > 0 || single {
		// With a connected socket from inetd, "idle" is when it has closed.
		d := time.Duration(c.IdleTimeout)
		if single {
			d = 0
		}
		waitCtx, stopWaiting := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { stopWaiting(); <-done }()
		go func() {
			defer close(done)
			if conns.waitIdle(waitCtx, d) == nil {
				close(idle)
			}
		}()
	}
	var wrapDone <-chan struct{} // --wrap-mode exit, or respawn giving up
	if wrap != nil {
		wrapDone = wrap.Done()
	}
	var runOnce <-chan struct{}
	if once != nil {
		runOnce = once.done
	}

	var (
		err       error
		unbounded bool // wait for the sessions to end, until a signal
	)
	select {
	case <-ctx.Done():
		log.Info("shutting down on signal", "sessions", srv.Active(), "shutdown_timeout", time.Duration(c.ShutdownTimeout))
	case <-timeout:
		log.Info("listener exit due to --timeout: waiting for the sessions to end", "sessions", srv.Active())
		unbounded = true
	case <-idle:
		if single {
			log.Info("inetd connection closed")
		} else {
			log.Info("exit due to --idle-timeout", "idle_timeout", time.Duration(c.IdleTimeout))
		}
	case <-wrapDone:
		err = wrap.Err()
		log.Info("exiting: the wrapped command has ended", "err", err)
	case <-runOnce:
		log.Info("exiting due to --run-once")
	case err = <-served:
		err = fmt.Errorf("serve: %w", err)
		served <- nil
	}
	c.notifyStopping(srv.Active())
	c.metrics.Drain()
	if serr := c.shutdown(ctx, srv, unbounded); serr != nil {
		log.Info("sessions closed at the end of the shutdown timeout", "err", serr)
	}
	<-served
	return err
}

// shutdown stops srv: it stops accepting at once, then waits for the open
// sessions for --shutdown-timeout (if unbounded, until ctx is done, then
// --shutdown-timeout more), then closes those left with 1001. A signal
// received meanwhile closes them at once.
func (c *rootCmd) shutdown(ctx context.Context, srv *proxy.Server, unbounded bool) error {
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if unbounded {
			select {
			case <-ctx.Done():
			case <-stop:
				return
			}
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		t := time.NewTimer(time.Duration(c.ShutdownTimeout))
		defer t.Stop()
		select {
		case <-t.C:
		case <-sig:
		case <-stop:
			return
		}
		cancel()
	})
	err := srv.Shutdown(sctx)
	close(stop)
	wg.Wait()
	return err
}

// target returns the target the options name, without the address of a
// wrapped command (runWrapped returns it).
func (c *rootCmd) target() (proxy.Target, error) {
	if c.UnixTarget != "" {
		return proxy.Target{Network: "unix", Address: c.UnixTarget}, nil
	}
	t := proxy.Target{Network: "tcp"}
	if c.Target != "" {
		host, port, err := parseTarget(c.Target)
		if err != nil {
			return t, err
		}
		t.Address = net.JoinHostPort(host, strconv.Itoa(port))
		if t.TLS, err = c.targetTLS(host); err != nil {
			return t, err
		}
	}
	return t, nil
}

// describe returns the attributes of the "listening" log line.
func (c *rootCmd) describe(ln net.Listener, t proxy.Target, tlsOn bool) []any {
	attrs := []any{"addr", ln.Addr().String()}
	if c.Inetd {
		attrs = []any{"addr", "inetd"}
	}
	attrs = append(attrs, "target", t.String())
	if c.Wrap != nil {
		attrs = append(attrs, "wrap", c.Wrap)
	}
	attrs = append(attrs, "tls", tlsOn, "ssl_only", c.SSLOnly, "ssl_target", c.SSLTarget)
	if c.Web != "" {
		attrs = append(attrs, "web", c.Web, "file_only", c.FileOnly)
	}
	return attrs
}

// warnIgnored logs the options that have no effect, as websockify accepts
// them silently.
func (c *rootCmd) warnIgnored(log *slog.Logger) {
	if c.Libserver {
		log.Warn("--libserver is not needed and is ignored: wsproxy has a single server engine")
	}
	if c.FileOnly && c.Web == "" {
		log.Warn("--file-only has no effect without --web")
	}
	for _, w := range c.Flags.Warnings() {
		log.Warn(w)
	}
	if c.UnixListenMode != "0600" && c.UnixListen == "" {
		log.Warn("--unix-listen-mode has no effect without --unix-listen")
	}
}

// orNoLimit maps a timeout option, where 0 means no limit, to the proxy's
// convention, where a negative value does.
func orNoLimit(s seconds) time.Duration {
	if s == 0 {
		return -1
	}
	return time.Duration(s)
}

// seconds is a duration option (cli.Seconds).
type seconds = cli.Seconds

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/regfile"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/replay"

	"github.com/wsproxy/wsproxy/cmd/internal/authflags"
	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/listen"
	"github.com/wsproxy/wsproxy/cmd/internal/metrics"
	"github.com/wsproxy/wsproxy/cmd/internal/servetls"
)

const description = `
wsreplay serves recordings made by wsproxy (or by websockify's --record) to
WebSocket clients such as noVNC, as if they came from the live server: each
client that connects gets its own playback, the server's messages at their
recorded times. What the client sends is read and discarded.

  wsreplay [options] [source_addr:]source_port RECORDING|DIR...

Under systemd, wsreplay serves every socket that a .socket unit passes it
(socket activation: LISTEN_FDS) and binds nothing itself: the source may
then be left out. A first argument is then the source (logged, not bound)
only if it reads as [source_addr:]source_port and names no file. With
Type=notify it tells systemd when it is ready and when it stops.

With a single recording file every client gets it. With a directory (searched
recursively) or several files, a client chooses a recording by name, the
file's path under its directory: ws://HOST:PORT/?token=NAME or
ws://HOST:PORT/NAME; an unknown name is answered 404. GET /recordings lists
the recordings as JSON, with their metadata, durations and markers.

The playback options below are the defaults; a client can change them for
its connection with query parameters of the same names (speed, idle-limit,
start, loop, pace, pace-timeout, end), which noVNC's path setting can carry:

  ws://HOST:PORT/?token=NAME&speed=4&start=90s&idle-limit=2&end=hold

Durations are seconds (90, 1.5) or Go durations (1m30s, 500ms). Recording
times are offsets from the start of the session.

A VNC recording is rendered (--mode auto or render): wsreplay decodes it
and speaks RFB to each viewer itself, so that start and every seek show the
screen at once, from the nearest keyframe, and any VNC client can watch it,
noVNC over the WebSocket or a native viewer on --rfb-listen. Each such
replay has an ID, chosen by the viewer with ?replay=ID or random, and is
controlled through a WebSocket to /replays/ID/control: each message is a
JSON command, answered by the replay's state as JSON, or {"error": "..."}:

  {"action": "pause"}  {"action": "resume"}
  {"action": "seek", "to": "1m30s"}  {"action": "speed", "speed": "4"}

GET /replays lists the replays being served, with their IDs, and
GET /replays/ID gives one.

With --auth-plugin (websockify's BasicHTTPAuth, ExpectOrigin or
ClientCertCNAuth, with --auth-source, as in wsproxy), every WebSocket
upgrade (the replays and their control), GET /recordings and /replays, and
the --ui pages and their JSON are refused without credentials:
BasicHTTPAuth answers 401 with WWW-Authenticate, so a browser asks for a
user name and password, and sends them again on its WebSocket connections
to the same port. --web-auth puts the --web files behind the plugin too.
ClientCertCNAuth needs --verify-client. With an auth plugin, --rfb-listen
(which speaks no HTTP) needs --password-file. Without one, whoever
reaches the port can watch every recording, read what was typed in it and
control every replay.

The listener is wsproxy's: one port serves ws:// and, with --cert, wss://,
and with --web static files such as noVNC's; clients may speak the binary or
the base64 subprotocol. On SIGINT or SIGTERM wsreplay closes the replays with
WebSocket status 1001 and exits.

With --ui, the same port serves a recordings browser and player for
auditors at http://HOST:PORT/ui/: the recordings newest first, with their
user, client, target, token, size, integrity (verified and cached) and a
thumbnail, filtered by metadata, time and the text typed in the session;
and a player (noVNC from --novnc-dir, connected to a render-mode replay)
with a timeline, speed, skip idle, the typed lines, clicks and clipboard
texts beside the picture, deep links (play.html?name=NAME#t=12m30s) and
a download of the recording. The pages are read-only and carry a strict
Content-Security-Policy. With an auth plugin the pages and their JSON are
always behind it, --web-auth or not: they show everything typed. (That
plugin cannot be ExpectOrigin: a browser sends no Origin when it opens a
page.)

With --metrics-listen ADDR, wsreplay serves Prometheus metrics on
http://ADDR/metrics, and a health check on /healthz (503 once it is
shutting down), on a plain-HTTP listener of their own.

Examples:

  # Serve the recordings under ./recordings on port 6080, with noVNC's
  # pages: open http://localhost:6080/vnc.html?path=NAME in a browser.
  wsreplay --web /usr/share/novnc 6080 ./recordings

  # Serve one recording from 90 seconds in, 4 times as fast, with gaps of
  # more than 2 seconds cut to 2, keeping the last screen at the end.
  wsreplay --start 90s --speed 4 --idle-limit 2 --end hold 6080 session.wsrec

  # Serve a browser and player of the recordings at
  # http://localhost:6080/ui/ (noVNC from Debian's novnc package).
  wsreplay --ui 6080 ./recordings

  # The same, for auditors who log in (the browser asks for the password;
  # htpasswd holds bcrypt hashes, as htpasswd -B writes them).
  wsreplay --ui --auth-plugin BasicHTTPAuth --auth-source htpasswd 6080 ./recordings

  # Print the version.
  wsreplay --version
`

// rootCmd is wsreplay's command line.
type rootCmd struct {
	Source     string   `arg:"" optional:"" help:"Where to accept WebSocket connections: [source_addr:]source_port. Left out with --unix-listen; optional, and not bound, with systemd's socket activation."`
	Recordings []string `arg:"" optional:"" name:"recording" help:"Recording files, or directories of recordings, to serve; s3://BUCKET/PREFIX/ serves the recordings under a prefix of object storage, s3://BUCKET/KEY one."`
	s3Flags    `embed:""`

	Speed       string `env:"WSREPLAY_SPEED" default:"1" group:"Playback" help:"Playback speed, from 0.1 to 100, or max for as fast as the client reads."`
	IdleLimit   string `env:"WSREPLAY_IDLE_LIMIT" default:"0" placeholder:"SECONDS" group:"Playback" help:"Cut every gap longer than this in the recording to this length (before --speed). 0 means no limit."`
	Start       string `env:"WSREPLAY_START" default:"0" placeholder:"OFFSET" group:"Playback" help:"Start playing at this offset of the recording: everything before it is sent at once (a VNC client needs it to draw the screen), the rest at its recorded times."`
	Loop        bool   `env:"WSREPLAY_LOOP" group:"Playback" help:"Play the recording again, on the same connection, each time it ends. (A VNC client cannot take a second handshake: for noVNC, use --end hold and reconnect.)"`
	Pace        string `env:"WSREPLAY_PACE" default:"time" enum:"time,client" group:"Playback" help:"time: send each message at its recorded time. client: also wait, before each message, until the client has sent as many bytes as the recorded client had (up to --pace-timeout), so that its handshake and a slow client stay in step."`
	PaceTimeout string `env:"WSREPLAY_PACE_TIMEOUT" default:"5" placeholder:"SECONDS" group:"Playback" help:"With --pace client, how long a message waits for the client before it is sent anyway."`
	End         string `env:"WSREPLAY_END" default:"close" enum:"close,hold" group:"Playback" help:"At the end of the recording: close the connection (status 1000), or hold it open so that the last screen stays."`
	Mode        string `env:"WSREPLAY_MODE" default:"auto" enum:"auto,render,bytes" group:"Playback" help:"render: decode VNC recordings and speak RFB to each viewer (instant seek, pause, speed, any VNC client). bytes: send the recorded bytes as they were (any protocol; reproduces a client's bug). auto: render for VNC recordings, bytes for the others."`

	RFBListen    string `env:"WSREPLAY_RFB_LISTEN" placeholder:"[ADDR:]PORT" group:"Render" help:"Also serve render-mode replays over plain RFB (TCP) on this port, for native VNC viewers such as TigerVNC's vncviewer."`
	RFBRecording string `env:"WSREPLAY_RFB_RECORDING" placeholder:"NAME" group:"Render" help:"The recording --rfb-listen serves. Default: the only recording file, or the most recently modified recording."`
	Password     string `env:"WSREPLAY_PASSWORD" placeholder:"PASSWORD" group:"Render" help:"Ask render-mode viewers for VNC authentication with this password (8 bytes count). Prefer --password-file: a command line is visible to other users."`
	PasswordFile string `env:"WSREPLAY_PASSWORD_FILE" type:"path" placeholder:"FILE" group:"Render" help:"Read the VNC authentication password from the first line of FILE."`

	Verbose bool   `short:"v" env:"WSREPLAY_VERBOSE" help:"Log debug messages too, such as each message the client sends."`
	LogFile string `env:"WSREPLAY_LOG_FILE" type:"path" placeholder:"FILE" group:"Logging" help:"Also append the log to FILE."`

	Identity  []string `short:"i" type:"path" env:"WSREPLAY_IDENTITY" placeholder:"FILE" help:"age identity file (as age-keygen writes it) that opens encrypted recordings; repeatable. An encrypted recording cannot be played without one."`
	LogFormat string   `env:"WSREPLAY_LOG_FORMAT" default:"text" enum:"text,json" group:"Logging" help:"Format of the log lines: text (key=value) or json (one object per line, for log shippers)."`

	servetls.Flags `embed:"" envprefix:"WSREPLAY_"`

	UnixListen     string `env:"WSREPLAY_UNIX_LISTEN" type:"path" placeholder:"FILE" group:"Listener" help:"Listen on the unix socket FILE instead of a TCP port. A stale socket at FILE (nobody listening) is replaced; a live one, or any other file, is an error and is left as it is. The socket is removed at exit."`
	UnixListenMode string `env:"WSREPLAY_UNIX_LISTEN_MODE" default:"0600" placeholder:"MODE" group:"Listener" help:"Permissions of the --unix-listen socket, in octal."`

	Web string `env:"WSREPLAY_WEB" type:"existingdir" placeholder:"DIR" group:"Listener" help:"Serve the files under DIR on the same port (GET and HEAD), such as noVNC's. Nothing outside DIR is served, symbolic links included; named pipes, sockets and devices are refused (403), never opened."`

	Auth    authflags.Flags `embed:"" envprefix:"WSREPLAY_" group:"Authentication" set:"auth_guards=on every WebSocket upgrade (replays and their control), GET /recordings and /replays, and the --ui pages and their JSON"`
	WebAuth bool            `env:"WSREPLAY_WEB_AUTH" group:"Authentication" help:"With --web, apply the auth plugin to the static files too. The --ui pages and their JSON, GET /recordings and /replays are behind an auth plugin with or without it."`

	metricsFlags `embed:""`
	uiFlags      `embed:""`

	playback replay.Options `kong:"-"`
	sd       listen.Systemd // systemd's socket activation and notification (systemd.go)
}

// Validate checks the command line as a whole.
func (c *rootCmd) Validate() error {
	if err := c.takeActivated(); err != nil {
		return err
	}
	if c.UnixListen == "" && c.Source == "" && !c.activated() {
		return errors.New("missing source: give [source_addr:]source_port")
	}
	if c.UnixListen != "" && c.Source != "" {
		// With --unix-listen the first argument is a recording.
		c.Recordings = append([]string{c.Source}, c.Recordings...)
		c.Source = ""
	}
	if len(c.Recordings) == 0 {
		return errors.New("missing recording: give one or more RECORDING files or DIRs")
	}
	if c.Source != "" {
		if _, _, err := listen.ParseSource(c.Source); err != nil {
			return err
		}
	}
	if _, err := listen.ParseMode(c.UnixListenMode); err != nil {
		return fmt.Errorf("--unix-listen-mode: %w", err)
	}
	if err := c.Flags.Check(); err != nil {
		return err
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	c.playback = replay.Options{}
	for _, o := range []struct{ name, value string }{
		{"speed", c.Speed}, {"idle-limit", c.IdleLimit}, {"start", c.Start}, {"pace", c.Pace},
		{"pace-timeout", c.PaceTimeout}, {"end", c.End}, {"mode", c.Mode},
	} {
		if err := c.playback.Set(o.name, o.value); err != nil {
			return fmt.Errorf("--%s", strings.TrimPrefix(err.Error(), "replay: invalid option: "))
		}
	}
	c.playback.Loop = c.Loop
	if c.Password != "" && c.PasswordFile != "" {
		return errors.New("give --password or --password-file, not both")
	}
	if c.RFBListen != "" {
		if _, _, err := listen.ParseSource(c.RFBListen); err != nil {
			return fmt.Errorf("--rfb-listen: %w", err)
		}
	}
	return c.validateUI()
}

// password returns the VNC authentication password of the options.
func (c *rootCmd) password() (string, error) {
	if c.PasswordFile == "" {
		return c.Password, nil
	}
	b, err := regfile.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("--password-file: the first line is empty")
	}
	return line, nil
}

// Run serves the recordings until ctx is done (SIGINT, SIGTERM).
func (c *rootCmd) Run(ctx context.Context, kctx *kong.Context) error {
	log, closeLog, err := c.logger(kctx.Stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	c.sd.Notify = listen.NewNotifier(log)
	defer c.sd.Notify.Close()
	for _, w := range c.Flags.Warnings() {
		log.Warn(w)
	}
	tlsConfig, certs, err := c.Flags.Config()
	if err != nil {
		return err
	}
	defer servetls.Watch(ctx, certs, time.Duration(c.CertReload), log)()
	opts := replay.ServerOptions{
		Proxy: proxy.ServerOptions{
			TLSConfig:  tlsConfig,
			RequireTLS: c.SSLOnly,
			Logger:     log,
		},
		Playback: c.playback,
	}
	if opts.Password, err = c.password(); err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	for _, name := range c.Identity {
		ids, err := format.ReadIdentities(name, regfile.ReadFile)
		if err != nil {
			return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--identity: %w", err)}
		}
		opts.Reader.Format.Identities = append(opts.Reader.Format.Identities, ids...)
	}
	if opts.Proxy.Authenticator, err = c.Auth.Authenticator(c.VerifyClient); err != nil {
		return err
	}
	if opts.Proxy.Authenticator != nil {
		log.Info("clients authenticated", "plugin", c.Auth.Class(), "web_auth", c.WebAuth)
	} else if c.UI {
		log.Warn("--ui without --auth-plugin: whoever reaches the port can watch every recording and read what was typed")
	}
	if c.Web != "" {
		web, err := proxy.NewFileHandler(c.Web, proxy.FileOptions{})
		if err != nil {
			return err
		}
		defer web.Close()
		opts.Proxy.Handler = web
		if c.WebAuth {
			opts.Proxy.Handler = authflags.Guard(opts.Proxy.Authenticator, web, log)
		}
	}
	if c.metrics, err = metrics.Start(ctx, "wsreplay", c.MetricsListen, log); err != nil {
		return err
	}
	defer c.metrics.Close() // after the server has closed
	opts.Proxy.Observer = c.metrics.Observer()
	paths, stores, closeStores, err := c.stores(ctx, c.Recordings)
	defer closeStores() // after the server has closed
	if err != nil {
		return err
	}
	opts.Stores = stores
	startUI := c.hookUI(&opts, log)
	srv, err := replay.NewServer(paths, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	if startUI != nil {
		pages, err := startUI(srv)
		if err != nil {
			return &cli.ExitError{Code: cli.ExitUsage, Err: err}
		}
		defer pages.Close()
	}
	c.metrics.AddServer(srv.Stats)

	ln, cleanup, err := c.listen(ctx, log)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer cleanup()
	attrs := []any{"addr", ln.Addr().String(), "recordings", c.Recordings, "tls", tlsConfig != nil, "ssl_only", c.SSLOnly}
	if c.Web != "" {
		attrs = append(attrs, "web", c.Web)
	}
	log.Info("listening", attrs...)

	served := make(chan error, 2)
	go func() { served <- srv.Serve(context.WithoutCancel(ctx), ln) }()
	if c.RFBListen != "" {
		host, port, _ := listen.ParseSource(c.RFBListen) // checked by Validate
		var lc net.ListenConfig
		rln, err := lc.Listen(ctx, "tcp", joinHostPort(host, port))
		if err != nil {
			srv.Close()
			<-served
			return fmt.Errorf("--rfb-listen: %w", err)
		}
		log.Info("listening for VNC viewers", "addr", rln.Addr().String())
		go func() {
			if err := srv.ServeRFB(context.WithoutCancel(ctx), rln, replay.RFBOptions{Recording: c.RFBRecording}); err != nil {
				served <- fmt.Errorf("rfb: %w", err)
			}
		}()
	}
	c.sd.Notify.Ready("listening on " + ln.Addr().String())
	select {
	case <-ctx.Done():
		log.Info("shutting down on signal", "replays", srv.Active())
		c.notifyStopping(srv.Active())
		c.metrics.Drain()
		srv.Close()
		<-served
		return nil
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
}

// listen opens the TCP port or the unix socket of the options, or takes
// the sockets of systemd's socket activation. cleanup removes the unix
// socket.
func (c *rootCmd) listen(ctx context.Context, log *slog.Logger) (ln net.Listener, cleanup func(), err error) {
	if c.activated() {
		ln, err := c.sd.Sockets.Listener(c.Source, log)
		return ln, func() {}, err
	}
	if c.UnixListen != "" {
		mode, _ := listen.ParseMode(c.UnixListenMode) // checked by Validate
		ln, remove, err := listen.Unix(c.UnixListen, mode)
		if err != nil {
			return nil, nil, err
		}
		return ln, func() { remove() }, nil
	}
	host, port, err := listen.ParseSource(c.Source)
	if err != nil {
		return nil, nil, err
	}
	var lc net.ListenConfig
	ln, err = lc.Listen(ctx, "tcp", joinHostPort(host, port))
	if err != nil {
		return nil, nil, err
	}
	return ln, func() {}, nil
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/format/rfb/rfbfile"
)

type rfbCmd struct {
	read *readFlags // the root's, set by runEnv

	File string        `arg:"" help:"The recording (wsrec or websockify) of a VNC session."`
	From time.Duration `help:"Only events at or after this time (an offset such as 90s or 1m30s)." placeholder:"TIME"`
	To   time.Duration `help:"Only events before this time; 0, the default, means to the end." placeholder:"TIME"`
	Kind []string      `help:"Only events of these kinds (comma-separated; see above)." placeholder:"KIND"`
	All  bool          `help:"Every event: also the handshake's, update requests, fences and continuous-update notices, and each pointer motion."`
	JSON bool          `name:"json" help:"Print JSON lines: the session, then one object per event."`

	kinds map[rfb.Kind]bool `kong:"-"`
}

func (c *rfbCmd) Help() string {
	return `Decodes the recording as a VNC session (RFB, RFC 6143): first what the
handshake established (protocol version, the security types offered and
chosen, the authentication result, the desktop's name and size, its pixel
format and the client's, the encodings the client asked for), then a
timeline of the session, one line per event: the time from the session
start, who sent it (client or server), and what it was. Keys are named by
their X11 keysym; pointer events give the position and the buttons pressed
or released, and runs of motion without a button change are summarised in
one line; clipboard texts (client-cut-text, server-cut-text) are quoted; a
framebuffer update lists its rectangles, their encodings and sizes.

The timeline leaves out by default what the first part already says (the
handshake and the client's first pixel format and encodings) and what is
routine (update requests, fences, continuous-update notices); the last line
counts what it left out. --all shows every event, each pointer motion on its
own line; --kind shows only the kinds named, of:

  ` + kindList() + `

A security type that encrypts the stream (VeNCrypt's TLS and X509 subtypes,
TLS, the RSA-AES types) leaves nothing to decode after it: the command says
so and exits with status 0. A recording that is not of an RFB session, or
not from its start (a slice made by cut), exits with status 1. Where decoding of one direction stops (an
encoding that cannot be sized without decoding it, a message cut off by the
end of the recording, a gap), a warning says why and the other direction
goes on. --from and --to select the events shown: the session is always
decoded from its start. With --json, the first line is the session (kind
"session") and every event follows, pointer motion included, as format/rfb's
Event; --kind, --all, --from and --to select them as they do the lines.`
}

// rfbKinds lists the kinds of events rfb --kind takes, in the order of
// format/rfb's constants.
var rfbKinds = []rfb.Kind{
	rfb.KindVersion, rfb.KindSecurityTypes, rfb.KindSecurity, rfb.KindAuth, rfb.KindSecurityResult,
	rfb.KindEncrypted, rfb.KindClientInit, rfb.KindServerInit,
	rfb.KindSetPixelFormat, rfb.KindSetEncodings, rfb.KindUpdateRequest, rfb.KindKey, rfb.KindPointer,
	rfb.KindClientCutText, rfb.KindContinuousUpdates, rfb.KindSetDesktopSize, rfb.KindAudio,
	rfb.KindUpdate, rfb.KindResize, rfb.KindDesktopName, rfb.KindLEDState, rfb.KindColourMap, rfb.KindBell,
	rfb.KindServerCutText, rfb.KindEndOfContinuousUpdates,
	rfb.KindFence, rfb.KindXVP, rfb.KindGII, rfb.KindStop,
}

// kindList is rfbKinds for the help, wrapped.
func kindList() string {
	names := make([]string, len(rfbKinds))
	for i, k := range rfbKinds {
		names[i] = string(k)
	}
	return wrapList(names, 2, 76)
}

// Kinds of events the timeline leaves out without --all or --kind: the
// handshake's, which the session part shows, and routine ones.
var (
	handshakeKinds = []rfb.Kind{rfb.KindVersion, rfb.KindSecurityTypes, rfb.KindSecurity, rfb.KindAuth,
		rfb.KindSecurityResult, rfb.KindClientInit, rfb.KindServerInit}
	routineKinds = []rfb.Kind{rfb.KindUpdateRequest, rfb.KindFence, rfb.KindContinuousUpdates, rfb.KindEndOfContinuousUpdates}
)

func (c *rfbCmd) Validate() error {
	if err := checkRange(c.From, c.To); err != nil {
		return err
	}
	if len(c.Kind) > 0 && c.All {
		return errors.New("give --kind or --all, not both")
	}
	c.kinds = make(map[rfb.Kind]bool)
	for _, k := range c.Kind {
		if !slices.Contains(rfbKinds, rfb.Kind(k)) {
			return fmt.Errorf("--kind %q: not a kind of event (\"wsrecord-inspect rfb --help\" lists them)", k)
		}
		c.kinds[rfb.Kind(k)] = true
	}
	return nil
}

func (c *rfbCmd) Run(ctx context.Context, kctx *kong.Context) error {
	r, err := c.read.open(c.File)
	if err != nil {
		return err
	}
	defer r.Close()
	if !isTerminal(kctx.Stdout) {
		r.progress(kctx.Stderr)
	}
	out := bufio.NewWriterSize(kctx.Stdout, 64<<10)
	defer out.Flush()
	p := &timeline{cmd: c, w: out, hidden: make(map[rfb.Kind]int)}
	if c.JSON {
		p.enc = json.NewEncoder(out)
		p.enc.SetEscapeHTML(false)
	}
	var werr error // the first error writing stdout
	ses, err := decodeSession(ctx, r, c.To, kctx.Stderr, func(e rfb.Event, ses func() rfb.Session) {
		if werr == nil {
			werr = p.add(e, ses)
		}
	})
	if werr == nil {
		werr = p.end(ses)
	}
	if err == nil {
		err = werr
	}
	return err
}

// decodeSession decodes the recording r with rfbfile.Decode, up to the
// record at or after to (0: to its end), and calls emit with each event.
// It warns on stderr where decoding stops, and where the recording ends
// early but cleanly, and notes where the session is encrypted. It returns
// the session as the handshake established it and the command's error:
// that of reading r (exit status 5 for damage, after the events before
// it), or one matching errNotRFB.
func decodeSession(ctx context.Context, r *recording, to time.Duration, stderr io.Writer, emit func(rfb.Event, func() rfb.Session)) (rfb.Session, error) {
	opts := rfbfile.Options{To: to, OnIncomplete: func(inc *recfile.IncompleteError) { r.end(inc, stderr) }}
	res, err := rfbfile.Decode(ctx, r.File, opts, func(e rfb.Event, ses func() rfb.Session) {
		switch e.Kind {
		case rfb.KindEncrypted:
			notef(stderr, "%s: at %.3fs: %s", r.name, e.Time.Seconds(), e.Text)
		case rfb.KindStop:
			warnf(stderr, "%s: at %.3fs: %s", r.name, e.Time.Seconds(), e.Text)
		}
		emit(e, ses)
	})
	r.doneReading()
	if nr, ok := errors.AsType[*rfbfile.NotRFBError](err); ok {
		return res.Session, fmt.Errorf("%s: %w: %s", r.name, errNotRFB, nr.Reason)
	}
	switch {
	case err == nil, ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return res.Session, err
	case errors.Is(err, rfb.ErrDirection):
		return res.Session, fmt.Errorf("%s: %w", r.name, err)
	}
	return res.Session, readError(r.name, err)
}

// errNotRFB says that a recording is not of an RFB session, or not from
// its start.
var errNotRFB = errors.New("not an RFB session")

// timeline prints an RFB session for rfb: the session part once the
// handshake is over, then the events that the flags select.
type timeline struct {
	cmd *rfbCmd
	w   *bufio.Writer
	enc *json.Encoder // nil for human output

	started bool        // the session part is out
	held    []rfb.Event // events before it
	sawInit bool        // held has the ServerInit
	motion  []rfb.Event // a run of pointer motion not yet printed
	hidden  map[rfb.Kind]int
	shown   int
}

// maxHeld bounds the events held back until the handshake is over, for a
// session whose client never says more than its encodings.
const maxHeld = 64

// add takes the next event of the session.
func (p *timeline) add(e rfb.Event, ses func() rfb.Session) error {
	if !p.started {
		p.held = append(p.held, e)
		p.sawInit = p.sawInit || e.Kind == rfb.KindServerInit
		if !p.handshakeOver(e) && len(p.held) < maxHeld {
			return nil
		}
		if err := p.start(ses()); err != nil {
			return err
		}
		held := p.held
		p.held = nil
		for i, e := range held {
			if err := p.event(e, i < len(held)-1); err != nil {
				return err
			}
		}
		return nil
	}
	return p.event(e, false)
}

// handshakeOver reports whether e, an event that the timeline holds back,
// is the first one after the handshake and the client's setup: a message
// of the client after its ServerInit other than SetPixelFormat and
// SetEncodings, or the end of decoding.
func (p *timeline) handshakeOver(e rfb.Event) bool {
	switch e.Kind {
	case rfb.KindEncrypted, rfb.KindStop:
		return true
	case rfb.KindSetPixelFormat, rfb.KindSetEncodings, rfb.KindClientInit:
		return false
	}
	return p.sawInit && e.Dir == format.ClientToTarget && !slices.Contains(handshakeKinds, e.Kind)
}

// start prints the session part, and the head of the timeline.
func (p *timeline) start(ses rfb.Session) error {
	p.started = true
	if p.enc != nil {
		return p.enc.Encode(struct {
			Kind string `json:"kind"`
			rfb.Session
		}{"session", ses})
	}
	var offers, choices []string
	for _, e := range p.held {
		switch e.Kind {
		case rfb.KindSecurityTypes:
			offers = append(offers, strings.TrimPrefix(e.Summary(), string(e.Kind)+" "))
		case rfb.KindSecurity:
			choices = append(choices, strings.TrimPrefix(e.Summary(), string(e.Kind)+" "))
		}
	}
	field := func(name, value string) {
		if value == "" {
			value = "-"
		}
		fmt.Fprintf(p.w, "%-15s%s\n", name, value)
	}
	version := ses.ServerVersion
	if ses.ClientVersion != ses.ServerVersion {
		version = fmt.Sprintf("server %s, client %s", or(ses.ServerVersion, "-"), or(ses.ClientVersion, "-"))
	}
	field("protocol", "RFB "+version)
	field("offered", strings.Join(offers, "; "))
	field("security", strings.Join(choices, "; "))
	auth := ses.Auth
	switch ses.Auth {
	case "none":
		auth = "none (no result in this protocol version)"
	case "failed":
		if ses.AuthReason != "" {
			auth += ": " + strconv.Quote(ses.AuthReason)
		}
	case "":
		if ses.Encrypted {
			auth = "unknown: encrypted"
		}
	}
	if ses.User != "" {
		auth += ", user " + strconv.Quote(ses.User)
	}
	field("authentication", auth)
	if p.sawInit {
		share := "exclusive"
		if ses.Shared {
			share = "shared"
		}
		field("desktop", fmt.Sprintf("%q, %dx%d, %s", ses.Name, ses.Width, ses.Height, share))
	} else {
		field("desktop", "")
	}
	if ses.PixelFormat != nil {
		field("pixel format", ses.PixelFormat.String())
	} else {
		field("pixel format", "")
	}
	if ses.ClientPixelFormat != nil {
		field("client format", ses.ClientPixelFormat.String())
	}
	var encs []string
	for _, e := range ses.Encodings {
		encs = append(encs, e.String())
	}
	field("encodings", wrapList(encs, 15, 79))
	_, err := fmt.Fprintf(p.w, "\n%9s  %-6s  %s\n", "TIME", "FROM", "EVENT")
	return err
}

// wrapList joins items with commas into lines of at most width columns
// (unless an item is longer), the lines after the first indented by
// indent spaces, which the first line starts after.
func wrapList(items []string, indent, width int) string {
	var b strings.Builder
	col := indent
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		switch {
		case i == 0:
		case col+1+len(it) > width:
			b.WriteString("\n" + strings.Repeat(" ", indent))
			col = indent
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(it)
		col += len(it)
	}
	return b.String()
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// selected reports whether the flags --kind and --all show e. held says
// the event came before the end of the handshake, which the session part
// shows.
func (p *timeline) selected(e rfb.Event, held bool) bool {
	c := p.cmd
	switch {
	case len(c.kinds) > 0:
		return c.kinds[e.Kind]
	case c.All:
		return true
	case slices.Contains(handshakeKinds, e.Kind) || slices.Contains(routineKinds, e.Kind):
		return false
	case held && (e.Kind == rfb.KindSetPixelFormat || e.Kind == rfb.KindSetEncodings):
		return false
	}
	return true
}

// event prints e if the flags select it.
func (p *timeline) event(e rfb.Event, held bool) error {
	if e.Time < p.cmd.From || p.cmd.To > 0 && e.Time >= p.cmd.To {
		return nil
	}
	if !p.selected(e, held) {
		if len(p.cmd.kinds) == 0 && !p.cmd.All {
			p.hidden[e.Kind]++
		}
		return nil
	}
	p.shown++
	if p.enc != nil {
		return p.enc.Encode(e)
	}
	if isMotion(e) && !p.cmd.All {
		p.motion = append(p.motion, e)
		return nil
	}
	if err := p.flushMotion(); err != nil {
		return err
	}
	return p.line(e, e.Summary())
}

// isMotion reports whether e is a pointer event that moves the pointer
// without pressing or releasing a button.
func isMotion(e rfb.Event) bool {
	return e.Kind == rfb.KindPointer && e.Pressed == 0 && e.Released == 0
}

// flushMotion prints the run of pointer motion held, as one line.
func (p *timeline) flushMotion() error {
	run := p.motion
	p.motion = p.motion[:0]
	switch len(run) {
	case 0:
		return nil
	case 1:
		return p.line(run[0], run[0].Summary())
	}
	first, last := run[0], run[len(run)-1]
	s := fmt.Sprintf("pointer moved %d times from %d,%d to %d,%d", len(run), first.X, first.Y, last.X, last.Y)
	if first.Buttons != 0 {
		s += " holding " + first.Buttons.String()
	}
	return p.line(first, s+fmt.Sprintf(", until %.3fs", last.Time.Seconds()))
}

func (p *timeline) line(e rfb.Event, s string) error {
	from := "client"
	if e.Dir == format.TargetToClient {
		from = "server"
	}
	_, err := fmt.Fprintf(p.w, "%8.3fs  %-6s  %s\n", e.Time.Seconds(), from, s)
	return err
}

// end prints what is held and the count of what was left out.
func (p *timeline) end(ses rfb.Session) error {
	if !p.started && len(p.held) > 0 {
		if err := p.start(ses); err != nil {
			return err
		}
		held := p.held
		p.held = nil
		for _, e := range held {
			if err := p.event(e, true); err != nil {
				return err
			}
		}
	}
	if !p.started || p.enc != nil {
		return nil
	}
	if err := p.flushMotion(); err != nil {
		return err
	}
	if p.shown == 0 {
		fmt.Fprintln(p.w, "(no events)")
	}
	if len(p.hidden) > 0 {
		var parts []string
		for _, k := range rfbKinds {
			if n := p.hidden[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, k))
			}
		}
		fmt.Fprintf(p.w, "(not shown: %s; --all shows every event)\n", strings.Join(parts, ", "))
	}
	return nil
}

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/listen"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/regfile"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
)

// recordFlags are the recording options, embedded in rootCmd.
type recordFlags struct {
	Record        string        `env:"WSPROXY_RECORD" type:"path" placeholder:"FILE" group:"Recording" help:"Record each session to FILE.1, FILE.2, … as websockify does, but never overwriting a file that exists (in the format of --record-format)."`
	RecordDir     string        `env:"WSPROXY_RECORD_DIR" type:"path" placeholder:"DIR" group:"Recording" help:"Record each session to a file in DIR (created as needed), named by --record-name."`
	RecordName    string        `env:"WSPROXY_RECORD_NAME" placeholder:"TEMPLATE" group:"Recording" help:"File name template under --record-dir, with {start} {date} {session} {client} {token} {target} {user}; may contain /. Default: {start}_{session}.wsrec (.txt for the websockify format)."`
	RecordFormat  string        `env:"WSPROXY_RECORD_FORMAT" default:"wsrec" enum:"wsrec,websockify" group:"Recording" help:"wsrec (compressed, timestamped, tamper-evident; see format/SPEC.md) or websockify (websockify's text format, for noVNC's playback page)."`
	RecordMode    string        `env:"WSPROXY_RECORD_MODE" default:"0600" placeholder:"MODE" group:"Recording" help:"Permissions of recording files, in octal. Default: 0600."`
	RecordFlush   time.Duration `env:"WSPROXY_RECORD_FLUSH" default:"1s" placeholder:"DURATION" group:"Recording" help:"Longest time a recorded message stays in memory before it is written; a SIGKILL loses at most this much. Default: 1s."`
	RecordSignKey string        `env:"WSPROXY_RECORD_SIGN_KEY" type:"path" placeholder:"FILE" group:"Recording" help:"Sign each recording's seal with this Ed25519 private key (PEM, PKCS #8: openssl genpkey -algorithm ed25519)."`
	RecordMaxSize string        `env:"WSPROXY_RECORD_MAX_SIZE" placeholder:"SIZE" group:"Recording" help:"Continue a session's recording in a new part (NAME.part1.wsrec, …) when its file reaches SIZE bytes (suffixes K, M, G: powers of 1024). Default: no limit."`
	RecordLevel   string        `env:"WSPROXY_RECORD_LEVEL" default:"fastest" enum:"fastest,default,better,best" group:"Recording" help:"zstd level of wsrec recordings: fastest (the default: half the CPU of zstd's default level, files a few percent larger), default, better or best."`
	RecordPolicy  string        `env:"WSPROXY_RECORD_POLICY" default:"strict" enum:"strict,best-effort" group:"Recording" help:"When a recording cannot be written: strict closes the session (status 1011) so no traffic passes unrecorded; best-effort keeps it and marks the gap in the recording."`

	RecordRecipient  []string `env:"WSPROXY_RECORD_RECIPIENT" placeholder:"KEY|FILE" group:"Recording" help:"Encrypt each recording to this age recipient (age1…), or to those listed in FILE (one a line, as age-keygen -y prints them); repeatable, comma-separated in the environment. Only their identities read the recordings; anyone can still verify them. Rotating keys needs only a new list."`
	RecordPublicMeta []string `env:"WSPROXY_RECORD_PUBLIC_META" placeholder:"KEY,..." group:"Recording" help:"Metadata keys an encrypted recording keeps readable without an identity. Default: listen,program,hostname,subprotocol,tls.version,tls.cipher,source (client, user, token, target and the rest are encrypted); give none to encrypt them all."`
}

// enabled reports whether sessions are recorded.
func (f *recordFlags) enabled() bool { return f.Record != "" || f.RecordDir != "" }

// recordLevels maps --record-level to zstd's levels.
var recordLevels = map[string]zstd.EncoderLevel{
	"fastest": zstd.SpeedFastest, "default": zstd.SpeedDefault,
	"better": zstd.SpeedBetterCompression, "best": zstd.SpeedBestCompression,
}

// validate checks the recording flags on their own.
func (f *recordFlags) validate() error {
	if f.Record != "" && f.RecordDir != "" {
		return errors.New("give --record or --record-dir, not both")
	}
	if !f.enabled() {
		for name, set := range map[string]bool{
			"--record-name": f.RecordName != "", "--record-sign-key": f.RecordSignKey != "", "--record-max-size": f.RecordMaxSize != "",
		} {
			if set {
				return fmt.Errorf("%s needs --record or --record-dir", name)
			}
		}
	}
	if f.RecordName != "" && f.RecordDir == "" {
		return errors.New("--record-name needs --record-dir")
	}
	if _, err := listen.ParseMode(f.RecordMode); err != nil {
		return fmt.Errorf("--record-mode: %w", err)
	}
	if f.RecordFormat == "websockify" && (f.RecordSignKey != "" || f.RecordMaxSize != "") {
		return errors.New("--record-sign-key and --record-max-size need --record-format wsrec: websockify's format has no seal and no parts")
	}
	if len(f.RecordRecipient) == 0 && f.RecordPublicMeta != nil {
		return errors.New("--record-public-meta needs --record-recipient")
	}
	if len(f.RecordRecipient) > 0 {
		switch {
		case !f.enabled():
			return errors.New("--record-recipient needs --record or --record-dir")
		case f.RecordFormat == "websockify":
			return errors.New("--record-recipient needs --record-format wsrec: websockify's format cannot be encrypted")
		}
	}
	if _, err := parseSize(f.RecordMaxSize); err != nil {
		return fmt.Errorf("--record-max-size: %w", err)
	}
	if f.RecordFlush <= 0 {
		return fmt.Errorf("--record-flush %v: must be positive", f.RecordFlush)
	}
	return nil
}

// recorder returns the recorder the flags describe, or nil when sessions
// are not recorded.
func (f *recordFlags) recorder(log *slog.Logger) (*record.Recorder, error) {
	if !f.enabled() {
		return nil, nil
	}
	mode, _ := listen.ParseMode(f.RecordMode)
	size, _ := parseSize(f.RecordMaxSize)
	opts := record.Options{
		Dir: f.RecordDir, Name: f.RecordName, File: f.Record,
		Format: record.Format(f.RecordFormat), Mode: mode, FlushInterval: f.RecordFlush,
		MaxSize: size, Policy: record.Policy(f.RecordPolicy), Logger: log,
	}
	opts.Level = recordLevels[f.RecordLevel]
	if f.RecordSignKey != "" {
		key, err := cli.ReadSigningKey(f.RecordSignKey)
		if err != nil {
			return nil, &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--record-sign-key: %w", err)}
		}
		opts.SignKey = key
	}
	if len(f.RecordRecipient) > 0 {
		rs, err := format.ParseRecipients(f.RecordRecipient, regfile.ReadFile)
		if err != nil {
			return nil, &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--record-recipient: %w", err)}
		}
		opts.Recipients = rs
		opts.PublicMeta = publicMeta(f.RecordPublicMeta)
	}
	rec, err := record.New(opts)
	if err != nil {
		return nil, &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	return rec, nil
}

// publicMeta turns --record-public-meta into record.Options.PublicMeta:
// not given (nil) means the default; given empty, no key.
func publicMeta(keys []string) []string {
	if keys == nil {
		return nil
	}
	out := []string{}
	for _, k := range keys {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// parseSize parses "" (0), a number of bytes, or one with a K, M or G
// suffix (powers of 1024, an optional trailing B or iB).
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 512M", s)
	}
	return v * mult, nil
}

// newTap returns the proxy's tap factory for rec.
func newTap(rec *record.Recorder) func(context.Context, *proxy.SessionInfo) (proxy.Tap, error) {
	hostname, _ := os.Hostname()
	program := cli.Version("wsproxy")
	return func(_ context.Context, info *proxy.SessionInfo) (proxy.Tap, error) {
		s, err := rec.Start(sessionHeader(info, program, hostname))
		if err != nil {
			return nil, err
		}
		return &tap{s: s}, nil
	}
}

// sessionHeader is the recording header for a proxied session.
func sessionHeader(info *proxy.SessionInfo, program, hostname string) format.Header {
	meta := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			meta[k] = v
		}
	}
	if info.LocalAddr != nil {
		set(format.MetaListen, info.LocalAddr.String())
	}
	client := ""
	if info.RemoteAddr != nil {
		client = info.RemoteAddr.String()
	}
	set(format.MetaClient, client)
	if info.ClientAddr != client {
		set(format.MetaRealClient, info.ClientAddr)
	}
	set(format.MetaTarget, info.Target)
	set(format.MetaToken, info.Token)
	set(format.MetaUser, info.User)
	if t := info.TLS; t != nil {
		set(format.MetaTLSVersion, tls.VersionName(t.Version))
		set(format.MetaTLSCipher, tls.CipherSuiteName(t.CipherSuite))
		set(format.MetaTLSClientSubject, t.ClientSubject)
	}
	set(format.MetaSubprotocol, info.Subprotocol)
	set(format.MetaOrigin, info.Origin)
	set(format.MetaUserAgent, info.UserAgent)
	set(format.MetaPath, info.Path)
	set(format.MetaProgram, program)
	set(format.MetaHostname, hostname)
	return format.Header{SessionID: format.SessionID(info.ID), Start: info.Start, Meta: meta}
}

// teeTaps returns a tap factory that gives each session all the taps of
// factories, or nil when there are none.
func teeTaps(factories []func(context.Context, *proxy.SessionInfo) (proxy.Tap, error)) func(context.Context, *proxy.SessionInfo) (proxy.Tap, error) {
	switch len(factories) {
	case 0:
		return nil
	case 1:
		return factories[0]
	}
	return func(ctx context.Context, info *proxy.SessionInfo) (proxy.Tap, error) {
		var t multiTap
		for _, f := range factories {
			tp, err := f(ctx, info)
			if err != nil {
				t.Close(proxy.CloseInfo{By: proxy.SideProxy, Code: proxy.CloseInternalError, Reason: "Recording unavailable"})
				return nil, err
			}
			t = append(t, tp)
		}
		return t, nil
	}
}

// multiTap shows every frame to each of its taps, in order.
type multiTap []proxy.Tap

func (m multiTap) Frame(dir proxy.Direction, typ proxy.MessageType, at time.Duration, payload []byte) error {
	for _, t := range m {
		if err := t.Frame(dir, typ, at, payload); err != nil {
			return err
		}
	}
	return nil
}

// Delivered tells the taps that want to know (see proxy.DeliveryTap).
func (m multiTap) Delivered() error {
	for _, t := range m {
		if d, ok := t.(proxy.DeliveryTap); ok {
			if err := d.Delivered(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m multiTap) Close(ci proxy.CloseInfo) error {
	var errs []error
	for _, t := range m {
		errs = append(errs, t.Close(ci))
	}
	return errors.Join(errs...)
}

// tap adapts a recording session to the proxy's DeliveryTap. A
// target→client message is recorded once it was written to the client, so
// that the recording lists what the close record's byte count counts
// (format/SPEC.md, "Records"); Frame only checks, before it is sent, that
// the recording has not failed, so that under the strict policy nothing
// is sent once it has. A client→target message is recorded when the proxy
// has it, before it is forwarded.
type tap struct {
	s *record.Session

	// The target→client message shown to Frame and not yet delivered;
	// out is valid until Delivered.
	out    []byte
	outTyp format.MessageType
	outAt  time.Duration
}

func (t *tap) Frame(dir proxy.Direction, typ proxy.MessageType, at time.Duration, payload []byte) error {
	mt := format.Binary
	if typ == proxy.MessageText {
		mt = format.Text
	}
	if dir == proxy.TargetToClient {
		if err := t.s.Err(); err != nil {
			return err
		}
		t.out, t.outTyp, t.outAt = payload, mt, at
		return nil
	}
	return t.s.Frame(format.ClientToTarget, mt, at, payload)
}

func (t *tap) Delivered() error {
	p := t.out
	t.out = nil
	return t.s.Frame(format.TargetToClient, t.outTyp, t.outAt, p)
}

func (t *tap) Close(ci proxy.CloseInfo) error {
	t.out = nil // never sent: not recorded
	by := format.ClosedByUnknown
	switch ci.By {
	case proxy.SideClient:
		by = format.ClosedByClient
	case proxy.SideTarget:
		by = format.ClosedByTarget
	case proxy.SideProxy:
		by = format.ClosedByProxy
	}
	return t.s.Close(ci.Duration, format.CloseInfo{
		By: by, Code: uint16(ci.Code), Reason: ci.Reason,
		ClientBytes: uint64(ci.ToTarget), TargetBytes: uint64(ci.ToClient),
	})
}

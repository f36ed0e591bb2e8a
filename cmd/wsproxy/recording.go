package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/listen"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/regfile"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
	"github.com/wsproxy/wsproxy/record/proxytap"
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

	// spool is told of the recording files: the uploader of
	// --record-upload, set before recorder is called; nil for none.
	spool record.Spool `kong:"-"`
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
	if _, err := cli.ParseSize(f.RecordMaxSize); err != nil {
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
	size, _ := cli.ParseSize(f.RecordMaxSize)
	opts := record.Options{
		Dir: f.RecordDir, Name: f.RecordName, File: f.Record,
		Format: record.Format(f.RecordFormat), Mode: mode, FlushInterval: f.RecordFlush,
		MaxSize: size, Policy: record.Policy(f.RecordPolicy), Logger: log,
		Spool: f.spool,
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

// newRecordingTap returns the proxy's tap factory that records each
// session with rec, as this program and host.
func newRecordingTap(rec *record.Recorder) func(context.Context, *proxy.SessionInfo) (proxy.Tap, error) {
	hostname, _ := os.Hostname()
	return proxytap.New(rec, proxytap.Options{Program: cli.Version("wsproxy"), Hostname: hostname})
}

package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/websockify"
)

type convertCmd struct {
	read *readFlags // the root's, set by runEnv

	In      string   `arg:"" help:"The recording to convert (wsrec or websockify)."`
	Output  string   `short:"o" required:"" help:"The file to write, or - for stdout." placeholder:"OUT"`
	To      string   `enum:",wsrec,websockify,jsonl" default:"" help:"Output format: wsrec, websockify or jsonl. Default: wsrec for an OUT ending in .wsrec, jsonl for .jsonl." placeholder:"FORMAT"`
	Force   bool     `help:"Replace OUT if it exists."`
	SignKey string   `help:"Sign a wsrec output with the Ed25519 private key in this PEM file (PKCS #8, as openssl genpkey -algorithm ed25519 writes it)." placeholder:"FILE"`
	Start   wallTime `help:"Wall-clock start of a websockify recording, which records none. Default: the file's modification time less the recording's duration." placeholder:"TIME"`

	env *env `kong:"-"`
}

func (c *convertCmd) Help() string {
	return `Formats:

  wsrec       wsproxy's recording format: a sealed recording, signed with
              --sign-key. Its header's "source" metadata says what it was
              made from and when. From websockify: each frame becomes a
              binary message at its millisecond; a frame stamped before the
              previous one (websockify's clock went back) is kept at the
              previous time, after a marker saying so. From wsrec: the same
              records, header and metadata, under a new hash chain, in
              the current format version: a version 1 recording comes out
              as version 2. An encrypted recording needs --identity and
              comes out in the clear.
  websockify  websockify's --record format, as websockify 0.10 and later
              write it and noVNC's playback page reads it: the messages only,
              in whole milliseconds, text messages as their bytes; the times
              markers say websockify stamped are written back, so that
              websockify → wsrec → websockify gives the same file.
  jsonl       JSON lines: a header object ("kind":"header"), then one object
              per record, payloads in base64 ("data").

OUT is written to a temporary file beside it and renamed into place once
complete, so that a failure leaves nothing behind; an existing OUT is only
replaced with --force. A recording that ends early is converted up to its
end, with a warning (and exit status 5 if bytes were lost there); a damaged
one is not converted.`
}

func (c *convertCmd) Validate() error {
	if c.To == "" {
		switch strings.ToLower(filepath.Ext(c.Output)) {
		case ".wsrec":
			c.To = "wsrec"
		case ".jsonl":
			c.To = "jsonl"
		default:
			return fmt.Errorf("cannot tell the output format from the name %q: give --to", c.Output)
		}
	}
	if c.SignKey != "" && c.To != "wsrec" {
		return errors.New("--sign-key is for a wsrec output")
	}
	return nil
}

func (c *convertCmd) Run(ctx context.Context, kctx *kong.Context) error {
	key, r, err := openRewrite(c.read, c.In, c.SignKey, c.Start, kctx.Stderr)
	if err != nil {
		return err
	}
	defer r.Close()
	var h format.Header
	if c.To == "wsrec" {
		if h, err = c.header(r); err != nil {
			return err
		}
	}
	out, err := createOutput(c.Output, c.Force, 0o600, kctx.Stdout)
	if err != nil {
		return err
	}
	defer out.abort()
	var (
		end  *recfile.IncompleteError
		note string
	)
	switch c.To {
	case "wsrec":
		var st recfile.ImportStats
		st, err = writeWSRec(ctx, out, h, key, nil, r)
		end = st.Incomplete
		if st.Clamped > 0 {
			note = plural(st.Clamped, "frame") + " stamped before the previous one: each is kept at the previous time, after a marker saying so"
		}
	case "websockify":
		w := websockify.NewWriter(out)
		var st recfile.ExportStats
		if st, err = recfile.Export(ctx, w, r); err == nil {
			err = w.Close()
		}
		end = st.Incomplete
		if st.Skipped > 0 {
			note = "left out " + plural(st.Skipped, "record") + " that websockify's format cannot hold (open, close, markers, gaps)"
		}
	case "jsonl":
		end, err = writeJSONL(ctx, out, r)
	}
	r.doneReading()
	if err != nil {
		return convertError(c.In, err)
	}
	if note != "" {
		notef(kctx.Stderr, "%s: %s", c.In, note)
	}
	if err := out.commit(); err != nil {
		return err
	}
	return endOfSource(c.In, c.Output, end, kctx.Stderr)
}

// convertError is the command's error for err, which ended a conversion:
// of reading the source (named in), or of writing.
func convertError(in string, err error) error {
	if isDamage(err) {
		return readError(in, fmt.Errorf("%w; nothing written", err))
	}
	return err
}

// endOfSource reports a source that ended early: a warning if it ended
// cleanly, exit status 5 if bytes were lost there.
func endOfSource(in, out string, end *recfile.IncompleteError, stderr io.Writer) error {
	switch {
	case end == nil:
		return nil
	case end.Lost == 0:
		warnf(stderr, "%s: %v", in, end)
		return nil
	}
	return readError(in, fmt.Errorf("%w; %s holds everything before it", end, out))
}

// header returns the header of the wsrec copy of r, with its source
// metadata.
func (c *convertCmd) header(r *recording) (format.Header, error) {
	now := c.env.now().UTC().Format(time.RFC3339)
	if r.Format() == recfile.WSRec {
		h := r.Header()
		h.Meta = withSource(h.Meta, fmt.Sprintf("wsrec recording %q (session %s, part %d), rewritten by wsrecord-inspect at %s", filepath.Base(c.In), h.SessionID, h.Part, now))
		return h, nil
	}
	start, how, err := sourceStart(r, c.Start)
	if err != nil {
		return format.Header{}, err
	}
	return format.Header{Start: start, Meta: map[string]string{
		format.MetaSource: fmt.Sprintf("websockify recording %q, imported by wsrecord-inspect at %s; start %s", filepath.Base(c.In), now, how),
	}}, nil
}

// withSource returns a copy of meta whose source is src, followed by the
// source meta had.
func withSource(meta map[string]string, src string) map[string]string {
	m := maps.Clone(meta)
	if m == nil {
		m = map[string]string{}
	}
	if old := m[format.MetaSource]; old != "" {
		src += "; before that: " + old
	}
	m[format.MetaSource] = src
	return m
}

// openRewrite opens the input of a command that writes a new recording
// from it (convert, cut), with a progress bar on stderr, and reads the
// signing key of its --sign-key (nil when signKey is empty). start, the
// input's --start, is refused for a wsrec input, which records its own.
func openRewrite(read *readFlags, name, signKey string, start wallTime, stderr io.Writer) (ed25519.PrivateKey, *recording, error) {
	var key ed25519.PrivateKey
	if signKey != "" {
		k, err := cli.ReadSigningKey(signKey)
		if err != nil {
			return nil, nil, cli.Usagef("--sign-key: %w", err)
		}
		key = k
	}
	r, err := read.open(name)
	if err != nil {
		return nil, nil, err
	}
	if !start.IsZero() && r.Format() != recfile.Websockify {
		r.Close()
		return nil, nil, cli.Usagef("--start is for a websockify recording: %s records its start", name)
	}
	r.progress(stderr)
	return key, r, nil
}

// sourceStart returns the wall-clock start for a wsrec copy of a recording
// without one (websockify): start if given, else the file's modification
// time less the recording's duration, which takes reading it through. It
// says how it found it, for the source metadata. r is left at its start.
func sourceStart(r *recording, start wallTime) (time.Time, string, error) {
	if !start.IsZero() {
		return start.Time, "given on the command line", nil
	}
	if r.osf == nil {
		return time.Time{}, "", fmt.Errorf("%s: give --start: a stored object's modification time is not its recording's", r.name)
	}
	fi, err := r.osf.Stat()
	if err != nil {
		return time.Time{}, "", err
	}
	var last time.Duration
	for {
		rec, err := r.Next()
		if err == io.EOF || errors.Is(err, recfile.ErrIncomplete) {
			break
		}
		if err != nil {
			return time.Time{}, "", readError(r.name, fmt.Errorf("%w; nothing written", err))
		}
		last = rec.Time
	}
	if err := r.Seek(0); err != nil {
		return time.Time{}, "", readError(r.name, err)
	}
	return fi.ModTime().Add(-last).UTC(), "estimated from the file's modification time", nil
}

// writeWSRec writes a sealed recording with header h to out: first, if not
// nil, the record first, then the records of src.
func writeWSRec(ctx context.Context, out io.Writer, h format.Header, key ed25519.PrivateKey, first *format.Record, src recfile.Source) (recfile.ImportStats, error) {
	w, err := format.NewWriter(out, h, format.WriterOptions{FlushInterval: -1, SignKey: key})
	if err != nil {
		return recfile.ImportStats{}, err
	}
	defer w.Close()
	if first != nil {
		if err := w.Write(*first); err != nil {
			return recfile.ImportStats{}, err
		}
	}
	st, err := recfile.Import(ctx, w, src)
	if err != nil {
		return st, err
	}
	return st, w.Close()
}

// jsonHeader is the first line of convert --to jsonl.
type jsonHeader struct {
	Kind      string            `json:"kind"` // "header"
	Format    string            `json:"format"`
	SessionID string            `json:"session_id,omitempty"`
	Start     *time.Time        `json:"start,omitempty"`
	Part      uint32            `json:"part"`
	PrevChain string            `json:"prev_chain,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
}

// writeJSONL writes r as JSON lines.
func writeJSONL(ctx context.Context, out io.Writer, r *recording) (*recfile.IncompleteError, error) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	jh := jsonHeader{Kind: "header", Format: r.Format().String()}
	if r.Format() == recfile.WSRec {
		h := r.Header()
		jh.SessionID, jh.Start, jh.Part, jh.Meta = h.SessionID.String(), &h.Start, h.Part, h.Meta
		if h.PrevChain != (format.Hash{}) {
			jh.PrevChain = hex.EncodeToString(h.PrevChain[:])
		}
	}
	if err := enc.Encode(jh); err != nil {
		return nil, err
	}
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rec, err := r.Next()
		if err == io.EOF {
			return nil, nil
		}
		if inc, ok := errors.AsType[*recfile.IncompleteError](err); ok {
			return inc, nil
		}
		if err != nil {
			return nil, err
		}
		j := newRecordJSON(&rec)
		j.Data = rec.Payload
		if err := enc.Encode(j); err != nil {
			return nil, err
		}
	}
}

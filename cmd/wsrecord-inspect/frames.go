package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/format"
)

type framesCmd struct {
	read *readFlags // the root's, set by runEnv

	File      string `arg:"" help:"The recording (wsrec or websockify)."`
	selection `embed:""`
	Hex       bool `help:"Print each message's payload in full, as a hex dump (in JSON, as a hex string)."`
	JSON      bool `name:"json" help:"Print JSON lines, one object per record."`
}

func (c *framesCmd) Help() string {
	return `One line per record: its number in the file (from 0), its time in seconds
from the session start, who sent it (client or target, for messages), its type
(binary or text for messages, else the kind of record: open, close, marker,
gap), the message's size in bytes, and a preview: the first bytes as ASCII,
others shown as '.'; for other records what they hold.

With --from, a wsrec recording is read from its index entry for that time, so
the records before are not counted: numbers are then "+N", counted from the
first record at or after --from (in JSON, index_after_seek instead of index).`
}

func (c *framesCmd) Validate() error { return c.selection.validate() }

func (c *framesCmd) Run(ctx context.Context, kctx *kong.Context) error {
	r, err := c.read.open(c.File)
	if err != nil {
		return err
	}
	defer r.Close()
	if !isTerminal(kctx.Stdout) {
		r.progress(kctx.Stderr)
	}
	seeked, err := c.filter.Seek(r.File)
	if err != nil {
		return readError(c.File, err)
	}
	out := bufio.NewWriterSize(kctx.Stdout, 64<<10)
	defer out.Flush()
	p := framePrinter{w: out, hex: c.Hex, seeked: seeked}
	if c.JSON {
		p.enc = json.NewEncoder(out)
		p.enc.SetEscapeHTML(false)
	} else {
		fmt.Fprintf(out, "%7s %12s  %-6s  %-6s %8s  %s\n", "#", "TIME", "FROM", "TYPE", "SIZE", "PREVIEW")
	}
	for n := int64(0); ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := r.Next()
		if err != nil {
			out.Flush()
			return r.end(err, kctx.Stderr)
		}
		if c.filter.Past(&rec) {
			return nil
		}
		if c.filter.Match(&rec) {
			if err := p.print(n, &rec); err != nil {
				return err
			}
		}
	}
}

// framePrinter prints records for frames.
type framePrinter struct {
	w      *bufio.Writer
	enc    *json.Encoder // nil for human output
	hex    bool
	seeked bool // numbers count from a seek, not from the first record
}

func (p *framePrinter) print(n int64, rec *format.Record) error {
	if p.enc != nil {
		j := newRecordJSON(rec)
		if p.seeked {
			j.IndexAfterSeek = &n
		} else {
			j.Index = &n
		}
		if rec.Kind == format.KindMessage {
			j.Preview = preview(rec.Payload)
			if p.hex {
				j.Hex = hex.EncodeToString(rec.Payload)
			}
		}
		return p.enc.Encode(j)
	}
	idx := strconv.FormatInt(n, 10)
	if p.seeked {
		idx = "+" + idx
	}
	from, typ, size, text := "-", rec.Kind.String(), "-", describe(rec)
	if rec.Kind == format.KindMessage {
		from, typ, size, text = rec.Dir.String(), rec.Type.String(), strconv.Itoa(len(rec.Payload)), preview(rec.Payload)
	}
	_, err := fmt.Fprintf(p.w, "%7s %12s  %-6s  %-6s %8s  %s\n", idx, fmtOffset(rec.Time), from, typ, size, text)
	if err == nil && p.hex && rec.Kind == format.KindMessage && len(rec.Payload) > 0 {
		err = writeHexDump(p.w, rec.Payload)
	}
	return err
}

// writeHexDump writes p as hexdump -C does, indented.
func writeHexDump(w io.Writer, p []byte) error {
	var b strings.Builder
	d := hex.Dumper(&b)
	d.Write(p)
	d.Close()
	for line := range strings.Lines(b.String()) {
		if _, err := io.WriteString(w, "        "+line); err != nil {
			return err
		}
	}
	return nil
}

// recordJSON is a record in JSON, for frames --json and convert --to jsonl.
type recordJSON struct {
	Index          *int64     `json:"index,omitempty"`
	IndexAfterSeek *int64     `json:"index_after_seek,omitempty"`
	TimeNS         int64      `json:"time_ns"`
	Kind           string     `json:"kind"`
	From           string     `json:"from,omitempty"`
	Type           string     `json:"type,omitempty"`
	Size           *int       `json:"size,omitempty"`
	Preview        string     `json:"preview,omitempty"`
	Hex            string     `json:"hex,omitempty"`
	Data           []byte     `json:"data,omitempty"` // base64
	Label          string     `json:"label,omitempty"`
	Close          *closeJSON `json:"close,omitempty"`
	Gap            *gapJSON   `json:"gap,omitempty"`
}

type closeJSON struct {
	By          string `json:"by"`
	Code        uint16 `json:"code"`
	Reason      string `json:"reason"`
	ClientBytes uint64 `json:"client_bytes"`
	TargetBytes uint64 `json:"target_bytes"`
}

type gapJSON struct {
	Records uint64 `json:"records"`
	Bytes   uint64 `json:"bytes"`
	Reason  string `json:"reason"`
}

func newRecordJSON(rec *format.Record) *recordJSON {
	j := &recordJSON{TimeNS: int64(rec.Time), Kind: rec.Kind.String()}
	switch rec.Kind {
	case format.KindMessage:
		size := len(rec.Payload)
		j.From, j.Type, j.Size = rec.Dir.String(), rec.Type.String(), &size
	case format.KindMarker:
		j.Label = rec.Label
	case format.KindClose:
		c := &rec.Close
		j.Close = &closeJSON{By: c.By.String(), Code: c.Code, Reason: c.Reason, ClientBytes: c.ClientBytes, TargetBytes: c.TargetBytes}
	case format.KindGap:
		j.Gap = &gapJSON{Records: rec.Gap.Records, Bytes: rec.Gap.Bytes, Reason: rec.Gap.Reason}
	}
	return j
}

package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
)

type infoCmd struct {
	read *readFlags // the root's, set by runEnv

	Paths   []string `arg:"" name:"path" help:"Recordings, or directories to search for recordings (recursively)."`
	JSON    bool     `name:"json" help:"Print JSON lines, one object per recording."`
	Sort    string   `enum:"time,name,duration,size" default:"time" help:"Order of the rows: by start time (unknown last), file name, duration or file size (${enum})."`
	Reverse bool     `help:"Reverse the order."`
	Client  string   `help:"Only recordings whose client or real_client matches PATTERN (* matches any text, ? one character)." placeholder:"PATTERN"`
	Token   string   `help:"Only recordings whose token matches PATTERN." placeholder:"PATTERN"`
	Target  string   `help:"Only recordings whose target matches PATTERN." placeholder:"PATTERN"`
	User    string   `help:"Only recordings whose user matches PATTERN." placeholder:"PATTERN"`
	Since   wallTime `help:"Only recordings that end at or after TIME." placeholder:"TIME"`
	Until   wallTime `help:"Only recordings that start before TIME." placeholder:"TIME"`

	filters []metaFilter `kong:"-"`
}

func (c *infoCmd) Help() string {
	return `For one file, its details: session, start and end, duration, records and
bytes each way, size compressed and uncompressed, whether it is sealed, who
signed it, and its metadata. For several files or a directory (searched
recursively; files that are not recordings, and names starting with ".", are
skipped), one row per recording.

A sealed wsrec recording is summarised from its header and trailer alone,
however large; an unsealed one from its chunk headers. The signature is
reported from the key in the trailer, without checking it: verify does that.
A websockify recording has no index, no start time and no metadata: it is
read in full, and the filters on metadata and time leave it out.`
}

// wallTime is a --since or --until flag.
type wallTime struct{ time.Time }

// UnmarshalText parses RFC 3339, or a date and time without a zone, in
// UTC.
func (w *wallTime) UnmarshalText(b []byte) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, string(b)); err == nil {
			w.Time = t
			return nil
		}
	}
	return fmt.Errorf("time %q: want RFC 3339 (2006-01-02T15:04:05Z07:00), 2006-01-02, 2006-01-02T15:04 or 2006-01-02T15:04:05", b)
}

// metaFilter selects recordings by a pattern on metadata keys.
type metaFilter struct {
	keys []string
	re   *regexp.Regexp
}

// globRegexp compiles a pattern where * matches any text and ? one
// character.
func globRegexp(pattern string) *regexp.Regexp {
	q := regexp.QuoteMeta(pattern)
	q = strings.ReplaceAll(q, `\*`, `.*`)
	q = strings.ReplaceAll(q, `\?`, `.`)
	return regexp.MustCompile(`^(?s:` + q + `)$`)
}

func (c *infoCmd) Validate() error {
	for _, f := range []struct {
		pattern string
		keys    []string
	}{
		{c.Client, []string{format.MetaClient, format.MetaRealClient}},
		{c.Token, []string{format.MetaToken}},
		{c.Target, []string{format.MetaTarget}},
		{c.User, []string{format.MetaUser}},
	} {
		if f.pattern != "" {
			c.filters = append(c.filters, metaFilter{keys: f.keys, re: globRegexp(f.pattern)})
		}
	}
	if !c.Since.IsZero() && !c.Until.IsZero() && !c.Until.After(c.Since.Time) {
		return errors.New("--until must be after --since")
	}
	return nil
}

// infoRow is what info says about one recording.
type infoRow struct {
	File           string            `json:"file"`
	Format         string            `json:"format,omitempty"`
	Version        uint16            `json:"version,omitempty"`
	SessionID      string            `json:"session_id,omitempty"`
	Part           uint32            `json:"part"`
	Start          *time.Time        `json:"start,omitempty"`
	End            *time.Time        `json:"end,omitempty"`
	DurationNS     int64             `json:"duration_ns"`
	Records        uint64            `json:"records"`
	ClientMessages uint64            `json:"client_messages"`
	TargetMessages uint64            `json:"target_messages"`
	ClientBytes    uint64            `json:"client_bytes"`
	TargetBytes    uint64            `json:"target_bytes"`
	Chunks         int               `json:"chunks,omitempty"`
	Size           int64             `json:"size"`
	Uncompressed   int64             `json:"uncompressed,omitempty"`
	Ratio          float64           `json:"ratio,omitempty"`
	Status         recfile.Status    `json:"status"`
	Lost           *lostJSON         `json:"lost,omitempty"`
	Signed         bool              `json:"signed"`
	PublicKey      string            `json:"public_key,omitempty"`
	Clamped        int               `json:"clamped,omitempty"`
	Meta           map[string]string `json:"meta,omitempty"`
	Error          string            `json:"error,omitempty"`

	err error // why Status is truncated, damaged or unreadable
}

func (row *infoRow) duration() time.Duration { return time.Duration(row.DurationNS) }

func (c *infoCmd) Run(ctx context.Context, kctx *kong.Context) error {
	detail := false
	if len(c.Paths) == 1 {
		fi, err := os.Stat(c.Paths[0])
		detail = (err != nil || !fi.IsDir()) && !isPrefix(c.Paths[0])
	}
	var rows []*infoRow
	skipped := 0
	for _, path := range c.Paths {
		err := c.read.forRecordings(ctx, path, func(name string, named bool) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			row, err := summarize(ctx, c.read, name, kctx.Stderr)
			if err != nil {
				return err
			}
			if !named && errors.Is(row.err, recfile.ErrUnknownFormat) {
				skipped++
				return nil
			}
			if c.match(row) {
				rows = append(rows, row)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	c.sortRows(rows)

	out := bufio.NewWriter(kctx.Stdout)
	switch {
	case c.JSON:
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		for _, row := range rows {
			enc.Encode(row)
		}
	case detail:
		if len(rows) == 1 && rows[0].Format != "" { // else the error says it all
			printDetail(out, rows[0])
		}
	default:
		printTable(out, rows)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if skipped > 0 {
		what := "files that are not recordings"
		if skipped == 1 {
			what = "file that is not a recording"
		}
		notef(kctx.Stderr, "skipped %d %s", skipped, what)
	}
	return rowsError(rows, kctx.Stderr)
}

// rowsError reports the rows' errors and returns the command's: exit
// status 4 if a file could not be read, else 5 if one is damaged or cut
// off.
func rowsError(rows []*infoRow, stderr io.Writer) error {
	var errs []error
	code := cli.ExitOK
	for _, row := range rows {
		if row.err == nil {
			continue
		}
		errs = append(errs, unwrapExit(row.err))
		if row.Status == recfile.Unreadable {
			code = exitUnreadable
		} else if code == cli.ExitOK {
			code = exitDamaged
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return &cli.ExitError{Code: code, Err: errs[0]}
	}
	for _, err := range errs {
		fmt.Fprintf(stderr, "wsrecord-inspect: %v\n", err)
	}
	return &cli.ExitError{Code: code, Err: fmt.Errorf("%d of %d recordings could not be read in full", len(errs), len(rows))}
}

// forRecordings calls fn for path, or for each file under it if it is a
// directory (but for names starting with "."), in lexical order. named
// says path is the file itself.
func forRecordings(path string, fn func(name string, named bool) error) error {
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return fn(path, true)
	}
	return filepath.WalkDir(path, func(name string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return fn(name, false) // reported as the file's
		case name != path && strings.HasPrefix(d.Name(), "."):
			if d.IsDir() {
				return filepath.SkipDir
			}
		case d.Type().IsRegular():
			return fn(name, false)
		}
		return nil
	})
}

// summarize reads what info says about one recording: for a wsrec file
// its summary (only the header and trailer when it is sealed), for a
// websockify file all of it. It returns an error only when ctx ends.
func summarize(ctx context.Context, read *readFlags, name string, stderr io.Writer) (*infoRow, error) {
	row := &infoRow{File: name}
	r, err := read.open(name)
	if err != nil {
		row.Status, row.err = recfile.StatusOf(recfile.Unknown, err), err
		row.Error = unwrapExit(err).Error()
		return row, nil
	}
	defer r.Close()
	if r.Format() != recfile.WSRec {
		r.progress(stderr)
	}
	s, err := recfile.Summarize(ctx, r.File, recfile.SummaryOptions{})
	r.doneReading()
	if err != nil {
		return nil, err
	}
	row.Format, row.Size, row.Status = s.Format.String(), s.Size, s.Status
	row.Records, row.DurationNS = s.Records, int64(s.Duration)
	row.ClientMessages, row.TargetMessages, row.ClientBytes, row.TargetBytes = s.ClientMessages, s.TargetMessages, s.ClientBytes, s.TargetBytes
	row.Clamped = s.Clamped
	if s.Format == recfile.WSRec {
		h := s.Header
		start := h.Start
		row.Version, row.SessionID, row.Part, row.Start, row.Meta = h.Version, h.SessionID.String(), h.Part, &start, h.Meta
		if s.Status != recfile.Damaged && s.Status != recfile.Unreadable { // its index was read
			end := start.Add(s.Duration)
			row.End = &end
		}
		row.Chunks, row.Uncompressed = s.Chunks, s.Uncompressed
		if s.Size > 0 {
			row.Ratio = float64(s.Uncompressed) / float64(s.Size)
		}
		row.Signed = s.PublicKey != nil
		if row.Signed {
			row.PublicKey = hex.EncodeToString(s.PublicKey)
		}
	}
	if inc, ok := errors.AsType[*recfile.IncompleteError](s.Err); ok && inc.Lost > 0 {
		row.Lost = &lostJSON{Offset: inc.Offset, Bytes: inc.Lost}
	}
	if !s.Status.Clean() {
		row.err = readError(name, s.Err)
		row.Error = unwrapExit(row.err).Error()
	}
	return row, nil
}

// match applies the filters.
func (c *infoCmd) match(row *infoRow) bool {
	if row.Format == "" {
		return true // it could not be opened: whatever it holds, the reader must hear of it
	}
	if row.Start == nil && (len(c.filters) > 0 || !c.Since.IsZero() || !c.Until.IsZero()) {
		return false
	}
	for _, f := range c.filters {
		if !slices.ContainsFunc(f.keys, func(k string) bool {
			v, ok := row.Meta[k]
			return ok && f.re.MatchString(v)
		}) {
			return false
		}
	}
	if !c.Since.IsZero() && (row.End == nil || row.End.Before(c.Since.Time)) {
		return false
	}
	if !c.Until.IsZero() && !row.Start.Before(c.Until.Time) {
		return false
	}
	return true
}

func (c *infoCmd) sortRows(rows []*infoRow) {
	key := func(a, b *infoRow) int {
		switch c.Sort {
		case "name":
		case "duration":
			return cmp.Compare(a.DurationNS, b.DurationNS)
		case "size":
			return cmp.Compare(a.Size, b.Size)
		default:
			switch {
			case a.Start == nil && b.Start == nil:
			case a.Start == nil:
				return 1
			case b.Start == nil:
				return -1
			default:
				return a.Start.Compare(*b.Start)
			}
		}
		return 0
	}
	slices.SortStableFunc(rows, func(a, b *infoRow) int {
		n := cmp.Or(key(a, b), strings.Compare(a.File, b.File))
		if c.Reverse {
			return -n
		}
		return n
	})
}

func printDetail(w io.Writer, row *infoRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k, f string, args ...any) { fmt.Fprintf(tw, k+"\t"+f+"\n", args...) }
	line("file", "%s", printable(row.File))
	if row.Format == "wsrec" {
		line("format", "wsrec, version %d", row.Version)
		line("session", "%s, part %d", row.SessionID, row.Part)
	} else {
		line("format", "%s (no session ID, start time or metadata)", row.Format)
	}
	if row.Start != nil {
		line("start", "%s", fmtTimeNano(*row.Start))
	}
	if row.End != nil {
		line("end", "%s", fmtTimeNano(*row.End))
	}
	line("duration", "%s", fmtDuration(row.duration()))
	msgs := row.ClientMessages + row.TargetMessages
	line("records", "%d: %s, %d other", row.Records, plural(msgs, "message"), row.Records-msgs)
	line("client→target", "%s, %s", plural(row.ClientMessages, "message"), fmtBytesExact(row.ClientBytes))
	line("target→client", "%s, %s", plural(row.TargetMessages, "message"), fmtBytesExact(row.TargetBytes))
	if row.Format == "wsrec" {
		size := fmt.Sprintf("%s in %s", fmtBytesExact(row.Size), plural(row.Chunks, "chunk"))
		if row.Uncompressed > 0 {
			size += fmt.Sprintf("; %s uncompressed, ratio %.1f", fmtBytes(row.Uncompressed), row.Ratio)
		}
		line("size", "%s", size)
	} else {
		line("size", "%s", fmtBytesExact(row.Size))
	}
	line("status", "%s", statusText(row))
	if row.Format == "wsrec" {
		sig := "unsigned"
		if row.Signed {
			sig = "signed with key " + row.PublicKey + " (not checked here: run verify)"
		}
		line("signature", "%s", sig)
	}
	if row.Clamped > 0 {
		line("clock", "%d frames stamped before the previous one, read at its time after a marker", row.Clamped)
	}
	tw.Flush()
	if len(row.Meta) > 0 {
		fmt.Fprintln(w, "metadata")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, k := range slices.Sorted(maps.Keys(row.Meta)) {
			fmt.Fprintf(tw, "  %s\t%s\n", printable(k), printable(row.Meta[k]))
		}
		tw.Flush()
	}
}

// statusText explains a row's status.
func statusText(row *infoRow) string {
	switch row.Status {
	case recfile.Sealed:
		return "sealed (integrity not checked here: run verify)"
	case recfile.Unsealed:
		return "unsealed: no trailer after the last complete chunk (the writer did not finish)"
	case recfile.Complete:
		return "complete (websockify's format holds nothing to verify)"
	case recfile.Incomplete:
		return "incomplete: no 'EOF'] trailer (websockify did not finish)"
	case recfile.Truncated:
		if row.Lost != nil {
			return fmt.Sprintf("truncated: the %d bytes at offset %d are not a complete chunk or frame", row.Lost.Bytes, row.Lost.Offset)
		}
	}
	return row.Status.String()
}

func printTable(w io.Writer, rows []*infoRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "START (UTC)\tDURATION\tCLIENT\tUSER\tTARGET\tCLIENT→TARGET\tTARGET→CLIENT\tSTATUS\tFILE")
	for _, row := range rows {
		start, dur := "-", "-"
		if row.Start != nil {
			start = fmtTime(*row.Start)
		}
		if row.Status != recfile.Unreadable {
			dur = fmtDuration(row.duration())
		}
		client := cmp.Or(row.Meta[format.MetaRealClient], row.Meta[format.MetaClient], "-")
		status := row.Status.String()
		if row.Signed {
			status += ", signed"
		}
		if row.Format == "websockify" {
			status = "websockify, " + status
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", start, dur, printable(client),
			printable(cmp.Or(row.Meta[format.MetaUser], "-")), printable(cmp.Or(row.Meta[format.MetaTarget], "-")),
			fmtBytes(row.ClientBytes), fmtBytes(row.TargetBytes), status, printable(row.File))
	}
	tw.Flush()
}

// printable returns s, or s quoted if it holds characters that are not
// printable (metadata comes from clients: it must not drive the terminal).
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '\t' {
			return strconv.Quote(s)
		}
	}
	return s
}

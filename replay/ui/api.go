package ui

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/replay"
)

// Page sizes of GET /ui/api/recordings.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Item is a recording as the browser page lists it.
type Item struct {
	replay.Recording
	// Time is when the session started (the file's modification time
	// when the recording does not say).
	Time time.Time `json:"time"`
	// Integrity is "signed", "sealed", "unsealed", "tampered", "damaged"
	// (from format.Reader.Verify for wsrec; from the summary's status
	// for websockify's "complete", "incomplete" and broken files).
	Integrity string `json:"integrity"`
}

// Page is the body of GET /ui/api/recordings.
type Page struct {
	Recordings []Item `json:"recordings"`
	// Total counts the recordings that match the filters.
	Total int `json:"total"`
	// Next is the cursor of the next page; empty on the last.
	Next string `json:"next,omitempty"`
}

// filter is the query of GET /ui/api/recordings.
type filter struct {
	user, client, target, token, text string
	from, to                          time.Time
}

func parseFilter(q map[string][]string) (filter, error) {
	raw := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	get := func(k string) string { return strings.ToLower(raw(k)) }
	f := filter{user: get("user"), client: get("client"), target: get("target"), token: get("token"), text: get("q")}
	for _, t := range []struct {
		key string
		dst *time.Time
	}{{"from", &f.from}, {"to", &f.to}} {
		v := raw(t.key)
		if v == "" {
			continue
		}
		var err error
		if *t.dst, err = parseWhen(v); err != nil {
			return f, fmt.Errorf("%s: %w", t.key, err)
		}
	}
	return f, nil
}

// parseWhen reads a time as RFC 3339, a date-time without zone (UTC) as
// an HTML datetime-local input sends it, or a date.
func parseWhen(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want 2006-01-02, 2006-01-02T15:04 or RFC 3339", s)
}

func contains(have, want string) bool {
	return want == "" || strings.Contains(strings.ToLower(have), want)
}

// match reports whether it passes the metadata and time filters.
func (f filter) match(it *Item) bool {
	m := it.Meta
	return contains(m[format.MetaUser], f.user) &&
		(contains(m[format.MetaClient], f.client) || f.client != "" && contains(m[format.MetaRealClient], f.client)) &&
		contains(m[format.MetaTarget], f.target) &&
		contains(m[format.MetaToken], f.token) &&
		(f.from.IsZero() || !it.Time.Before(f.from)) &&
		(f.to.IsZero() || it.Time.Before(f.to))
}

// cursor is the position after the last item of a page.
type cursor struct {
	T int64  `json:"t"`
	N string `json:"n"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		return c, errors.New("malformed cursor")
	}
	return c, nil
}

// newer orders items newest first, then by name.
func newer(a, b *Item) int {
	if c := b.Time.Compare(a.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// after reports whether it comes after the cursor in that order.
func (c cursor) after(it *Item) bool {
	t := it.Time.UnixNano()
	return t < c.T || t == c.T && it.Name > c.N
}

// list answers GET /ui/api/recordings.
func (h *Handler) list(r *http.Request) (*Page, int, error) {
	q := r.URL.Query()
	f, err := parseFilter(q)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	limit := DefaultLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxLimit {
			return nil, http.StatusBadRequest, fmt.Errorf("limit: want 1 to %d", MaxLimit)
		}
	}
	var cur *cursor
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			return nil, http.StatusBadRequest, err
		}
		cur = &c
	}
	recs, err := h.src.Recordings()
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	items := make([]Item, 0, len(recs))
	for _, rec := range recs {
		it := Item{Recording: rec, Time: rec.Modified}
		if rec.Start != nil {
			it.Time = *rec.Start
		}
		if f.match(&it) {
			items = append(items, it)
		}
	}
	slices.SortFunc(items, func(a, b Item) int { return newer(&a, &b) })
	if f.text != "" {
		// The typed text of each candidate, extracted once per file version.
		kept := items[:0]
		for _, it := range items {
			if err := r.Context().Err(); err != nil {
				return nil, http.StatusServiceUnavailable, err
			}
			d, err := h.details(r.Context(), it.Recording)
			if err == nil && d.matchText(f.text) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	p := &Page{Total: len(items), Recordings: []Item{}}
	start := 0
	if cur != nil {
		start = len(items)
		for i := range items {
			if cur.after(&items[i]) {
				start = i
				break
			}
		}
	}
	end := min(len(items), start+limit)
	for _, it := range items[start:end] {
		it.Integrity = h.integrity(it.Recording)
		p.Recordings = append(p.Recordings, it)
	}
	if end < len(items) {
		last := items[end-1]
		p.Next = cursor{T: last.Time.UnixNano(), N: last.Name}.encode()
	}
	return p, http.StatusOK, nil
}

// serveAPI serves GET /ui/api/NAME.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request, name string) {
	switch name {
	case "recordings":
		p, status, err := h.list(r)
		if err != nil {
			h.fail(w, status, err)
			return
		}
		writeJSON(w, p)
	case "recording":
		rec, err := h.find(r.URL.Query().Get("name"))
		if err != nil {
			h.fail(w, http.StatusNotFound, err)
			return
		}
		d, err := h.details(r.Context(), rec)
		if err != nil {
			h.fail(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, struct {
			Item
			*details
		}{Item{Recording: rec, Integrity: h.integrity(rec)}, d})
	case "thumb":
		h.serveThumb(w, r)
	case "download":
		h.serveDownload(w, r)
	case "video":
		h.serveVideo(w, r)
	case "videostatus":
		h.serveVideoStatus(w, r)
	default:
		http.NotFound(w, r)
	}
}

// find returns the listing of the recording called name.
func (h *Handler) find(name string) (replay.Recording, error) {
	if name == "" {
		return replay.Recording{}, fmt.Errorf("%w: give ?name=", errNoRecording)
	}
	recs, err := h.src.Recordings()
	if err != nil {
		return replay.Recording{}, err
	}
	for _, r := range recs {
		if r.Name == name {
			return r, nil
		}
	}
	return replay.Recording{}, fmt.Errorf("%w: %q", errNoRecording, name)
}

// serveDownload sends the original file.
func (h *Handler) serveDownload(w http.ResponseWriter, r *http.Request) {
	rec, err := h.find(r.URL.Query().Get("name"))
	if err != nil {
		h.fail(w, http.StatusNotFound, err)
		return
	}
	f, osf, err := h.src.Open(rec.Name)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	f.Close()
	defer osf.Close()
	fi, err := osf.Stat()
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	base := rec.Name[strings.LastIndexByte(rec.Name, '/')+1:]
	w.Header().Set("Content-Disposition", "attachment; filename="+strconv.Quote(base))
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", rec.Modified, io.NewSectionReader(osf, 0, fi.Size()))
}

// fail answers an error as JSON {"error": ...}.
func (h *Handler) fail(w http.ResponseWriter, status int, err error) {
	if errors.Is(err, errNoRecording) || errors.Is(err, replay.ErrNotFound) {
		status = http.StatusNotFound
	}
	if status >= 500 && status != http.StatusServiceUnavailable { // 503: busy or gone, not broken
		h.log.Error("ui", "err", err)
	}
	b, _ := json.Marshal(map[string]string{"error": strings.TrimPrefix(err.Error(), "ui: ")})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

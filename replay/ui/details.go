package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/replay"
)

// fileKey identifies a version of a recording: a file that changes gets
// a new key, and its cached details are computed again.
type fileKey struct {
	name    string
	size    int64
	modTime time.Time
}

func keyOf(r replay.Recording) fileKey { return fileKey{r.Name, r.Size, r.Modified} }

// maxEvents bounds each list of details; maxCached the cached details.
const (
	maxEvents = 20000
	maxCached = 4096
)

// details are what the player shows beside the picture, from one read
// of a recording through the RFB decoder.
type details struct {
	Duration time.Duration `json:"duration_ns"`
	// RFB is false for a recording that is not a VNC session: the others
	// are then empty.
	RFB       bool        `json:"rfb"`
	Typed     []rfb.Line  `json:"typed"`
	Clicks    []click     `json:"clicks"`
	Clipboard []clipboard `json:"clipboard"`
	// Activity is the bytes sent each way per second of the session.
	Activity []uint64 `json:"activity"`
	// Truncated says a list reached maxEvents.
	Truncated bool `json:"truncated,omitempty"`

	text string // the typed lines, lower-cased, for search
}

type click struct {
	Time    time.Duration `json:"time"`
	X       int           `json:"x"`
	Y       int           `json:"y"`
	Buttons rfb.Buttons   `json:"buttons"`
}

type clipboard struct {
	Time time.Duration `json:"time"`
	// From is "client" (copied in the viewer) or "server".
	From string `json:"from"`
	Text string `json:"text"`
}

func (d *details) matchText(q string) bool { return strings.Contains(d.text, q) }

// details returns the details of rec, cached per file version.
func (h *Handler) details(ctx context.Context, rec replay.Recording) (*details, error) {
	k := keyOf(rec)
	h.mu.Lock()
	d := h.cache[k]
	h.mu.Unlock()
	if d != nil {
		return d, nil
	}
	f, osf, err := h.src.Open(rec.Name)
	if err != nil {
		return nil, err
	}
	defer osf.Close()
	defer f.Close()
	d, err = extract(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rec.Name, err)
	}
	h.mu.Lock()
	if len(h.cache) >= maxCached {
		for old := range h.cache { // forget one at random
			delete(h.cache, old)
			break
		}
	}
	h.cache[k] = d
	h.mu.Unlock()
	return d, nil
}

// extract reads f through once.
func extract(ctx context.Context, f *recfile.File) (*details, error) {
	d := &details{RFB: true, Typed: []rfb.Line{}, Clicks: []click{}, Clipboard: []clipboard{}, Activity: []uint64{}}
	var (
		dec     = rfb.NewDecoder(rfb.DecoderOptions{})
		keys    rfb.KeyTracker
		decoded = true
	)
	add := func(n int) bool {
		if n >= maxEvents {
			d.Truncated = true
			return false
		}
		return true
	}
	emit := func(e rfb.Event) {
		if l, ok := keys.Add(e); ok && add(len(d.Typed)) {
			d.Typed = append(d.Typed, l)
		}
		switch e.Kind {
		case rfb.KindPointer:
			if e.Pressed != 0 && add(len(d.Clicks)) {
				d.Clicks = append(d.Clicks, click{Time: e.Time, X: e.X, Y: e.Y, Buttons: e.Pressed})
			}
		case rfb.KindClientCutText, rfb.KindServerCutText:
			if e.Text != "" && add(len(d.Clipboard)) {
				from := "server"
				if e.Kind == rfb.KindClientCutText {
					from = "client"
				}
				d.Clipboard = append(d.Clipboard, clipboard{Time: e.Time, From: from, Text: e.Text})
			}
		}
	}
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rec, err := f.Next()
		if err != nil {
			break // the end, or damage: what was read is shown
		}
		d.Duration = rec.Time
		if rec.Kind != format.KindMessage {
			continue
		}
		sec := int(rec.Time / time.Second)
		if sec < 1<<20 {
			for len(d.Activity) <= sec {
				d.Activity = append(d.Activity, 0)
			}
			d.Activity[sec] += uint64(len(rec.Payload))
		}
		if decoded {
			if err := dec.FeedRecord(rec, emit); err != nil {
				decoded = false // nothing more to decode
			}
		}
	}
	if sec := int(d.Duration / time.Second); sec < 1<<20 {
		for len(d.Activity) <= sec {
			d.Activity = append(d.Activity, 0)
		}
	}
	if l, ok := keys.Flush(); ok && add(len(d.Typed)) {
		d.Typed = append(d.Typed, l)
	}
	s := dec.Session()
	d.RFB = s.Width > 0 || len(d.Typed) > 0
	var b strings.Builder
	for _, l := range d.Typed {
		b.WriteString(strings.ToLower(l.Text))
		b.WriteByte('\n')
	}
	d.text = b.String()
	return d, nil
}

// integrity returns the integrity of rec, cached per file version: for
// wsrec, what format.Reader.Verify finds; for websockify's recordings,
// which have no seal, "complete", "incomplete" or "damaged".
func (h *Handler) integrity(rec replay.Recording) string {
	if rec.Format != "wsrec" {
		switch rec.Status {
		case "complete", "incomplete":
			return rec.Status
		}
		return "damaged"
	}
	k := keyOf(rec)
	h.mu.Lock()
	v, ok := h.veri[k]
	h.mu.Unlock()
	if ok {
		return v
	}
	v = h.verify(rec)
	h.mu.Lock()
	if len(h.veri) >= maxCached*4 {
		clear(h.veri)
	}
	h.veri[k] = v
	h.mu.Unlock()
	return v
}

// verify checks a sealed wsrec recording's hash chain, seal and signature.
func (h *Handler) verify(rec replay.Recording) string {
	f, osf, err := h.src.Open(rec.Name)
	if err != nil {
		return "damaged"
	}
	defer osf.Close()
	defer f.Close()
	r := f.Reader()
	if r == nil {
		return rec.Status
	}
	v, err := r.Verify(format.VerifyOptions{})
	switch {
	case err != nil:
		return "damaged"
	case v.Status == format.Valid && v.Signed:
		return "signed"
	case v.Status == format.Valid:
		return "sealed"
	case v.Status == format.Unsealed:
		return "unsealed"
	}
	return "tampered"
}

package record

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/wsproxy/wsproxy/format"
)

// placeholders are what a Name template may contain.
var placeholders = map[string]func(h *format.Header) string{
	"start":   func(h *format.Header) string { return h.Start.UTC().Format("2006-01-02T15-04-05Z") },
	"date":    func(h *format.Header) string { return h.Start.UTC().Format("2006-01-02") },
	"session": func(h *format.Header) string { return h.SessionID.String() },
	"client":  func(h *format.Header) string { return clientHost(h) },
	"token":   func(h *format.Header) string { return h.Meta[format.MetaToken] },
	"target":  func(h *format.Header) string { return h.Meta[format.MetaTarget] },
	"user":    func(h *format.Header) string { return h.Meta[format.MetaUser] },
}

// clientHost is the real client address if known, else the peer's, without
// its port.
func clientHost(h *format.Header) string {
	a := h.Meta[format.MetaRealClient]
	if a == "" {
		a = h.Meta[format.MetaClient]
	}
	if i := strings.LastIndexByte(a, ':'); i > 0 && !strings.HasSuffix(a, "]") {
		a = a[:i]
	}
	return strings.Trim(a, "[]")
}

// checkTemplate rejects a template with unknown placeholders, or one that
// could name a file outside the directory.
func checkTemplate(t string) error {
	rest := t
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("record: name template %q: unclosed {", t)
		}
		if _, ok := placeholders[rest[i+1:i+j]]; !ok {
			return fmt.Errorf("record: name template %q: unknown placeholder {%s} (known: start, date, session, client, token, target, user)", t, rest[i+1:i+j])
		}
		rest = rest[i+j+1:]
	}
	if !filepath.IsLocal(filepath.FromSlash(t)) || strings.HasSuffix(t, "/") {
		return fmt.Errorf("record: name template %q must be a relative file path inside the directory", t)
	}
	for _, elem := range strings.Split(filepath.ToSlash(filepath.FromSlash(t)), "/") {
		if elem == "" || elem == "." || elem == ".." {
			return fmt.Errorf("record: name template %q: empty, . or .. element", t)
		}
	}
	return nil
}

// expand fills a checked template. Values cannot add path elements: every
// character other than letters, digits and -._@ becomes '_', and an empty
// value becomes "none".
func expand(t string, h *format.Header) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			b.WriteString(t)
			break
		}
		j := strings.IndexByte(t[i:], '}')
		b.WriteString(t[:i])
		b.WriteString(safe(placeholders[t[i+1:i+j]](h)))
		t = t[i+j+1:]
	}
	return filepath.FromSlash(b.String())
}

func safe(v string) string {
	if v == "" {
		return "none"
	}
	b := []byte(v)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '@':
		case c == '.' && i > 0:
		default:
			b[i] = '_'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}

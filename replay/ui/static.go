package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// asset is an embedded file ready to serve: its bytes, their gzip
// encoding when that is smaller, and an ETag for each.
type asset struct {
	body, gz     []byte
	etag, gzETag string
	ctype        string
}

// loadAssets reads the embedded files under dir of fsys and compresses
// them once, at start: they never change while the program runs.
func loadAssets(fsys fs.FS) (map[string]*asset, error) {
	m := make(map[string]*asset)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		tag := hex.EncodeToString(sum[:12])
		a := &asset{body: b, etag: `"` + tag + `"`, ctype: mime.TypeByExtension(path.Ext(name))}
		if a.ctype == "" {
			a.ctype = http.DetectContentType(b)
		}
		if gz := gzipBytes(b); len(gz) < len(b)*9/10 {
			a.gz, a.gzETag = gz, `"`+tag+`-gz"`
		}
		m[name] = a
		return nil
	})
	return m, err
}

// gzipBytes returns the gzip encoding of b, at the best compression:
// for files compressed once and served many times.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
	zw.Write(b)                                              // a bytes.Buffer does not fail
	zw.Close()
	return buf.Bytes()
}

// acceptsGzip reports whether r's Accept-Encoding allows gzip (RFC 9110
// section 12.5.3): listed, and not with q=0.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, c := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(c), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
			if !ok {
				return true
			}
			f, err := strconv.ParseFloat(q, 64)
			return err == nil && f > 0
		}
	}
	return false
}

// serveStatic serves an embedded file, gzip-encoded when the client
// accepts it, with an ETag so that a browser revalidates its copy (no-cache)
// and gets 304 Not Modified without a body while it is current.
func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	a := h.assets[name]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Type", a.ctype)
	body, etag := a.body, a.etag
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = a.gz, a.gzETag
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

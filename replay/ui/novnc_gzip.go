package ui

import (
	"bytes"
	"net/http"
	"path"
	"strconv"
	"sync"
)

// gzipCache keeps the gzip encodings of noVNC's files, by path and
// version (Last-Modified and size), so that each is compressed once. It
// is safe for concurrent use.
type gzipCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

// maxGzipCache bounds the files kept: noVNC has about 60 modules.
const maxGzipCache = 256

// compressible are the extensions of noVNC's files worth compressing.
var compressible = map[string]bool{".js": true, ".css": true, ".html": true, ".svg": true, ".json": true}

// bufferWriter collects a response to compress it.
type bufferWriter struct {
	hd     http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.hd }
func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.buf.Write(p)
}

// serveGzip serves r with next, gzip-encoding a whole 200 response of a
// text file when the client accepts it. Other responses (304 Not
// Modified to a revalidation, ranges, errors) pass as next writes them.
func (c *gzipCache) serveGzip(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !acceptsGzip(r) || r.Header.Get("Range") != "" || !compressible[path.Ext(r.URL.Path)] {
		next.ServeHTTP(w, r)
		return
	}
	bw := &bufferWriter{hd: w.Header()}
	next.ServeHTTP(bw, r)
	hd := w.Header()
	hd.Add("Vary", "Accept-Encoding")
	if bw.status != http.StatusOK || hd.Get("Content-Encoding") != "" {
		w.WriteHeader(bw.status)
		w.Write(bw.buf.Bytes())
		return
	}
	key := r.URL.Path + "\x00" + hd.Get("Last-Modified") + "\x00" + strconv.Itoa(bw.buf.Len())
	c.mu.Lock()
	gz, ok := c.m[key]
	c.mu.Unlock()
	if !ok {
		gz = gzipBytes(bw.buf.Bytes())
		c.mu.Lock()
		if c.m == nil || len(c.m) >= maxGzipCache {
			c.m = make(map[string][]byte)
		}
		c.m[key] = gz
		c.mu.Unlock()
	}
	hd.Del("Accept-Ranges")
	hd.Set("Content-Encoding", "gzip")
	hd.Set("Content-Length", strconv.Itoa(len(gz)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(gz)
	}
}

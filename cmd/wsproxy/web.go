package main

import (
	"errors"
	"net/http"

	"github.com/wsproxy/wsproxy/proxy"
)

// webHandler returns the handler of --web (proxy.FileHandler: files,
// index.html, listings unless --file-only, nothing outside DIR and no
// special files), or nil without it. Close it.
func (c *rootCmd) webHandler() (*proxy.FileHandler, error) {
	if c.Web == "" {
		return nil, nil
	}
	return proxy.NewFileHandler(c.Web, proxy.FileOptions{FileOnly: c.FileOnly})
}

// webAuth applies the auth plugin to static files (--web-auth), as the
// proxy applies it to WebSocket upgrades.
type webAuth struct {
	auth proxy.Authenticator
	next http.Handler
}

func (h webAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, err := h.auth.Authenticate(r.Context(), &proxy.Request{HTTP: r})
	if err == nil {
		h.next.ServeHTTP(w, r)
		return
	}
	var he *proxy.HTTPError
	if !errors.As(err, &he) {
		http.Error(w, "authentication failed", http.StatusInternalServerError)
		return
	}
	for k, v := range he.Header {
		w.Header()[k] = v
	}
	http.Error(w, he.Reason, he.Status)
}

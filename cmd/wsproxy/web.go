package main

import "github.com/wsproxy/wsproxy/proxy"

// webHandler returns the handler of --web (proxy.FileHandler: files,
// index.html, listings unless --file-only, nothing outside DIR and no
// special files), or nil without it. Close it.
func (c *rootCmd) webHandler() (*proxy.FileHandler, error) {
	if c.Web == "" {
		return nil, nil
	}
	return proxy.NewFileHandler(c.Web, proxy.FileOptions{FileOnly: c.FileOnly})
}

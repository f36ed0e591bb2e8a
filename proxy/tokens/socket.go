package tokens

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/wsproxy/wsproxy/proxy"
)

// SocketDir resolves a token to the unix socket of that name in a
// directory (websockify's UnixDomainSocketDirectory). The name may lead
// into subdirectories ("vm1/vnc.sock") but not out of the directory: an
// absolute name, ".." leading out, or symbolic links leading out are
// unknown tokens, as is anything that is not a socket. (websockify checks
// the name as a string prefix without resolving "..", so "../x" passes
// its check.) It is safe for concurrent use.
type SocketDir struct {
	dir string // absolute, symbolic links resolved
}

// NewSocketDir returns the plugin for the directory dir. It returns an
// error if dir is not a directory.
func NewSocketDir(dir string) (*SocketDir, error) {
	d, err := resolveDir(dir)
	if err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	return &SocketDir{dir: d}, nil
}

// Lookup returns the unix socket token names, by its path with symbolic
// links resolved. It returns an error wrapping proxy.ErrUnknownToken when there
// is no such socket inside the directory.
func (d *SocketDir) Lookup(_ context.Context, token string) (proxy.Target, error) {
	path, err := within(d.dir, token, fs.ModeSocket)
	if err != nil {
		return proxy.Target{}, err
	}
	return proxy.Target{Network: "unix", Address: path}, nil
}

package proxy

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
)

// Request is a WebSocket upgrade request that passed the protocol checks,
// as the Authenticator and the Resolver see it. They must not modify it.
type Request struct {
	// HTTP is the client's request. Its RemoteAddr is the peer address and
	// its TLS field is set for wss:// connections. Its body is empty.
	HTTP *http.Request
	// Session is the ID the session will have if the request is accepted.
	Session SessionID
	// LocalAddr is the listening address the client connected to.
	LocalAddr net.Addr
	// RemoteAddr is the peer address of the client connection.
	RemoteAddr net.Addr
	// ClientAddr is the real client address (see ServerOptions.ClientAddr).
	ClientAddr string
	// User is the name the Authenticator returned; empty while
	// authenticating.
	User string
}

// Resolver chooses the target of a session before the upgrade completes,
// for example from a token in the request (websockify's token plugins).
// A Target resolves every request to itself.
type Resolver interface {
	// Resolve returns where the session connects. An *HTTPError rejects the
	// request with its status; any other error rejects it with 500 Internal
	// Server Error. ctx ends with the handshake deadline.
	Resolve(ctx context.Context, r *Request) (Target, error)
}

// ResolverFunc adapts a function to a Resolver.
type ResolverFunc func(ctx context.Context, r *Request) (Target, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, r *Request) (Target, error) { return f(ctx, r) }

// Authenticator checks a request before the target is resolved and the
// upgrade completes (websockify's auth plugins).
type Authenticator interface {
	// Authenticate returns the authenticated user name, empty when the
	// method has none (an Origin check). An *HTTPError rejects the request
	// with its status and headers (401 with WWW-Authenticate, 403); any
	// other error rejects it with 500 Internal Server Error. ctx ends with
	// the handshake deadline.
	Authenticate(ctx context.Context, r *Request) (user string, err error)
}

// AuthenticatorFunc adapts a function to an Authenticator.
type AuthenticatorFunc func(ctx context.Context, r *Request) (string, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, r *Request) (string, error) {
	return f(ctx, r)
}

// HTTPError rejects a request before the upgrade with an HTTP status. The
// proxy answers with Status, Header and Reason as a text body, and logs
// Reason and Err.
type HTTPError struct {
	Status int         // HTTP status code
	Header http.Header // extra response headers, may be nil
	Reason string      // short text for the client and the log
	Err    error       // underlying cause, may be nil; not sent
}

func (e *HTTPError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("proxy: HTTP %d %s: %v", e.Status, e.Reason, e.Err)
	}
	return fmt.Sprintf("proxy: HTTP %d %s", e.Status, e.Reason)
}

func (e *HTTPError) Unwrap() error { return e.Err }

// Target is where a session connects: a TCP address or a unix socket.
// The zero Network means TCP.
type Target struct {
	// Network is "tcp", "tcp4", "tcp6" or "unix". Empty means "tcp".
	Network string
	// Address is host:port for TCP, the socket path for unix.
	Address string
	// Token is the token that selected this target, kept for logs and
	// recordings. Empty when no token was used.
	Token string
	// TLS, when non-nil, makes Dial speak TLS to the target with this
	// configuration (websockify's --ssl-target). nil means plain TCP.
	TLS *tls.Config
	// Dialer, when non-nil, is called by Dial instead of dialing Address:
	// for targets that are not network addresses, such as a recording
	// played back through one end of a net.Pipe. Address is then only a
	// name for logs and recordings. nil means dial Network and Address.
	Dialer func(ctx context.Context) (net.Conn, error)
}

// Dial connects to the target. It returns the dialer's error as is (a
// *net.OpError for refused or unreachable targets).
func (t Target) Dial(ctx context.Context) (net.Conn, error) {
	if t.Dialer != nil {
		return t.Dialer(ctx)
	}
	network := cmp.Or(t.Network, "tcp")
	if t.TLS != nil {
		d := tls.Dialer{Config: t.TLS}
		return d.DialContext(ctx, network, t.Address)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, t.Address)
}

// String returns the address, prefixed with "unix:" for unix sockets.
func (t Target) String() string {
	if t.Network == "unix" {
		return "unix:" + t.Address
	}
	return t.Address
}

// Resolve returns t for every request: the fixed target of
// "wsproxy PORT HOST:PORT".
func (t Target) Resolve(context.Context, *Request) (Target, error) { return t, nil }

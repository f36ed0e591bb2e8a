package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Token plugins: websockify's token_plugins.py and websocketproxy.py
// (get_target, validate_connection), version 0.13. The client names its
// target with a token, and the session connects where the token resolves
// and nowhere else: a token is only ever a key into operator-controlled
// data (a file, a directory, an HTTP API, Redis) or a token signed with
// the operator's key.
//
// Where websockify drops the connection of a missing or unknown token
// without an answer, the resolver answers before the upgrade: 400 for a
// missing or malformed token, 404 for an unknown one, 403 for an invalid
// JWT, 502 (504 on timeout) when the lookup itself fails.

// ErrUnknownToken is wrapped by the errors Tokens.Lookup returns for a
// token that resolves to nothing. TokenResolver answers it with 404 Not
// Found.
var ErrUnknownToken = errors.New("proxy: unknown token")

// ErrInvalidToken is wrapped by the errors Tokens.Lookup returns for a
// self-contained token that is not acceptable: a JWT that is malformed,
// badly signed, expired or not yet valid. TokenResolver answers it with
// 403 Forbidden.
var ErrInvalidToken = errors.New("proxy: invalid token")

// maxTokenLength bounds the length of a token in bytes: a nested JWE
// signed and encrypted with 4096-bit RSA keys is about 2 KiB.
const maxTokenLength = 4096

// Tokens maps tokens to targets: websockify's token plugins. The stores
// of package github.com/wsproxy/wsproxy/proxy/tokens and its
// sub-packages implement it, each safe for concurrent use; they live
// apart from proxy so that programs which do not use them do not link
// their dependencies (Redis, JOSE).
type Tokens interface {
	// Lookup returns the target of token. It returns an error wrapping
	// ErrUnknownToken when the token resolves to nothing, ErrInvalidToken
	// when a self-contained token is not acceptable, and other errors when
	// the lookup itself failed (the error then wraps
	// context.DeadlineExceeded when it timed out).
	Lookup(ctx context.Context, token string) (Target, error)
}

// TokenResolver is a Resolver that takes the target from a token in the
// request, as websockify does with --token-plugin: the "token" query
// parameter, or with HostToken the Host header without its port. Its
// fields must not change while it is in use; it is then safe for
// concurrent use.
type TokenResolver struct {
	// Tokens looks the token up. Required.
	Tokens Tokens

	// HostToken takes the token from the Host header (websockify's
	// --host-token). false means the "token" query parameter.
	HostToken bool

	// TLS, when non-nil, makes sessions speak TLS to the TCP targets that
	// tokens resolve to (--ssl-target): each target gets a clone with
	// ServerName set to its host. A token that resolves to a unix socket
	// is then refused. nil means plain connections.
	TLS *tls.Config
}

// Resolve returns the target of the request's token. It returns an
// *HTTPError for a missing or malformed token (400), an unknown token
// (404), an invalid token (403), a failed lookup (502) and a lookup that
// timed out (504); and a plain error (so 500) for a unix socket target
// with TLS.
func (tr *TokenResolver) Resolve(ctx context.Context, r *Request) (Target, error) {
	token, herr := tr.token(r.HTTP)
	if herr != nil {
		return Target{}, herr
	}
	t, err := tr.Tokens.Lookup(ctx, token)
	if err != nil {
		return Target{}, lookupError(token, err)
	}
	t.Token = token
	if tr.TLS != nil {
		if t.Network == "unix" {
			return Target{}, fmt.Errorf("token %s: target %s is a unix socket, and TLS to the target needs TCP", clip(token), t)
		}
		host, _, err := net.SplitHostPort(t.Address)
		if err != nil {
			return Target{}, fmt.Errorf("token %s: target %s: %w", clip(token), t, err)
		}
		t.TLS = tr.TLS.Clone()
		t.TLS.ServerName = host
	}
	return t, nil
}

// token returns the request's token, as websockify's get_target reads it.
func (tr *TokenResolver) token(r *http.Request) (string, *HTTPError) {
	var token string
	if tr.HostToken {
		// Go's server moves the Host header to r.Host.
		token = r.Host
		if h, _, err := net.SplitHostPort(token); err == nil {
			token = h
		}
		token = strings.Trim(token, "[]")
		if token == "" {
			return "", &HTTPError{Status: http.StatusBadRequest, Reason: "missing token: no Host header"}
		}
	} else {
		// As Python's parse_qs: blank values do not count.
		q, _ := url.ParseQuery(r.URL.RawQuery)
		for _, v := range q["token"] {
			if v = strings.TrimRight(v, "\n"); v != "" {
				token = v
				break
			}
		}
		if token == "" {
			return "", &HTTPError{Status: http.StatusBadRequest, Reason: "missing token: give the token query parameter"}
		}
	}
	if len(token) > maxTokenLength {
		return "", &HTTPError{Status: http.StatusBadRequest, Reason: "token too long", Err: fmt.Errorf("token of %d bytes, the limit is %d", len(token), maxTokenLength)}
	}
	if i := strings.IndexFunc(token, isControl); i >= 0 {
		return "", &HTTPError{Status: http.StatusBadRequest, Reason: "malformed token", Err: fmt.Errorf("control character %q in token", token[i])}
	}
	return token, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// lookupError maps an error of Tokens.Lookup to the HTTP answer.
func lookupError(token string, err error) *HTTPError {
	err = fmt.Errorf("token %s: %w", clip(token), err)
	switch {
	case errors.Is(err, ErrUnknownToken):
		return &HTTPError{Status: http.StatusNotFound, Reason: "unknown token", Err: err}
	case errors.Is(err, ErrInvalidToken):
		return &HTTPError{Status: http.StatusForbidden, Reason: "invalid token", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &HTTPError{Status: http.StatusGatewayTimeout, Reason: "token lookup timed out", Err: err}
	default:
		return &HTTPError{Status: http.StatusBadGateway, Reason: "token lookup failed", Err: err}
	}
}

// clip quotes a token for a log line, shortened: a JWT is long, and the
// line only needs to tell tokens apart.
func clip(token string) string {
	const n = 48
	if len(token) > n {
		return strconv.Quote(token[:n]) + "…"
	}
	return strconv.Quote(token)
}

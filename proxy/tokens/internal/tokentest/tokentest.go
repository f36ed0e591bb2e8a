// Package tokentest holds the assertions that the tests of the token
// stores (packages tokens, jwt and redis) share: what a lookup returns,
// and the HTTP status a proxy.TokenResolver answers for its error.
package tokentest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsproxy/wsproxy/proxy"
)

// WantTarget looks token up and checks the target it resolves to.
func WantTarget(t testing.TB, tokens proxy.Tokens, token, network, address string) {
	t.Helper()
	got, err := tokens.Lookup(t.Context(), token)
	if err != nil {
		t.Errorf("Lookup(%q): %v; want %s %s", token, err, network, address)
		return
	}
	if got.Network != network || got.Address != address {
		t.Errorf("Lookup(%q) = %s %s, want %s %s", token, got.Network, got.Address, network, address)
	}
}

// WantErr looks token up and checks that it fails with target (nil for an
// error that is neither proxy.ErrUnknownToken nor proxy.ErrInvalidToken).
func WantErr(t testing.TB, tokens proxy.Tokens, token string, target error) {
	t.Helper()
	got, err := tokens.Lookup(t.Context(), token)
	switch {
	case err == nil:
		t.Errorf("Lookup(%q) = %+v, want an error", token, got)
	case target != nil && !errors.Is(err, target):
		t.Errorf("Lookup(%q): %v, want %v", token, err, target)
	case target == nil && (errors.Is(err, proxy.ErrUnknownToken) || errors.Is(err, proxy.ErrInvalidToken)):
		t.Errorf("Lookup(%q): %v, want a lookup failure", token, err)
	}
}

// Status returns the HTTP status with which a proxy.TokenResolver answers
// a request whose lookup failed with err: 0 if err is nil, 500 if the
// resolver's error is not a *proxy.HTTPError.
func Status(err error) int {
	r := &proxy.TokenResolver{Tokens: failing{err}}
	_, rerr := r.Resolve(context.Background(), &proxy.Request{HTTP: httptest.NewRequest(http.MethodGet, "/websockify?token=t", nil)})
	if rerr == nil {
		return 0
	}
	if herr, ok := errors.AsType[*proxy.HTTPError](rerr); ok {
		return herr.Status
	}
	return http.StatusInternalServerError
}

// failing is a store whose every lookup returns its error.
type failing struct{ err error }

func (f failing) Lookup(context.Context, string) (proxy.Target, error) {
	return proxy.Target{Network: "tcp", Address: "localhost:1"}, f.err
}

// WriteFile writes content to path, making its directory.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

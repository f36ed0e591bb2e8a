package proxy_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/proxy"
)

// mapTokens is a proxy.Tokens of fixed targets and errors, recording what it was
// asked.
type mapTokens map[string]any // proxy.Target or error

func (m mapTokens) Lookup(_ context.Context, token string) (proxy.Target, error) {
	switch v := m[token].(type) {
	case proxy.Target:
		return v, nil
	case error:
		return proxy.Target{}, v
	}
	return proxy.Target{}, proxy.ErrUnknownToken
}

// TestTokenResolver reads the token where websockify's get_target does and
// maps lookup errors to HTTP statuses.
func TestTokenResolver(t *testing.T) {
	t.Parallel()
	vnc := proxy.Target{Network: "tcp", Address: "vnc.example:5900"}
	tokens := mapTokens{
		"a":            vnc,
		"a b":          vnc,
		"host.example": vnc,
		"sock":         proxy.Target{Network: "unix", Address: "/run/vnc.sock"},
		"jwt":          fmt.Errorf("%w: expired", proxy.ErrInvalidToken),
		"down":         errors.New("connection refused"),
		"slow":         fmt.Errorf("redis: %w", context.DeadlineExceeded),
	}
	tests := []struct {
		name      string
		url, host string
		hostToken bool
		want      proxy.Target // Token is the token when Status is zero
		status    int
	}{
		{"Query", "/websockify?token=a", "proxy.example", false, vnc, 0},
		{"QueryEscaped", "/?token=a%20b", "", false, vnc, 0},
		{"QueryPlus", "/?token=a+b", "", false, vnc, 0},
		{"QueryNewline", "/?token=a%0A", "", false, vnc, 0}, // websockify strips a trailing newline
		{"QueryBlankFirst", "/?token=&token=a", "", false, vnc, 0},
		{"Unix", "/?token=sock", "", false, proxy.Target{Network: "unix", Address: "/run/vnc.sock"}, 0},
		{"Host", "/?token=unused", "host.example:6080", true, vnc, 0},
		{"HostNoPort", "/", "host.example", true, vnc, 0},
		{"ErrMissing", "/websockify", "", false, proxy.Target{}, http.StatusBadRequest},
		{"ErrBlank", "/?token=", "", false, proxy.Target{}, http.StatusBadRequest},
		{"ErrMissingHost", "/?token=a", "", true, proxy.Target{}, http.StatusBadRequest},
		{"ErrUnknown", "/?token=nope", "", false, proxy.Target{}, http.StatusNotFound},
		{"ErrHostUnknown", "/?token=a", "other.example", true, proxy.Target{}, http.StatusNotFound},
		{"ErrInvalid", "/?token=jwt", "", false, proxy.Target{}, http.StatusForbidden},
		{"ErrBackend", "/?token=down", "", false, proxy.Target{}, http.StatusBadGateway},
		{"ErrTimeout", "/?token=slow", "", false, proxy.Target{}, http.StatusGatewayTimeout},
		{"ErrControl", "/?token=a%00", "", false, proxy.Target{}, http.StatusBadRequest},
		{"ErrTooLong", "/?token=" + strings.Repeat("x", proxy.MaxTokenLength+1), "", false, proxy.Target{}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, "http://proxy.example"+tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tt.host
			tr := &proxy.TokenResolver{Tokens: tokens, HostToken: tt.hostToken}
			got, err := tr.Resolve(t.Context(), &proxy.Request{HTTP: req})
			if tt.status != 0 {
				var herr *proxy.HTTPError
				if !errors.As(err, &herr) || herr.Status != tt.status {
					t.Fatalf("Resolve: %v; want HTTP %d", err, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got.Network != tt.want.Network || got.Address != tt.want.Address || got.Token == "" {
				t.Errorf("Resolve = %+v, want %+v with its token", got, tt.want)
			}
		})
	}
}

// With TLS to the target, each TCP target gets its host as ServerName,
// and a unix socket target is refused rather than used without TLS.
func TestTokenResolverTLS(t *testing.T) {
	t.Parallel()
	tokens := mapTokens{
		"a":    proxy.Target{Network: "tcp", Address: "vnc.example:5900"},
		"b":    proxy.Target{Network: "tcp", Address: "[::1]:5900"},
		"sock": proxy.Target{Network: "unix", Address: "/run/vnc.sock"},
	}
	base := &tls.Config{MinVersion: tls.VersionTLS12}
	tr := &proxy.TokenResolver{Tokens: tokens, TLS: base}
	for token, name := range map[string]string{"a": "vnc.example", "b": "::1"} {
		req, _ := http.NewRequest(http.MethodGet, "http://proxy.example/?token="+token, nil)
		got, err := tr.Resolve(t.Context(), &proxy.Request{HTTP: req})
		if err != nil {
			t.Fatalf("token %s: %v", token, err)
		}
		if got.TLS == nil || got.TLS.ServerName != name || got.TLS == base {
			t.Errorf("token %s: TLS %+v, want a clone with ServerName %s", token, got.TLS, name)
		}
	}
	if base.ServerName != "" {
		t.Errorf("the base configuration was modified: ServerName %q", base.ServerName)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://proxy.example/?token=sock", nil)
	if got, err := tr.Resolve(t.Context(), &proxy.Request{HTTP: req}); err == nil {
		t.Errorf("unix socket target with TLS: got %+v, want an error", got)
	}
}

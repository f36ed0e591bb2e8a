package tokens_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens"
	"github.com/wsproxy/wsproxy/proxy/tokens/internal/tokentest"
)

func TestSplitTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, before, after string
		wantErr                 bool
	}{
		{"Path", "http://api/tokens/%s", "http://api/tokens/", "", false},
		{"Query", "http://api/lookup?token=%s&x=1", "http://api/lookup?token=", "&x=1", false},
		{"Percent", "http://api/a%%20b/%s", "http://api/a%20b/", "", false},
		{"PercentAfter", "http://api/%s?q=100%%", "http://api/", "?q=100%", false},
		{"ErrNone", "http://api/tokens", "", "", true},
		{"ErrTwo", "http://api/%s/%s", "", "", true},
		{"ErrOther", "http://api/%d", "", "", true},
		{"ErrEscape", "http://api/a%20b/%s", "", "", true}, // Python's % would fail too
		{"ErrTrailing", "http://api/%s%", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before, after, err := tokens.SplitTemplate(tt.in)
			if (err != nil) != tt.wantErr || before != tt.before || after != tt.after {
				t.Errorf("tokens.SplitTemplate(%q) = %q, %q, %v; want %q, %q, error %v", tt.in, before, after, err, tt.before, tt.after, tt.wantErr)
			}
		})
	}
}

// The token can only be in the path or the query: never in the host.
func TestNewTokenAPIErrors(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"http://%s.example/",
		"http://api.example:%s/",
		"http://%s@api.example/",
		"%s://api.example/",
		"ftp://api.example/%s",
		"/tokens/%s",
		"http://api.example/%s/%s",
	} {
		if a, err := tokens.NewAPI(u, tokens.APIOptions{}); err == nil {
			a.Close()
			t.Errorf("tokens.NewAPI(%q): no error", u)
		}
	}
}

func TestEscapeToken(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"abc-._~XYZ09":       "abc-._~XYZ09",
		"a b":                "a%20b",
		"../x":               "..%2Fx",
		"a&host=evil#f?g":    "a%26host%3Devil%23f%3Fg",
		"a+b%2F":             "a%2Bb%252F",
		"\xff":               "%FF",
		"@evil.example:1234": "%40evil.example%3A1234",
	} {
		if got := tokens.EscapeToken(in); got != want {
			t.Errorf("tokens.EscapeToken(%q) = %q, want %q", in, got, want)
		}
	}
}

// BaseTokenAPI and JSONTokenApi against an API server: the token is
// escaped into the URL, 2xx answers hold the target, other statuses mean
// an unknown token, malformed answers fail.
func TestTokenAPI(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []string
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RawPath+"|"+r.URL.RawQuery)
		mu.Unlock()
		tok := strings.TrimPrefix(r.URL.Path, "/plain/")
		if strings.HasPrefix(r.URL.Path, "/json") {
			tok = r.URL.Query().Get("t")
		}
		answers := map[string]string{
			"plain":     "remote_host:5900\n",
			"v6":        "::1:5900",
			"sock":      "unix_socket:/run/vnc.sock",
			"jsonnum":   `{"host": "remote_host", "port": 5901}`,
			"jsonstr":   `{"host": "remote_host", "port": "5902"}`,
			"jsonsock":  `{"host": "unix_socket", "port": "/run/vnc.sock"}`,
			"jsonnoprt": `{"host": "remote_host"}`,
			"garbage":   "<html>oops</html>",
		}
		switch tok {
		case "a b/c":
			w.Write([]byte("escaped:1"))
		case "error":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "redirect":
			http.Redirect(w, r, "/plain/plain", http.StatusFound)
		case "big":
			w.Write([]byte(strings.Repeat("x", tokens.MaxAPIAnswer+1)))
		default:
			a, ok := answers[tok]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Write([]byte(a))
		}
	}))
	defer api.Close()

	plain, err := tokens.NewAPI(api.URL+"/plain/%s", tokens.APIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	tokentest.WantTarget(t, plain, "plain", "tcp", "remote_host:5900")
	tokentest.WantTarget(t, plain, "v6", "tcp", "[::1]:5900")
	tokentest.WantTarget(t, plain, "sock", "unix", "/run/vnc.sock")
	tokentest.WantTarget(t, plain, "a b/c", "tcp", "escaped:1")
	tokentest.WantTarget(t, plain, "redirect", "tcp", "remote_host:5900")
	tokentest.WantErr(t, plain, "nope", proxy.ErrUnknownToken)
	tokentest.WantErr(t, plain, "error", proxy.ErrUnknownToken)
	tokentest.WantErr(t, plain, "..", proxy.ErrUnknownToken)
	tokentest.WantErr(t, plain, "garbage", nil)
	tokentest.WantErr(t, plain, "big", nil)

	js, err := tokens.NewAPI(api.URL+"/json?t=%s", tokens.APIOptions{JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	tokentest.WantTarget(t, js, "jsonnum", "tcp", "remote_host:5901")
	tokentest.WantTarget(t, js, "jsonstr", "tcp", "remote_host:5902")
	tokentest.WantTarget(t, js, "jsonsock", "unix", "/run/vnc.sock")
	tokentest.WantErr(t, js, "jsonnoprt", nil)
	tokentest.WantErr(t, js, "plain", nil)
	tokentest.WantErr(t, js, "nope", proxy.ErrUnknownToken)

	// The injection attempt stays inside the query parameter.
	tokentest.WantErr(t, js, "x&t=jsonnum", proxy.ErrUnknownToken)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(seen, "\n"), "|t=x%26t%3Djsonnum") {
		t.Errorf("requests seen:\n%s\nwant the token escaped in the query", strings.Join(seen, "\n"))
	}
}

// An API that does not answer fails the lookup after the timeout, with an
// error the resolver turns into 504.
func TestTokenAPITimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer api.Close()
	defer close(release)
	a, err := tokens.NewAPI(api.URL+"/%s", tokens.APIOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	start := time.Now()
	_, err = a.Lookup(t.Context(), "x")
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Lookup took %v, want about the 200ms timeout", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lookup: %v, want DeadlineExceeded", err)
	}
	if status := tokentest.Status(err); status != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", status)
	}

	// A server that is down fails at once, with 502.
	down, err := tokens.NewAPI("http://127.0.0.1:1/%s", tokens.APIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	_, err = down.Lookup(t.Context(), "x")
	if status := tokentest.Status(err); err == nil || status != http.StatusBadGateway {
		t.Errorf("Lookup on a closed port: %v, want a 502", err)
	}
}

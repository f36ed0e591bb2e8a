package tokens

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
)

// APIOptions configures an API. The zero value reads "host:port"
// answers with a client of its own and DefaultLookupTimeout.
type APIOptions struct {
	// JSON reads the answer as a JSON object {"host": "h", "port": 5900}
	// (websockify's JSONTokenApi; the port may be a string). false reads
	// "host:port" (BaseTokenAPI).
	JSON bool

	// Client makes the requests. nil means a client of the API's
	// own, whose idle connections Close closes.
	Client *http.Client

	// Timeout bounds each lookup, answer included. Zero means
	// DefaultLookupTimeout.
	Timeout time.Duration
}

// API resolves tokens with an HTTP GET (websockify's BaseTokenAPI
// and JSONTokenApi): the URL is a template in which "%s" stands for the
// token, as Python's % operator reads it ("%%" for a percent sign). A 2xx
// answer holds the target; any other status means the token is unknown.
//
// The token is percent-encoded except for letters, digits and "-._~", so
// it cannot leave its place in the path or query, and the template must
// not put it in the scheme or the host: the client never chooses where
// the API request goes. Safe for concurrent use; Close must be called
// once when it is no longer used.
type API struct {
	before, after string // the template around "%s", "%%" decoded
	json          bool
	client        *http.Client
	own           bool // client is ours: Close closes its connections
	timeout       time.Duration
}

// maxAPIAnswer bounds the body read from the token API.
const maxAPIAnswer = 64 << 10

// NewAPI returns the plugin for the URL template rawURL. It returns
// an error if the template does not have exactly one "%s", has another
// "%" sequence than "%%", is not an http or https URL, or puts the token
// in the scheme or the host.
func NewAPI(rawURL string, opts APIOptions) (*API, error) {
	before, after, err := splitTemplate(rawURL)
	if err != nil {
		return nil, fmt.Errorf("token API URL %q: %w", rawURL, err)
	}
	const marker = "wsproxy-token-marker"
	u, err := url.Parse(before + marker + after)
	if err != nil {
		return nil, fmt.Errorf("token API URL %q: %w", rawURL, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("token API URL %q: want an http or https URL", rawURL)
	case u.Host == "" || strings.Contains(u.Host, marker) || strings.Contains(u.User.String(), marker):
		return nil, fmt.Errorf("token API URL %q: the token (%%s) must be in the path or the query, after the host", rawURL)
	}
	a := &API{before: before, after: after, json: opts.JSON, client: opts.Client, timeout: opts.Timeout}
	if a.client == nil {
		a.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		a.own = true
	}
	if a.timeout <= 0 {
		a.timeout = DefaultLookupTimeout
	}
	return a, nil
}

// splitTemplate splits a Python %-format template with one "%s".
func splitTemplate(s string) (before, after string, err error) {
	var b strings.Builder
	found := false
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch {
		case i < len(s) && s[i] == '%':
			b.WriteByte('%')
		case i < len(s) && s[i] == 's' && !found:
			found = true
			before = b.String()
			b.Reset()
		case i < len(s) && s[i] == 's':
			return "", "", errors.New(`more than one "%s"`)
		default:
			return "", "", errors.New(`a "%" that is neither "%s" nor "%%" (write a percent sign as "%%")`)
		}
	}
	if !found {
		return "", "", errors.New(`no "%s" for the token`)
	}
	return before, b.String(), nil
}

// Lookup asks the API for the target of token. It returns an error
// wrapping proxy.ErrUnknownToken when the API answers with a status other than
// 2xx, and other errors when the request fails, times out (wrapping
// context.DeadlineExceeded) or the answer holds no target.
func (a *API) Lookup(ctx context.Context, token string) (proxy.Target, error) {
	if token == "." || token == ".." {
		// Path segments that a server would resolve.
		return proxy.Target{}, fmt.Errorf("%w: dot segment", proxy.ErrUnknownToken)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.before+escapeToken(token)+a.after, nil)
	if err != nil {
		return proxy.Target{}, fmt.Errorf("token API: %w", err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return proxy.Target{}, fmt.Errorf("token API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxAPIAnswer)) // keep the connection
		return proxy.Target{}, fmt.Errorf("%w: token API answered %s", proxy.ErrUnknownToken, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIAnswer+1))
	if err != nil {
		return proxy.Target{}, fmt.Errorf("token API: reading the answer: %w", err)
	}
	if len(body) > maxAPIAnswer {
		return proxy.Target{}, fmt.Errorf("token API: answer larger than %d bytes", maxAPIAnswer)
	}
	var t proxy.Target
	if a.json {
		t, err = ParseJSONTarget(body)
	} else {
		t, err = ParseTarget(string(bytes.TrimSpace(body)))
	}
	if err != nil {
		return proxy.Target{}, fmt.Errorf("token API: answer: %w", err)
	}
	return t, nil
}

// escapeToken percent-encodes every byte of token but RFC 3986's
// unreserved characters, which mean the same in a path and a query.
func escapeToken(token string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(token); i++ {
		c := token[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// Close closes the idle connections of the API's own client. It
// returns nil.
func (a *API) Close() error {
	if a.own {
		a.client.CloseIdleConnections()
	}
	return nil
}

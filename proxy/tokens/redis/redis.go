package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens"
)

// Options configures a Tokens. The zero value means
// tokens.DefaultLookupTimeout.
type Options struct {
	// Timeout bounds each lookup, connecting included. Zero means
	// tokens.DefaultLookupTimeout.
	Timeout time.Duration
}

// Tokens resolves tokens from Redis (websockify's TokenRedis): the
// key is the token, or "namespace:token", and its value is the target,
// as JSON {"host": "host:port"} or as plain "host:port" (surrounding white
// space ignored). A server that is down or slow fails the lookup after
// the timeout; sessions already open are not affected. Safe for
// concurrent use; Close must be called once when it is no longer used.
type Tokens struct {
	client    *goredis.Client
	namespace string // with its ":" when not empty
	timeout   time.Duration
}

// Source is a parsed TokenRedis --token-source.
type Source struct {
	Host      string
	Port      int    // default 6379
	DB        int    // default 0
	Password  string // empty: none
	Namespace string // empty: none
}

// ParseSource parses websockify's TokenRedis source,
// "host[:port[:db[:password[:namespace]]]]": fields are separated by
// colons; a field wrapped in double quotes may hold colons
// (my-redis::::"first-ns:second-ns"); an empty field takes its default.
// It returns an error for more than five fields, an empty host, or a
// port or db that is not a number.
func ParseSource(src string) (Source, error) {
	s := Source{Port: 6379}
	f := splitSource(src)
	if len(f) > 5 {
		return s, fmt.Errorf("redis source %q: want host[:port[:db[:password[:namespace]]]]", src)
	}
	f = append(f, make([]string, 5-len(f))...)
	s.Host, s.Password, s.Namespace = f[0], f[3], f[4]
	if s.Host == "" {
		return s, fmt.Errorf("redis source %q: empty host", src)
	}
	var err error
	if f[1] != "" {
		if s.Port, err = strconv.Atoi(f[1]); err != nil || s.Port < 1 || s.Port > 65535 {
			return s, fmt.Errorf("redis source %q: port %q: want a number from 1 to 65535", src, f[1])
		}
	}
	if f[2] != "" {
		if s.DB, err = strconv.Atoi(f[2]); err != nil || s.DB < 0 {
			return s, fmt.Errorf("redis source %q: db %q: want a number >= 0", src, f[2])
		}
	}
	return s, nil
}

// splitSource splits a source on colons as websockify's parse_source_args
// does: a field that starts with a double quote and has a second one
// right before the next colon (or the end) is the text between them,
// colons included; any other field runs to the next colon.
func splitSource(s string) []string {
	var fields []string
	for {
		if len(s) > 1 && s[0] == '"' {
			if j := strings.IndexByte(s[1:], '"') + 1; j > 1 && (j+1 == len(s) || s[j+1] == ':') {
				fields = append(fields, s[1:j])
				s = s[j+1:]
				if s == "" {
					return fields
				}
				s = s[1:]
				continue
			}
		}
		field, rest, more := strings.Cut(s, ":")
		fields = append(fields, field)
		if !more {
			return fields
		}
		s = rest
	}
}

// NewTokens returns the plugin for the source
// "host[:port[:db[:password[:namespace]]]]" (see ParseSource). It
// does not connect: a server that is down fails the lookups, not the
// start. It returns the errors of ParseSource.
func NewTokens(source string, opts Options) (*Tokens, error) {
	s, err := ParseSource(source)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = tokens.DefaultLookupTimeout
	}
	ns := s.Namespace
	if ns != "" {
		ns += ":"
	}
	client := goredis.NewClient(&goredis.Options{
		Addr:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Password: s.Password,
		DB:       s.DB,
		// RESP2, as redis-py speaks: no push notifications, no HELLO.
		Protocol:                 2,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		DisableIdentity:          true,
		ContextTimeoutEnabled:    true,
		DialTimeout:              timeout,
		ReadTimeout:              timeout,
		WriteTimeout:             timeout,
		// One retry, for a pooled connection that the server closed.
		MaxRetries:    1,
		DialerRetries: 1,
	})
	return &Tokens{client: client, namespace: ns, timeout: timeout}, nil
}

// Lookup returns the target stored under the token's key. It returns an
// error wrapping proxy.ErrUnknownToken when there is no such key, and other
// errors when Redis cannot be reached in time (wrapping
// context.DeadlineExceeded on a timeout) or the value is not a target.
func (r *Tokens) Lookup(ctx context.Context, token string) (proxy.Target, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := r.client.Get(ctx, r.namespace+token).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		return proxy.Target{}, proxy.ErrUnknownToken
	case err != nil && ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded):
		return proxy.Target{}, fmt.Errorf("redis: %w (%w)", err, ctx.Err())
	case err != nil:
		return proxy.Target{}, fmt.Errorf("redis: %w", err)
	}
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "{") {
		var j struct {
			Host *string `json:"host"`
		}
		if err := json.Unmarshal([]byte(v), &j); err != nil {
			return proxy.Target{}, fmt.Errorf("redis: value of %q: %w", r.namespace+token, err)
		}
		if j.Host == nil {
			return proxy.Target{}, fmt.Errorf(`redis: value of %q: no "host"`, r.namespace+token)
		}
		v = *j.Host
	}
	t, err := tokens.ParseTarget(v)
	if err != nil {
		return proxy.Target{}, fmt.Errorf("redis: value of %q: %w", r.namespace+token, err)
	}
	return t, nil
}

// Close closes the connections to Redis. It returns the client's error.
func (r *Tokens) Close() error { return r.client.Close() }

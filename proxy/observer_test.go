package proxy_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/auth"
)

// event is one call to an Observer.
type event struct {
	kind   string // "rejected", "opened", "closed", "heartbeat"
	reason proxy.RejectReason
	err    error
	info   *proxy.SessionInfo
	ci     proxy.CloseInfo
}

// chanObserver sends each call it gets on events.
type chanObserver struct{ events chan event }

func newChanObserver() *chanObserver { return &chanObserver{events: make(chan event, 100)} }

func (o *chanObserver) Rejected(reason proxy.RejectReason, err error) {
	o.events <- event{kind: "rejected", reason: reason, err: err}
}
func (o *chanObserver) SessionOpened(info *proxy.SessionInfo) {
	o.events <- event{kind: "opened", info: info}
}
func (o *chanObserver) SessionClosed(info *proxy.SessionInfo, ci proxy.CloseInfo) {
	o.events <- event{kind: "closed", info: info, ci: ci}
}
func (o *chanObserver) HeartbeatTimeout(info *proxy.SessionInfo) {
	o.events <- event{kind: "heartbeat", info: info}
}

// next returns the next call, which must be of the given kind.
func (o *chanObserver) next(t testing.TB, kind string) event {
	t.Helper()
	select {
	case e := <-o.events:
		if e.kind != kind {
			t.Fatalf("observer got %s (%v, %v), want %s", e.kind, e.reason, e.err, kind)
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatalf("observer got nothing, want %s", kind)
		return event{}
	}
}

// none checks that no call comes within a short while.
func (o *chanObserver) none(t testing.TB) {
	t.Helper()
	select {
	case e := <-o.events:
		t.Fatalf("observer got %s (%v, %v), want nothing more", e.kind, e.reason, e.err)
	case <-time.After(50 * time.Millisecond):
	}
}

// waitStats polls the server's Stats until they are want.
func waitStats(t testing.TB, srv *proxy.Server, want proxy.Stats) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := srv.Stats()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A session is reported when it opens and when it closes; Stats count the
// bytes of open sessions and keep those of closed ones.
func TestObserverSession(t *testing.T) {
	t.Parallel()
	obs := newChanObserver()
	srv, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), Observer: obs})
	if got := srv.Stats(); got != (proxy.Stats{}) {
		t.Fatalf("Stats() before any session = %+v, want zero", got)
	}

	c := upgrade(t, addr)
	opened := obs.next(t, "opened")
	if opened.info.ID == (proxy.SessionID{}) || opened.info.Path != "/websockify" {
		t.Errorf("SessionOpened info %+v, want an ID and path /websockify", opened.info)
	}
	c.echo("hello")
	c.echo("wsproxy!")
	waitStats(t, srv, proxy.Stats{ToTarget: 13, ToClient: 13}) // live counters

	c.send(ws.OpClose, true, closeFrame(proxy.CloseNormal, "bye"))
	c.closeSent = true
	c.expectClose(proxy.CloseNormal, "")
	closed := obs.next(t, "closed")
	if closed.info != opened.info {
		t.Errorf("SessionClosed info %p, want SessionOpened's %p", closed.info, opened.info)
	}
	if ci := closed.ci; ci.By != proxy.SideClient || ci.Code != proxy.CloseNormal || ci.ToTarget != 13 || ci.ToClient != 13 || ci.Duration <= 0 || ci.Err != nil {
		t.Errorf("SessionClosed CloseInfo %+v, want by client, 1000, 13 bytes each way, a duration, no error", ci)
	}
	waitFor(t, "the session to end", func() bool { return srv.Active() == 0 })
	if got, want := srv.Stats(), (proxy.Stats{ToTarget: 13, ToClient: 13}); got != want {
		t.Errorf("Stats() after the session = %+v, want %+v", got, want)
	}

	// A second session adds to the totals.
	c = upgrade(t, addr)
	obs.next(t, "opened")
	c.echo("abc")
	waitStats(t, srv, proxy.Stats{ToTarget: 16, ToClient: 16})
	c.conn.Close()
	if ci := obs.next(t, "closed").ci; ci.ToTarget != 3 || ci.ToClient != 3 {
		t.Errorf("second session: CloseInfo %+v, want 3 bytes each way", ci)
	}
	obs.none(t)
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Each way a connection can fail before it becomes a session is reported
// once, with its reason.
func TestObserverRejected(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	echo := startEcho(t)
	unreachable := func() proxy.Target {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		return proxy.Target{Address: ln.Addr().String()}
	}()
	tokens := mapTokens{"jwt": fmt.Errorf("%w: expired", proxy.ErrInvalidToken), "down": errors.New("connection refused")}
	tests := []struct {
		name    string
		opts    proxy.ServerOptions
		connect func(t *testing.T, addr string)
		want    proxy.RejectReason
		status  int // of the answer, 0 for none
	}{
		{
			name:    "BadRequest",
			connect: func(t *testing.T, addr string) { dial(t, addr, "NOT HTTP AT ALL\r\n\r\n").readResponse() },
			want:    proxy.RejectBadRequest, status: http.StatusBadRequest,
		},
		{
			name:    "BadVersion",
			connect: func(t *testing.T, addr string) { dial(t, addr, request("Sec-WebSocket-Version: 99")).readResponse() },
			want:    proxy.RejectBadRequest, status: http.StatusBadRequest,
		},
		{
			name:    "NotUpgrade",
			connect: func(t *testing.T, addr string) { dial(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").readResponse() },
			want:    proxy.RejectBadRequest, status: http.StatusMethodNotAllowed,
		},
		{
			name:    "Auth",
			opts:    proxy.ServerOptions{Authenticator: auth.NewBasic("alice", "s3cret")},
			connect: func(t *testing.T, addr string) { dial(t, addr, request(basic("alice:wrong"))).readResponse() },
			want:    proxy.RejectAuth, status: http.StatusUnauthorized,
		},
		{
			name:    "UnknownToken",
			opts:    proxy.ServerOptions{Resolver: &proxy.TokenResolver{Tokens: tokens}},
			connect: func(t *testing.T, addr string) { dial(t, addr, request()).readResponse() },
			want:    proxy.RejectUnknownToken, status: http.StatusNotFound,
		},
		{
			name: "InvalidToken",
			opts: proxy.ServerOptions{Resolver: &proxy.TokenResolver{Tokens: tokens}},
			connect: func(t *testing.T, addr string) {
				dial(t, addr, "GET /?token=jwt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: "+testKey+"\r\nSec-WebSocket-Version: 13\r\n\r\n").readResponse()
			},
			want: proxy.RejectInvalidToken, status: http.StatusForbidden,
		},
		{
			name: "MissingToken",
			opts: proxy.ServerOptions{Resolver: &proxy.TokenResolver{Tokens: tokens}},
			connect: func(t *testing.T, addr string) {
				dial(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: "+testKey+"\r\nSec-WebSocket-Version: 13\r\n\r\n").readResponse()
			},
			want: proxy.RejectBadRequest, status: http.StatusBadRequest,
		},
		{
			name: "LookupFailed",
			opts: proxy.ServerOptions{Resolver: &proxy.TokenResolver{Tokens: tokens}},
			connect: func(t *testing.T, addr string) {
				dial(t, addr, "GET /?token=down HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: "+testKey+"\r\nSec-WebSocket-Version: 13\r\n\r\n").readResponse()
			},
			want: proxy.RejectResolve, status: http.StatusBadGateway,
		},
		{
			name: "ResolverPanic",
			opts: proxy.ServerOptions{Resolver: proxy.ResolverFunc(func(context.Context, *proxy.Request) (proxy.Target, error) {
				panic("resolver bug")
			})},
			connect: func(t *testing.T, addr string) { dial(t, addr, request()).readResponse() },
			want:    proxy.RejectResolve, // a *PanicError, answered 500
		},
		{
			name:    "Plain",
			opts:    proxy.ServerOptions{TLSConfig: serverTLS, RequireTLS: true},
			connect: func(t *testing.T, addr string) { dial(t, addr, request()).expectEOF() },
			want:    proxy.RejectPlain,
		},
		{
			name: "TLS",
			opts: proxy.ServerOptions{TLSConfig: serverTLS},
			connect: func(t *testing.T, addr string) {
				c := dial(t, addr, "\x16\x03\x01\x00\x05hello")
				c.br.ReadByte() // an alert, then EOF
			},
			want: proxy.RejectTLS,
		},
		{
			name: "TLSNotConfigured",
			connect: func(t *testing.T, addr string) {
				if conn, err := tls.Dial("tcp", addr, clientTLS); err == nil {
					conn.Close()
					t.Error("TLS handshake succeeded without a TLS configuration")
				}
			},
			want: proxy.RejectTLS,
		},
		{
			name:    "Timeout",
			opts:    proxy.ServerOptions{FirstByteTimeout: 50 * time.Millisecond},
			connect: func(t *testing.T, addr string) { dial(t, addr, "").expectEOF() },
			want:    proxy.RejectTimeout,
		},
		{
			name:    "HandshakeTimeout",
			opts:    proxy.ServerOptions{HandshakeTimeout: 100 * time.Millisecond},
			connect: func(t *testing.T, addr string) { dial(t, addr, "GET / HTTP/1.1\r\n").expectEOF() },
			want:    proxy.RejectTimeout,
		},
		{
			name: "Closed",
			connect: func(t *testing.T, addr string) {
				c := dial(t, addr, "GET / HTTP/1.1\r\n")
				c.conn.(*net.TCPConn).CloseWrite()
				c.expectEOF()
			},
			want: proxy.RejectClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obs := newChanObserver()
			tt.opts.Observer = obs
			if tt.opts.Resolver == nil {
				tt.opts.Resolver = echo
			}
			_, addr := startServer(t, tt.opts)
			tt.connect(t, addr)
			e := obs.next(t, "rejected")
			if e.reason != tt.want {
				t.Errorf("Rejected(%v, %v), want reason %v", e.reason, e.err, tt.want)
			}
			var herr *proxy.HTTPError
			switch {
			case tt.status != 0 && (!errors.As(e.err, &herr) || herr.Status != tt.status):
				t.Errorf("Rejected error %v, want an *HTTPError with status %d", e.err, tt.status)
			case tt.status == 0 && e.err == nil:
				t.Errorf("Rejected error nil, want the cause")
			}
			obs.none(t)
		})
	}

	// A session whose target cannot be reached is reported as opened, as
	// target_unreachable, and as closed with the dial error.
	t.Run("TargetUnreachable", func(t *testing.T) {
		t.Parallel()
		obs := newChanObserver()
		_, addr := startServer(t, proxy.ServerOptions{Resolver: unreachable, Observer: obs})
		c := upgrade(t, addr)
		c.expectClose(proxy.CloseInternalError, "Failed to connect to downstream server")
		obs.next(t, "opened")
		if e := obs.next(t, "rejected"); e.reason != proxy.RejectTargetUnreachable || e.err == nil {
			t.Errorf("Rejected(%v, %v), want target_unreachable with the dial error", e.reason, e.err)
		}
		if ci := obs.next(t, "closed").ci; ci.By != proxy.SideProxy || ci.Code != proxy.CloseInternalError || ci.Err == nil {
			t.Errorf("SessionClosed CloseInfo %+v, want by proxy, 1011, with the dial error", ci)
		}
		obs.none(t)
	})
}

// A client that does not answer pings is reported before its session
// closes.
func TestObserverHeartbeatTimeout(t *testing.T) {
	t.Parallel()
	obs := newChanObserver()
	c, _ := session(t, proxy.ServerOptions{Observer: obs, Heartbeat: 20 * time.Millisecond, HeartbeatTimeout: 100 * time.Millisecond})
	opened := obs.next(t, "opened")
	c.expectClose(proxy.CloseGoingAway, "Heartbeat timeout")
	if e := obs.next(t, "heartbeat"); e.info != opened.info {
		t.Errorf("HeartbeatTimeout info %p, want the session's %p", e.info, opened.info)
	}
	if ci := obs.next(t, "closed").ci; ci.By != proxy.SideProxy || ci.Code != proxy.CloseGoingAway {
		t.Errorf("SessionClosed CloseInfo %+v, want by proxy, 1001", ci)
	}
	obs.none(t)
}

// panicObserver panics in every method.
type panicObserver struct{}

func (panicObserver) Rejected(proxy.RejectReason, error)                { panic("observer bug") }
func (panicObserver) SessionOpened(*proxy.SessionInfo)                  { panic("observer bug") }
func (panicObserver) SessionClosed(*proxy.SessionInfo, proxy.CloseInfo) { panic("observer bug") }
func (panicObserver) HeartbeatTimeout(*proxy.SessionInfo)               { panic("observer bug") }

// A panicking Observer changes nothing for the clients.
func TestObserverPanics(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), Observer: panicObserver{}})
	if resp := dial(t, addr, request("Sec-WebSocket-Version: 99")).readResponse(); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad request: status %d, want 400", resp.StatusCode)
	}
	c := upgrade(t, addr)
	c.echo("still here")
	c.conn.Close()
	waitFor(t, "the session to end", func() bool { return srv.Active() == 0 })
	c = upgrade(t, addr)
	c.echo("and again")
	waitStats(t, srv, proxy.Stats{ToTarget: 19, ToClient: 19})
}

// Every reason has its own label.
func TestRejectReasonString(t *testing.T) {
	t.Parallel()
	reasons := proxy.RejectReasons()
	if len(reasons) != 11 {
		t.Errorf("RejectReasons() has %d reasons, want 11", len(reasons))
	}
	seen := map[string]bool{}
	for _, r := range reasons {
		s := r.String()
		if s == "unknown" || seen[s] {
			t.Errorf("reason %d: label %q is unknown or repeated", r, s)
		}
		seen[s] = true
	}
	for _, r := range []proxy.RejectReason{0, 200} {
		if s := r.String(); s != "unknown" {
			t.Errorf("RejectReason(%d).String() = %q, want unknown", r, s)
		}
	}
	if got := proxy.RejectTargetUnreachable.String(); got != "target_unreachable" {
		t.Errorf("RejectTargetUnreachable.String() = %q", got)
	}
}

package proxy_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsproxy/wsproxy/proxy"
)

// A panicking hook fails its own request or session; the server goes on
// serving.
func TestHookPanics(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	resolver := proxy.ResolverFunc(func(ctx context.Context, r *proxy.Request) (proxy.Target, error) {
		if r.HTTP.URL.Query().Get("token") == "boom" {
			panic("resolver bug")
		}
		return echo, nil
	})
	tap := &panicTap{}
	_, addr := startServer(t, proxy.ServerOptions{Resolver: resolver, NewTap: func(context.Context, *proxy.SessionInfo) (proxy.Tap, error) {
		return tap, nil
	}})

	raw := strings.Replace(request(), "token=secret", "token=boom", 1)
	if resp := dial(t, addr, raw).readResponse(); resp.StatusCode != 500 {
		t.Fatalf("panicking resolver: status %d, want 500", resp.StatusCode)
	}
	c := upgrade(t, addr)
	c.send(ws.OpBinary, true, []byte("boom"))
	c.expectClose(proxy.CloseInternalError, "Recording failed")

	// The server still proxies.
	c = upgrade(t, addr)
	c.echo("still here")
}

// panicTap panics on a message "boom".
type panicTap struct{}

func (*panicTap) Frame(_ proxy.Direction, _ proxy.MessageType, _ time.Duration, p []byte) error {
	if string(p) == "boom" {
		panic("tap bug")
	}
	return nil
}

func (*panicTap) Close(proxy.CloseInfo) error { return nil }

// A Target with a Dialer is played through whatever connection it returns.
func TestTargetDialer(t *testing.T) {
	t.Parallel()
	target := proxy.Target{Address: "pipe", Dialer: func(context.Context) (net.Conn, error) {
		a, b := net.Pipe()
		go func() {
			defer b.Close()
			b.Write([]byte("from the pipe"))
		}()
		return a, nil
	}}
	_, addr := startServer(t, proxy.ServerOptions{Resolver: target})
	c := upgrade(t, addr)
	if got := c.readMessage(ws.OpBinary); string(got) != "from the pipe" {
		t.Fatalf("got %q", got)
	}
	c.expectClose(proxy.CloseNormal, "Target closed")
}

package main

import (
	"context"
	"errors"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
)

// --client-timeout: a client that goes away (a reset) while the target
// neither reads nor writes is noticed, through wsproxy's own wrapping of
// accepted connections, and its session closed and logged with the error.
// Without it nobody reads or writes the client's connection and the
// session stays open.
func TestProxyClientTimeout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"Plain", nil},
		{"TrustedProxy", []string{"--trusted-proxy", "127.0.0.0/8"}}, // under the PROXY protocol's wrapping
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testClientTimeout(t, tt.args...)
		})
	}
}

func testClientTimeout(t *testing.T, args ...string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // and never read
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
	})

	in := startRun(t, append(args, "--client-timeout", "1", "127.0.0.1:0", ln.Addr().String())...)
	var tcp *net.TCPConn
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			tcp = c.(*net.TCPConn)
		}
		return c, err
	}
	c, err := dialWS(t, "ws://"+in.addr+"/", nil, dial)
	if err != nil {
		t.Fatal(err)
	}

	// Write until the target's backpressure reaches the client.
	var wg sync.WaitGroup
	defer wg.Wait()
	stalled := make(chan struct{})
	wg.Go(func() {
		msg := make([]byte, 64<<10)
		for {
			c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			err := wsutil.WriteClientBinary(c, msg)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				close(stalled)
				return
			}
			if err != nil {
				t.Errorf("write: %v", err)
				close(stalled)
				return
			}
		}
	})
	select {
	case <-stalled:
	case <-time.After(waitTimeout):
		t.Fatal("the client's writes never stalled")
	}
	tcp.SetLinger(0)
	tcp.Close() // a reset
	start := time.Now()

	line := in.stderr.Wait(t, regexp.MustCompile(`msg="session closed" .*`))[0]
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("closed %v after the reset, want within about 250ms (--client-timeout/4)", took)
	}
	if want := regexp.MustCompile(`by=client code=1006 .*err="client connection lost: connection reset by peer"`); !want.MatchString(line) {
		t.Errorf("got %s\nwant it to match %s", line, want)
	}
}

package proxy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/proxy"
)

// deliveryTap is a recordingTap that also logs, in one sequence with its
// Frame calls, each Delivered call; failDelivered > 0 makes that one fail.
type deliveryTap struct {
	*recordingTap
	events        []string
	failDelivered int
	delivered     int
}

func (d *deliveryTap) newTap(ctx context.Context, info *proxy.SessionInfo) (proxy.Tap, error) {
	if _, err := d.recordingTap.newTap(ctx, info); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *deliveryTap) Frame(dir proxy.Direction, typ proxy.MessageType, at time.Duration, payload []byte) error {
	if err := d.recordingTap.Frame(dir, typ, at, payload); err != nil {
		return err
	}
	d.mu.Lock()
	d.events = append(d.events, fmt.Sprintf("%v %s", dir, payload))
	d.mu.Unlock()
	return nil
}

func (d *deliveryTap) Delivered() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.delivered++
	d.events = append(d.events, "delivered")
	if d.delivered == d.failDelivered {
		return errTapFull
	}
	return nil
}

// TestDeliveryTap: a DeliveryTap hears of each target→client message after
// its Frame call, once it was sent, and of no client→target message.
func TestDeliveryTap(t *testing.T) {
	t.Parallel()
	tap := &deliveryTap{recordingTap: newRecordingTap()}
	c, target := session(t, proxy.ServerOptions{NewTap: tap.newTap})
	for _, m := range []string{"one", "two"} {
		target.Write([]byte(m))
		if got := c.readMessage(ws.OpBinary); string(got) != m {
			t.Fatalf("client got %q, want %q", got, m)
		}
	}
	c.send(ws.OpBinary, true, []byte("up"))
	if got := readFull(t, target, 2); string(got) != "up" {
		t.Fatalf("target got %q", got)
	}
	c.send(ws.OpClose, true, closeFrame(1000, ""))
	c.expectClose(proxy.CloseNormal, "")
	tap.waitClosed(t)
	tap.mu.Lock()
	defer tap.mu.Unlock()
	// The client→target message may come before the second Delivered:
	// the client can answer before the proxy's write has returned.
	var out []string
	for _, e := range tap.events {
		if e != "client->target up" {
			out = append(out, e)
		}
	}
	want := []string{"target->client one", "delivered", "target->client two", "delivered"}
	if fmt.Sprint(out) != fmt.Sprint(want) || len(tap.events) != len(want)+1 {
		t.Errorf("events %q, want %q and client->target up", tap.events, want)
	}
}

// TestDeliveryTapError: an error from Delivered closes the session with
// 1011 "Recording failed"; the message was already sent.
func TestDeliveryTapError(t *testing.T) {
	t.Parallel()
	tap := &deliveryTap{recordingTap: newRecordingTap(), failDelivered: 1}
	c, target := session(t, proxy.ServerOptions{NewTap: tap.newTap})
	target.Write([]byte("sent"))
	if got := c.readMessage(ws.OpBinary); string(got) != "sent" {
		t.Fatalf("client got %q", got)
	}
	c.expectClose(proxy.CloseInternalError, "Recording failed")
	ci, _ := tap.waitClosed(t)
	if ci.By != proxy.SideProxy || ci.ToClient != 4 {
		t.Errorf("CloseInfo %+v, want by the proxy, 4 bytes to the client", ci)
	}
}

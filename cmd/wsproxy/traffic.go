package main

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
)

// trafficLegend is what websockify prints on standard output at the start
// of each session with --traffic (websocketproxy.py, traffic_legend).
// wsproxy's writes are never partial, so it prints no "." marks.
const trafficLegend = `
Traffic Legend:
    }  - Client receive
    }. - Client receive partial
    {  - Target receive

    >  - Target send
    >. - Target send partial
    <  - Client send
    <. - Client send partial
`

// newTrafficTap returns the NewTap function of --traffic: each session's
// tap prints the legend, then "}>" for each message from the client (it is
// received, then sent to the target) and "{<" for each chunk from the
// target, on w, as websockify's print_traffic does on standard output.
func newTrafficTap(w io.Writer) func(context.Context, *proxy.SessionInfo) (proxy.Tap, error) {
	out := &lockedWriter{w: w}
	return func(context.Context, *proxy.SessionInfo) (proxy.Tap, error) {
		out.write(trafficLegend)
		return trafficTap{out}, nil
	}
}

// trafficTap is one session's --traffic tap.
type trafficTap struct{ out *lockedWriter }

func (t trafficTap) Frame(dir proxy.Direction, _ proxy.MessageType, _ time.Duration, _ []byte) error {
	if dir == proxy.ClientToTarget {
		t.out.write("}>")
	} else {
		t.out.write("{<")
	}
	return nil // a full standard output is no reason to end the session
}

func (trafficTap) Close(proxy.CloseInfo) error { return nil }

// lockedWriter serializes the sessions' writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) write(s string) {
	l.mu.Lock()
	io.WriteString(l.w, s)
	l.mu.Unlock()
}

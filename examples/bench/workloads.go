//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsproxy/wsproxy/internal/cputime"
)

// Metric keys of a measurement.
const (
	mbps      = "MB/s"             // t2c, c2t, par
	p50       = "p50_us"           // echo
	p99       = "p99_us"           // echo
	kibPer    = "rss_KiB_per_conn" // idle
	pssPer    = "pss_KiB_per_conn" // idle
	idleConns = "conns"            // idle: sessions opened
	connPerS  = "conn/s"           // connrate
	connErrs  = "errors"           // connrate: failed sessions

	// The relay's CPU time (user and system, all its processes and
	// threads) during the measurement, per unit of work.
	cpuPerGB   = "cpu_s_per_GB"
	cpuPerTrip = "cpu_us_per_round_trip"
	cpuPerConn = "cpu_us_per_conn"
	// This process's CPU time (clients and target) per session in connrate.
	benchCPUPerConn = "bench_cpu_us_per_conn"
)

// workload is one of the measurements, run against each relay in turn.
type workload struct {
	key     string
	primary string // the metric that picks the median run of -count
	run     func(b *bench, ctx context.Context, spec *relaySpec) (measurement, error)
}

var workloads = []workload{
	{"t2c", mbps, func(b *bench, ctx context.Context, s *relaySpec) (measurement, error) {
		return b.download(ctx, s, 1)
	}},
	{"c2t", mbps, (*bench).upload},
	{"par", mbps, func(b *bench, ctx context.Context, s *relaySpec) (measurement, error) {
		return b.download(ctx, s, b.o.parallel)
	}},
	{"echo", p50, (*bench).echo},
	{"idle", kibPer, (*bench).idle},
	{"connrate", connPerS, (*bench).connRate},
}

func workloadKeys() []string {
	var keys []string
	for _, w := range workloads {
		keys = append(keys, w.key)
	}
	return keys
}

func workloadByKey(key string) workload {
	for _, w := range workloads {
		if w.key == key {
			return w
		}
	}
	panic("unknown workload " + key)
}

// startRelay starts spec relaying to t.
func (b *bench) startRelay(ctx context.Context, spec *relaySpec, t *target) (*relay, error) {
	return startRelay(ctx, spec, t.addr(), b.dir)
}

// relayTo starts a target that serves each connection with handle, and
// spec relaying to it; stop stops both.
func (b *bench) relayTo(ctx context.Context, spec *relaySpec, handle func(net.Conn)) (t *target, r *relay, stop func(), err error) {
	if t, err = startTarget(handle); err != nil {
		return nil, nil, nil, err
	}
	if r, err = b.startRelay(ctx, spec, t); err != nil {
		t.close()
		return nil, nil, nil, err
	}
	return t, r, func() { r.stop(); t.close() }, nil
}

// relayClient starts spec relaying to t and connects one client to it,
// with a 4 KiB read buffer; stop closes both.
func (b *bench) relayClient(ctx context.Context, spec *relaySpec, t *target) (r *relay, c *client, stop func(), err error) {
	if r, err = b.startRelay(ctx, spec, t); err != nil {
		return nil, nil, nil, err
	}
	if c, err = dialClient(ctx, r, 4096); err != nil {
		r.stop()
		return nil, nil, nil, err
	}
	return r, c, func() { c.conn.Close(); r.stop() }, nil
}

// acceptN takes n connections from a hand-over target.
func acceptN(ctx context.Context, conns <-chan net.Conn, n int) ([]net.Conn, error) {
	timeout := time.After(10 * time.Second)
	var got []net.Conn
	for len(got) < n {
		select {
		case c := <-conns:
			got = append(got, c)
		case <-timeout:
			return got, fmt.Errorf("target: %d connections from the relay, want %d", len(got), n)
		case <-ctx.Done():
			return got, ctx.Err()
		}
	}
	return got, nil
}

// download sends -size bytes from the target to the clients, over n
// connections at once, and measures the aggregate rate at which the
// clients receive them. Each connection carries -size/n bytes (which
// target connection belongs to which client is not known).
func (b *bench) download(ctx context.Context, spec *relaySpec, n int) (measurement, error) {
	t, conns, err := startHandOverTarget(n)
	if err != nil {
		return measurement{}, err
	}
	defer t.close()
	r, err := b.startRelay(ctx, spec, t)
	if err != nil {
		return measurement{}, err
	}
	defer r.stop()
	clients := make([]*client, 0, n)
	defer func() {
		for _, c := range clients {
			c.conn.Close()
		}
	}()
	for range n {
		c, err := dialClient(ctx, r, 256<<10)
		if err != nil {
			return measurement{}, err
		}
		clients = append(clients, c)
	}
	tconns, err := acceptN(ctx, conns, n)
	if err != nil {
		return measurement{}, err
	}

	per := int64(b.o.size) / int64(n)
	size := per * int64(n)
	var (
		received atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		cut      bool
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			cut = true
		} else if firstErr == nil {
			firstErr = err
		}
	}
	chunks := b.payloads(256 << 10)
	deadline := time.Now().Add(b.o.maxTime)
	cpu := r.cpuMeter()
	start := time.Now()
	senders := make(chan error, n)
	for _, tc := range tconns {
		go func() { senders <- send(tc, chunks, per, deadline) }()
	}
	for _, c := range clients {
		wg.Go(func() {
			c.conn.SetReadDeadline(deadline)
			got, err := c.discard(per)
			received.Add(got)
			if err != nil {
				fail(fmt.Errorf("client: %w", err))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	used := cpu()
	for _, tc := range tconns {
		tc.Close() // ends the senders of a cut run
	}
	for range tconns {
		if err := <-senders; err != nil && !cut {
			fail(fmt.Errorf("target: %w", err))
		}
	}
	if firstErr != nil {
		return measurement{}, errors.Join(firstErr, r.alive())
	}
	return throughput(received.Load(), size, elapsed, used, cut), nil
}

// send writes n bytes of chunks, in turn, to c.
func send(c net.Conn, chunks [][]byte, n int64, deadline time.Time) error {
	c.SetWriteDeadline(deadline)
	for i := 0; n > 0; i++ {
		chunk := chunks[i%len(chunks)]
		p := chunk[:min(int64(len(chunk)), n)]
		if _, err := c.Write(p); err != nil {
			return err
		}
		n -= int64(len(p))
	}
	return nil
}

// payloads returns the chunks of size bytes that t2c, c2t and par send, by
// -payload: one chunk of "wsproxy " repeated, or 32 MiB of random bytes cut
// into chunks (more than zstd's window at any level, so that a recording
// cannot compress them by matching earlier ones).
func (b *bench) payloads(size int) [][]byte {
	if b.o.payload != "random" {
		return [][]byte{bytes.Repeat([]byte("wsproxy "), (size+7)/8)[:size]}
	}
	rng := rand.NewChaCha8([32]byte{'w', 's'})
	chunks := make([][]byte, max(1, 32<<20/size))
	for i := range chunks {
		chunks[i] = make([]byte, size)
		rng.Read(chunks[i])
	}
	return chunks
}

// throughput is the measurement of moved bytes in elapsed; cut means the
// transfer was stopped by -max-time before size bytes.
func throughput(moved, size int64, elapsed, cpu time.Duration, cut bool) measurement {
	m := measurement{
		Metrics: map[string]float64{mbps: float64(moved) / 1e6 / elapsed.Seconds()},
		Seconds: elapsed.Seconds(),
	}
	if cpu >= 0 && moved > 0 {
		m.Metrics[cpuPerGB] = cpu.Seconds() / (float64(moved) / 1e9)
	}
	if cut {
		m.Note = fmt.Sprintf("cut by -max-time after %s of %s", byteSize(moved), byteSize(size))
	}
	return m
}

// upload sends -size bytes from one client to the target, as messages of
// -frame bytes, and measures the rate at which the target receives them.
func (b *bench) upload(ctx context.Context, spec *relaySpec) (measurement, error) {
	t, conns, err := startHandOverTarget(1)
	if err != nil {
		return measurement{}, err
	}
	defer t.close()
	r, c, stop, err := b.relayClient(ctx, spec, t)
	if err != nil {
		return measurement{}, err
	}
	defer stop()
	tconns, err := acceptN(ctx, conns, 1)
	if err != nil {
		return measurement{}, err
	}
	tc := tconns[0]

	size, frameSize := int64(b.o.size), int64(b.o.frame)
	payloads := b.payloads(int(frameSize))
	msgs := make([][]byte, len(payloads))
	for i, p := range payloads {
		msgs[i] = c.message(p)
	}
	var last []byte
	if rest := size % frameSize; rest > 0 {
		last = c.message(payloads[0][:rest])
	}
	deadline := time.Now().Add(b.o.maxTime)
	var received atomic.Int64
	sink := make(chan error, 1)
	cpu := r.cpuMeter()
	start := time.Now()
	go func() {
		tc.SetReadDeadline(deadline)
		buf := make([]byte, 256<<10)
		for received.Load() < size {
			n, err := tc.Read(buf)
			received.Add(int64(n))
			if err != nil {
				sink <- err
				return
			}
		}
		sink <- nil
	}()
	c.conn.SetWriteDeadline(deadline)
	var werr error
	for sent, i := int64(0), 0; sent < size && werr == nil; sent, i = sent+frameSize, i+1 {
		p := msgs[i%len(msgs)]
		if size-sent < frameSize {
			p = last
		}
		_, werr = c.conn.Write(p)
	}
	var serr error
	if werr == nil || errors.Is(werr, os.ErrDeadlineExceeded) {
		serr = <-sink
	}
	elapsed := time.Since(start)
	used := cpu()
	tc.Close() // ends the sink after a write error
	cut := errors.Is(werr, os.ErrDeadlineExceeded) || errors.Is(serr, os.ErrDeadlineExceeded)
	switch {
	case werr != nil && !cut:
		return measurement{}, errors.Join(fmt.Errorf("client: %w", werr), r.alive())
	case serr != nil && !cut:
		return measurement{}, errors.Join(fmt.Errorf("target: %w", serr), r.alive())
	}
	return throughput(received.Load(), size, elapsed, used, cut), nil
}

// echo measures the round trip of a 64-byte message through the relay to
// an echo target and back, -echo-count times after 100 untimed ones.
func (b *bench) echo(ctx context.Context, spec *relaySpec) (measurement, error) {
	t, err := startTarget(echo)
	if err != nil {
		return measurement{}, err
	}
	defer t.close()
	r, c, stop, err := b.relayClient(ctx, spec, t)
	if err != nil {
		return measurement{}, err
	}
	defer stop()

	payload := make([]byte, 64)
	for i := range payload {
		payload[i] = byte(rand.IntN(256))
	}
	msg := c.message(payload)
	got := make([]byte, len(payload))
	deadline := time.Now().Add(b.o.maxTime)
	c.conn.SetDeadline(deadline)
	roundTrip := func() (time.Duration, error) {
		t0 := time.Now()
		if _, err := c.conn.Write(msg); err != nil {
			return 0, err
		}
		if err := c.readFull(got); err != nil {
			return 0, err
		}
		d := time.Since(t0)
		if !bytes.Equal(got, payload) {
			return 0, fmt.Errorf("echo: got %x, want %x", got, payload)
		}
		return d, nil
	}
	for range 100 {
		if _, err := roundTrip(); err != nil {
			return measurement{}, errors.Join(err, r.alive())
		}
	}
	lat := make([]time.Duration, 0, b.o.echoCount)
	cpu := r.cpuMeter()
	start := time.Now()
	for len(lat) < b.o.echoCount && time.Now().Before(deadline) {
		d, err := roundTrip()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			return measurement{}, errors.Join(err, r.alive())
		}
		lat = append(lat, d)
	}
	if len(lat) == 0 {
		return measurement{}, errors.New("no round trip within -max-time")
	}
	m := measurement{Seconds: time.Since(start).Seconds()}
	used := cpu()
	slices.Sort(lat)
	us := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Microsecond)
	}
	m.Metrics = map[string]float64{p50: us(0.50), p99: us(0.99)}
	if used >= 0 {
		m.Metrics[cpuPerTrip] = float64(used) / float64(time.Microsecond) / float64(len(lat))
	}
	if len(lat) < b.o.echoCount {
		m.Note = fmt.Sprintf("cut by -max-time after %d round trips", len(lat))
	}
	return m, nil
}

// idle opens -idle-conns sessions (-idle-conns-forking for relays that fork
// a process per connection) that send nothing, and measures how much the
// resident memory of the relay's process tree grew per session.
func (b *bench) idle(ctx context.Context, spec *relaySpec) (measurement, error) {
	n, note := b.idleCount(spec)
	t, r, stop, err := b.relayTo(ctx, spec, hold)
	if err != nil {
		return measurement{}, err
	}
	defer stop()
	time.Sleep(300 * time.Millisecond) // let it finish starting
	before, err := r.memory()
	if err != nil {
		return measurement{}, err
	}

	start := time.Now()
	clients := make([]*client, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dialClient(ctx, r, 16)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("session %d: %w", i, err)
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the others
					return
				}
				clients[i] = c
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return measurement{}, errors.Join(firstErr, r.alive())
	}
	if err := t.waitAccepted(ctx, int64(n), 30*time.Second); err != nil {
		return measurement{}, err
	}
	opened := time.Since(start)
	time.Sleep(time.Second) // let per-connection processes and buffers settle
	after, err := r.memory()
	if err != nil {
		return measurement{}, err
	}
	if err := r.alive(); err != nil {
		return measurement{}, err
	}
	m := measurement{
		Metrics: map[string]float64{
			kibPer:    (float64(after.RSS) - float64(before.RSS)) / float64(n) / 1024,
			pssPer:    (float64(after.PSS) - float64(before.PSS)) / float64(n) / 1024,
			idleConns: float64(n),
		},
		Seconds: opened.Seconds(),
		Note: joinNotes(note, fmt.Sprintf("RSS %.1f MiB before, %.1f MiB after in %d processes",
			float64(before.RSS)/(1<<20), float64(after.RSS)/(1<<20), after.Procs)),
	}
	return m, nil
}

// idleCount returns how many idle sessions to open through spec, and why
// when it is fewer than -idle-conns.
func (b *bench) idleCount(spec *relaySpec) (int, string) {
	n, note := b.o.idleConns, ""
	if spec.forking && b.o.idleForking < n {
		n = b.o.idleForking
		note = fmt.Sprintf("N=%d: a process per connection", n)
	}
	// A recorded session also holds its file open in the relay.
	relayFDs, max := 2, b.maxIdle
	if spec.record {
		relayFDs, max = 3, b.maxIdle*2/3
	}
	if n > max {
		n = max
		note = joinNotes(note, fmt.Sprintf("N=%d: the open file limit is %d, and a session takes %d descriptors in the relay and 2 here", n, b.fdLimit, relayFDs))
	}
	return n, note
}

// connRate opens sessions for -duration, -concurrency at a time; each sends
// one 64-byte message, reads the echo and closes (with the WebSocket
// closing handshake). It measures completed sessions per second.
func (b *bench) connRate(ctx context.Context, spec *relaySpec) (measurement, error) {
	_, r, stop, err := b.relayTo(ctx, spec, echo)
	if err != nil {
		return measurement{}, err
	}
	defer stop()

	payload := bytes.Repeat([]byte{'x'}, 64)
	var (
		done, failed atomic.Int64
		mu           sync.Mutex
		firstErr     error
		wg           sync.WaitGroup
	)
	one := func() error {
		c, err := dialClient(ctx, r, 512)
		if err != nil {
			return err
		}
		defer c.conn.Close()
		c.conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.conn.Write(c.message(payload)); err != nil {
			return err
		}
		got := make([]byte, len(payload))
		if err := c.readFull(got); err != nil {
			return err
		}
		if !bytes.Equal(got, payload) {
			return fmt.Errorf("echo: got %q", got)
		}
		return c.close()
	}
	cpu := r.cpuMeter()
	self := cputime.Self()
	start := time.Now()
	end := start.Add(b.o.duration)
	for range b.o.concurrency {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				if err := one(); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					if failed.Add(1) > 100 {
						return
					}
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	used, selfUsed := cpu(), cputime.Self()-self
	if done.Load() == 0 {
		return measurement{}, errors.Join(fmt.Errorf("no session completed: %w", firstErr), r.alive())
	}
	m := measurement{
		Metrics: map[string]float64{
			connPerS: float64(done.Load()) / elapsed.Seconds(),
			connErrs: float64(failed.Load()),
		},
		Seconds: elapsed.Seconds(),
	}
	perConn := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(done.Load()) }
	if used >= 0 {
		m.Metrics[cpuPerConn] = perConn(used)
	}
	m.Metrics[benchCPUPerConn] = perConn(selfUsed)
	m.Note = fmt.Sprintf("this process (clients and target) used %.0f µs CPU per session", perConn(selfUsed))
	if firstErr != nil {
		m.Note = joinNotes(m.Note, fmt.Sprintf("%d sessions failed, the first: %v", failed.Load(), firstErr))
	}
	return m, nil
}

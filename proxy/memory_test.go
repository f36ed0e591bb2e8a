package proxy_test

import (
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/wstest"
	"github.com/wsproxy/wsproxy/proxy"
)

// idleSessions is how many idle sessions TestIdleMemory opens; each takes
// four file descriptors in this process. WSPROXY_IDLE_SESSIONS overrides it.
const idleSessions = 1000

// TestIdleMemory opens idle sessions and checks what each costs the Go
// heap and stacks (the budget is 40 KiB RSS per idle connection).
// The test's own sockets are counted too. It is not parallel, so that the
// other tests' memory does not blur the measure.
func TestIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	t.Run("ws", func(t *testing.T) { testIdleMemory(t, false, 40<<10) })
	// crypto/tls keeps its record buffers on both sides of the test's
	// connections, and still fits.
	t.Run("wss", func(t *testing.T) { testIdleMemory(t, true, 40<<10) })
}

func testIdleMemory(t *testing.T, useTLS bool, budget float64) {
	n := idleSessions
	if s := os.Getenv("WSPROXY_IDLE_SESSIONS"); s != "" {
		n, _ = strconv.Atoi(s)
	}

	var (
		err     error
		mu      sync.Mutex
		targets []net.Conn
	)
	target := wstest.Serve(t, wstest.Listen(t, "tcp"), func(c net.Conn) {
		mu.Lock()
		targets = append(targets, c)
		mu.Unlock()
	})
	opts := proxy.ServerOptions{Resolver: proxy.Target{Address: target}}
	var clientTLS *tls.Config
	if useTLS {
		opts.TLSConfig, clientTLS = selfSigned(t)
		n /= 4 // TLS handshakes are slow
	}
	srv, addr := startServer(t, opts)

	before := memory()
	rssBefore := rss()
	clients := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	req := []byte(request())
	var resp [512]byte
	for range n {
		var c net.Conn
		if useTLS {
			c, err = tls.Dial("tcp", addr, clientTLS)
		} else {
			c, err = net.Dial("tcp", addr)
		}
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		c.Write(req)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, err := c.Read(resp[:])
		if err != nil || !bytes.HasPrefix(resp[:m], []byte("HTTP/1.1 101 ")) {
			t.Fatalf("upgrade: %q %v", resp[:m], err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); srv.Active() < n || len2(&mu, &targets) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions, %d target connections, want %d", srv.Active(), len2(&mu, &targets), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	after := memory()
	per := float64(after-before) / float64(n)
	rssPer := float64(int64(rss())-int64(rssBefore)) / float64(n)
	t.Logf("%d idle sessions: %.1f KiB Go heap+stacks each, %.1f KiB RSS each (whole test process)", n, per/1024, rssPer/1024)
	if !raceEnabled && per > budget {
		t.Errorf("%.1f KiB per idle session, want at most %.0f KiB", per/1024, budget/1024)
	}
}

func len2(mu *sync.Mutex, s *[]net.Conn) int {
	mu.Lock()
	defer mu.Unlock()
	return len(*s)
}

// memory returns the bytes in use by the Go heap and goroutine stacks,
// after a garbage collection.
func memory() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// rss returns the resident set size of the process, 0 where unknown.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

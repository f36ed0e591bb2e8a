package proxy

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// FuzzServeConn feeds arbitrary bytes to a connection as a client would:
// sniffing, the HTTP handshake and, after an upgrade, the frame parser.
// Nothing may panic or hang, and every goroutine must end.
//
//	go test -run '^$' -fuzz FuzzServeConn ./proxy/
func FuzzServeConn(f *testing.F) {
	const req = "GET /websockify HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	masked := func(b0 byte, payload string) string {
		mask := [4]byte{1, 2, 3, 4}
		p := []byte(payload)
		for i := range p {
			p[i] ^= mask[i%4]
		}
		return string([]byte{b0, 0x80 | byte(len(p)), 1, 2, 3, 4}) + string(p)
	}
	for _, seed := range []string{
		req + "\r\n",
		req + "\r\n" + masked(0x82, "hello") + masked(0x89, "ping") + masked(0x88, "\x03\xe8bye"),
		req + "\r\n" + masked(0x02, "frag") + masked(0x80, "ment"),
		req + "\r\n" + masked(0x81, "text"),
		req + "\r\n\x82\x05hello",
		req + "\r\n\x82\xff\x00\x00\x00\x00\xff\xff\xff\xff\x01\x02\x03\x04",
		req + "Sec-WebSocket-Protocol: base64\r\n\r\n" + masked(0x81, "aGVsbG8=") + masked(0x81, "!!"),
		req + "Sec-WebSocket-Protocol: chat\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"<policy-file-request/>\x00",
		"\x16\x03\x01\x00\x05hello",
		"GARBAGE\r\n\r\n",
		"",
	} {
		f.Add([]byte(seed))
	}

	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				io.Copy(c, c)
				c.Close()
			})
		}
	})
	srv, err := NewServer(ServerOptions{
		Resolver:         Target{Address: echo.Addr().String()},
		FirstByteTimeout: 200 * time.Millisecond,
		HandshakeTimeout: 200 * time.Millisecond,
		CloseTimeout:     100 * time.Millisecond,
		MaxMessageSize:   4096,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		srv.Close()
		echo.Close()
		wg.Wait()
	})

	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		if !srv.addConn(server) {
			t.Skip("server closed")
		}
		served := make(chan struct{})
		go func() {
			srv.serveConn(context.Background(), server)
			close(served)
		}()
		read := make(chan struct{})
		go func() {
			io.Copy(io.Discard, client)
			close(read)
		}()
		client.Write(data) // returns once the server has read it all, or closed
		client.Close()
		<-read
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Fatal("connection still served 5s after the client closed")
		}
	})
}

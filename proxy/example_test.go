package proxy_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/proxy"
)

// A proxy in front of a TCP echo server, as "wsproxy 127.0.0.1:0
// 127.0.0.1:PORT" runs it, and a WebSocket client talking through it.
func Example() {
	// The target: a TCP echo server.
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer echo.Close()
	go func() {
		c, err := echo.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()

	// The proxy.
	srv, err := proxy.NewServer(proxy.ServerOptions{
		Resolver: proxy.Target{Address: echo.Addr().String()},
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()

	// A client, as noVNC connects.
	ctx := context.Background()
	d := ws.Dialer{Protocols: []string{"binary"}}
	conn, _, hs, err := d.Dial(ctx, "ws://"+ln.Addr().String()+"/websockify")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subprotocol:", hs.Protocol)
	if err := wsutil.WriteClientBinary(conn, []byte("RFB 003.008\n")); err != nil {
		log.Fatal(err)
	}
	reply, err := wsutil.ReadServerBinary(conn)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("echoed: %q\n", reply)
	conn.Close()

	srv.Shutdown(ctx) // waits for the session to end
	fmt.Println(<-served)
	// Output:
	// subprotocol: binary
	// echoed: "RFB 003.008\n"
	// proxy: server closed
}

package replay_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/replay"
)

// A recording served as wsreplay serves it, and a client that plays it as
// fast as it reads (speed=max), as noVNC would connect with
// path=session.wsrec?speed=max.
func Example() {
	dir, err := os.MkdirTemp("", "replay-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A recording of an RFB handshake, as wsproxy --record-dir writes them.
	f, err := os.Create(filepath.Join(dir, "session.wsrec"))
	if err != nil {
		log.Fatal(err)
	}
	w, err := format.NewWriter(f, format.Header{}, format.WriterOptions{})
	if err != nil {
		log.Fatal(err)
	}
	w.WriteMessage(0, format.TargetToClient, format.Binary, []byte("RFB 003.008\n"))
	w.WriteMessage(30*time.Millisecond, format.ClientToTarget, format.Binary, []byte("RFB 003.008\n"))
	w.WriteMarker(35*time.Millisecond, "handshake")
	w.WriteMessage(40*time.Millisecond, format.TargetToClient, format.Binary, []byte{1, 1})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	f.Close()

	// The server, for every recording under dir.
	srv, err := replay.NewServer([]string{dir}, replay.ServerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(context.Background(), ln)
	defer srv.Close()

	recs, err := srv.Recordings()
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Printf("%s: %v, markers %v\n", r.Name, r.Duration, r.Markers)
	}

	// A client. The first message comes right after the handshake, so the
	// dialer may have read it already.
	conn, br, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/session.wsrec?speed=max")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	rw := io.ReadWriter(conn)
	if br != nil {
		rw = struct {
			io.Reader
			io.Writer
		}{io.MultiReader(br, conn), conn}
	}
	for {
		msg, op, err := wsutil.ReadServerData(rw)
		if err != nil {
			if ce, ok := err.(wsutil.ClosedError); ok {
				fmt.Println("closed:", ce.Code, ce.Reason)
				break
			}
			log.Fatal(err)
		}
		fmt.Printf("opcode %d: %q\n", op, msg)
	}
	// Output:
	// session.wsrec: 40ms, markers [{35ms handshake}]
	// opcode 2: "RFB 003.008\n"
	// opcode 2: "\x01\x01"
	// closed: 1000 Target closed
}

//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gobwas/ws"
)

// client is one connection to a relay: a WebSocket session (RFC 6455) for
// wsproxy and websockify, raw TCP for socat. It reads payload bytes the same
// way for both, so the workloads do not care which.
type client struct {
	conn net.Conn
	r    *bufio.Reader
	ws   bool
	left int64 // payload bytes left in the current frame
	hdr  [ws.MaxHeaderSize]byte
}

// dialClient connects to the relay r and, for WebSocket relays, completes
// the handshake as noVNC does (subprotocol "binary"). readBuf is the size
// of the client's read buffer.
func dialClient(ctx context.Context, r *relay, readBuf int) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if !r.spec.ws {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", r.addr)
		if err != nil {
			return nil, err
		}
		return &client{conn: conn, r: bufio.NewReaderSize(conn, readBuf)}, nil
	}
	d := ws.Dialer{Protocols: []string{"binary"}}
	conn, br, _, err := d.Dial(ctx, "ws://"+r.addr+"/websockify")
	if err != nil {
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	var rd io.Reader = conn
	if br != nil {
		// Frames that came with the handshake response.
		rd = io.MultiReader(br, conn)
	}
	return &client{conn: conn, r: bufio.NewReaderSize(rd, readBuf), ws: true}, nil
}

// message returns the bytes that send p as one message: a masked binary
// frame, or p itself over raw TCP. Writing the same frame again is valid:
// the server cannot tell a reused mask from a new one.
func (c *client) message(p []byte) []byte {
	if !c.ws {
		return p
	}
	return ws.MustCompileFrame(ws.MaskFrame(ws.NewBinaryFrame(p)))
}

// nextFrame reads frame headers until a data frame with a payload, skipping
// control frames. A close frame is io.EOF.
func (c *client) nextFrame() error {
	for c.left == 0 {
		h, err := ws.ReadHeaderBuffer(c.r, c.hdr[:])
		if err != nil {
			return err
		}
		if h.OpCode == ws.OpClose {
			return io.EOF
		}
		if h.OpCode.IsControl() {
			if _, err := c.r.Discard(int(h.Length)); err != nil {
				return err
			}
			continue
		}
		if h.Masked {
			return errors.New("masked frame from the server")
		}
		c.left = h.Length
	}
	return nil
}

// discard reads and drops n payload bytes. It returns how many it read.
func (c *client) discard(n int64) (int64, error) {
	var done int64
	for done < n {
		want := n - done
		if c.ws {
			if err := c.nextFrame(); err != nil {
				return done, err
			}
			want = min(want, c.left)
		}
		m, err := c.r.Discard(int(min(want, 1<<30)))
		done += int64(m)
		if c.ws {
			c.left -= int64(m)
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// readFull reads len(p) payload bytes into p.
func (c *client) readFull(p []byte) error {
	for len(p) > 0 {
		want := len(p)
		if c.ws {
			if err := c.nextFrame(); err != nil {
				return err
			}
			want = int(min(int64(want), c.left))
		}
		m, err := io.ReadFull(c.r, p[:want])
		if c.ws {
			c.left -= int64(m)
		}
		if err != nil {
			return err
		}
		p = p[m:]
	}
	return nil
}

// close ends the connection. A WebSocket session is closed cleanly (RFC
// 6455 section 7): a close frame, then what the server sends up to and
// including its close frame, then the TCP connection.
func (c *client) close() error {
	defer c.conn.Close()
	if !c.ws {
		return nil
	}
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	f := ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
	if err := ws.WriteFrame(c.conn, f); err != nil {
		return fmt.Errorf("write close: %w", err)
	}
	for {
		if err := c.nextFrame(); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("wait for close: %w", err)
		}
		if _, err := c.r.Discard(int(c.left)); err != nil {
			return fmt.Errorf("wait for close: %w", err)
		}
		c.left = 0
	}
}

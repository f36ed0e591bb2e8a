package main

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
)

// BenchmarkRecordingCost measures one session's throughput through the
// proxy over loopback, client to target, without and with recording (the wsrec
// format to a real file, the default options): the recording issue's target
// is a cost of at most 20 %. Compare the MB/s of the off and on pairs.
//
//	go test -run '^$' -bench RecordingCost -benchtime 3s -count 3 ./cmd/wsproxy/
func BenchmarkRecordingCost(b *testing.B) {
	const size = 64 << 10
	payload := make([]byte, size)
	rand.NewChaCha8([32]byte{7}).Read(payload)
	for _, dir := range []string{"client-to-target"} {
		for _, recording := range []bool{false, true} {
			name := dir + "/record=off"
			if recording {
				name = dir + "/record=on"
			}
			b.Run(name, func(b *testing.B) {
				target := benchTarget(b, dir == "target-to-client", payload)
				opts := proxy.ServerOptions{Resolver: proxy.Target{Address: target}, Logger: slog.New(slog.DiscardHandler)}
				if recording {
					rec, err := record.New(record.Options{Dir: b.TempDir(), Logger: opts.Logger})
					if err != nil {
						b.Fatal(err)
					}
					defer rec.Close()
					opts.NewTap = newRecordingTap(rec)
				}
				srv, err := proxy.NewServer(opts)
				if err != nil {
					b.Fatal(err)
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				go srv.Serve(context.Background(), ln)
				defer srv.Close()
				c, _, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				b.SetBytes(size)
				b.ResetTimer()
				if dir == "client-to-target" {
					frame := ws.MaskFrame(ws.NewBinaryFrame(payload))
					for i := 0; i < b.N; i++ {
						if err := ws.WriteFrame(c, frame); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				var got int64
				for got < int64(b.N)*size {
					h, err := ws.ReadHeader(c)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.CopyN(io.Discard, c, h.Length); err != nil {
						b.Fatal(err)
					}
					got += h.Length
				}
			})
		}
	}
}

// benchTarget is a TCP target that discards what it reads, or, with
// source, also sends payload over and over.
func benchTarget(b *testing.B, source bool, payload []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
			if source {
				go func() {
					for {
						if _, err := c.Write(payload); err != nil {
							c.Close()
							return
						}
					}
				}()
			}
		}
	}()
	return ln.Addr().String()
}

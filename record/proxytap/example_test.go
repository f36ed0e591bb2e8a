package proxytap_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
	"github.com/wsproxy/wsproxy/record/proxytap"
)

// A proxy that records every session under a directory, as wsproxy
// --record-dir does.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "recordings")
	defer os.RemoveAll(dir)
	rec, err := record.New(record.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rec.Close()
	srv, err := proxy.NewServer(proxy.ServerOptions{
		Resolver: proxy.Target{Address: "127.0.0.1:5900"},
		NewTap:   proxytap.New(rec, proxytap.Options{Program: "example 1.0"}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	_ = context.Background // srv.Serve(ctx, listener) would proxy and record
	fmt.Println("recording to a directory")
	// Output: recording to a directory
}

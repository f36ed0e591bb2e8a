package proxy_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/auth"
	"github.com/wsproxy/wsproxy/proxy/tokens"
)

// A proxy whose clients choose among the VNC servers of a token file
// (websockify's --token-plugin TokenFile) and authenticate with HTTP Basic
// credentials (--auth-plugin BasicHTTPAuth).
func ExampleTokenResolver() {
	dir, err := os.MkdirTemp("", "tokens")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tokens")
	if err := os.WriteFile(path, []byte("vm1: 127.0.0.1:5901\nvm2: 127.0.0.1:5902\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	tokens, err := tokens.NewFile(path, tokens.FileOptions{Reload: true})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := proxy.NewServer(proxy.ServerOptions{
		Resolver:      &proxy.TokenResolver{Tokens: tokens},
		Authenticator: auth.NewBasic("operator", "secret"),
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

	// An unknown token is answered before the upgrade.
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/websockify?token=vm3", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.SetBasicAuth("operator", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	srv.Close()
	<-served
	http.DefaultClient.CloseIdleConnections()
	// Output: 404 Not Found
}

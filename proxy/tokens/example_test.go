package tokens_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens"
)

// A token file as websockify's TokenFile reads it: one "token: target"
// a line, a target being host:port or a unix socket.
func ExampleFile() {
	dir, err := os.MkdirTemp("", "tokens")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tokens")
	content := "# VNC servers\nvm1: 192.0.2.10:5901\nvm2: unix_socket:/run/vm2/vnc.sock\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		log.Fatal(err)
	}
	store, err := tokens.NewFile(path, tokens.FileOptions{Reload: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, token := range []string{"vm1", "vm2", "vm3"} {
		t, err := store.Lookup(context.Background(), token)
		switch {
		case errors.Is(err, proxy.ErrUnknownToken):
			fmt.Println(token, "unknown")
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Println(token, t.Network, t.Address)
		}
	}
	// Output:
	// vm1 tcp 192.0.2.10:5901
	// vm2 unix /run/vm2/vnc.sock
	// vm3 unknown
}

// The targets that token stores of one's own return, read as
// websockify's plugins write them.
func ExampleParseTarget() {
	for _, s := range []string{"vnc.example:5900", "::1:5900", "unix_socket:/run/vnc.sock", "vnc.example"} {
		t, err := tokens.ParseTarget(s)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(t.Network, t.Address)
	}
	// Output:
	// tcp vnc.example:5900
	// tcp [::1]:5900
	// unix /run/vnc.sock
	// error: target "vnc.example": want host:port or unix_socket:/path
}

package proxy_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/wsproxy/wsproxy/proxy"
)

// The files of a directory on the WebSocket port, as "wsproxy --web DIR"
// serves noVNC's: give the handler to ServerOptions.Handler.
func ExampleNewFileHandler() {
	dir, err := os.MkdirTemp("", "web")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "vnc.html"), []byte("<title>noVNC</title>"), 0o644); err != nil {
		log.Fatal(err)
	}

	files, err := proxy.NewFileHandler(dir, proxy.FileOptions{FileOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer files.Close()
	_ = proxy.ServerOptions{Resolver: proxy.Target{Address: "127.0.0.1:5900"}, Handler: files}

	for _, path := range []string{"/vnc.html", "/", "/../etc/passwd"} {
		w := httptest.NewRecorder()
		files.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, w.Code)
	}
	// Output:
	// /vnc.html 200
	// / 404
	// /../etc/passwd 404
}

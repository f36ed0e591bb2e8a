// Command wsreplay serves wsproxy recordings back to WebSocket clients such
// as noVNC, as if they came from the live target:
//
//	wsreplay [options] [source_addr:]source_port RECORDING|DIR...
//
// It serves package replay's Server with the options of the command line:
// playback defaults (root.go), TLS, static files, the auth plugin
// (cmd/internal/authflags, shared with wsproxy), the web player (ui.go), a
// TCP port or a unix socket (listen.go) and logs to stderr and a file
// (logging.go). Run wsreplay --help for the options.
package main

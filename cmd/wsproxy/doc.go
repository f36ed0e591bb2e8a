// Command wsproxy is a WebSocket-to-TCP proxy meant as a drop-in replacement
// for websockify, with the same command line:
//
//	wsproxy [options] [source_addr:]source_port [target_addr:target_port]
//	wsproxy [options] [source_addr:]source_port -- WRAP_COMMAND_LINE
//
// The proxy is being built: this version checks its command line and exits
// with status 1. Run wsproxy --help for what it accepts.
package main

// Command wsreplay serves wsproxy recordings back to WebSocket clients such
// as noVNC, as if they came from the live target:
//
//	wsreplay [options] [source_addr:]source_port RECORDING|DIR...
//
// The server is being built: this version checks its command line and exits
// with status 1. Run wsreplay --help for what it accepts.
package main

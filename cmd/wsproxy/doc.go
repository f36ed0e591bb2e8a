// Command wsproxy is a WebSocket-to-TCP proxy, a drop-in replacement for
// websockify with the same command line and options:
//
//	wsproxy [options] [source_addr:]source_port [target_addr:target_port]
//	wsproxy [options] --unix-target=FILE [source_addr:]source_port
//	wsproxy [options] [source_addr:]source_port -- WRAP_COMMAND_LINE
//
// It serves package proxy's Server with what the options ask for: TLS with
// certificates reloaded when they change (certs.go, tls.go), static files
// (web.go), unix sockets and inetd (addr.go), websockify's server lifetime
// options (conns.go), logs to stderr, a file and syslog (logging.go), and
// websockify's --traffic output (traffic.go). Run wsproxy --help for the
// options.
package main

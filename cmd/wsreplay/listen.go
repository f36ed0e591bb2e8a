package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// The source address as wsproxy reads it (cmd/wsproxy/addr.go): split on
// its last colon, brackets stripped from the host, a numeric port. Unix
// sockets come from package cmd/internal/listen.

// parseSource parses "[source_addr:]source_port". host is empty for a port
// alone: every address.
func parseSource(s string) (host string, port int, err error) {
	host, portStr := "", s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, portStr = strings.Trim(s[:i], "[]"), s[i+1:]
	}
	port, err = strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("source %q: want [source_addr:]source_port with a port from 0 to 65535", s)
	}
	return host, port, nil
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

package listen

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSource parses websockify's "[source_addr:]source_port": split on the
// last colon, brackets stripped from an IPv6 host, a port from 0 to 65535.
// host is empty for a port alone: every address.
func ParseSource(s string) (host string, port int, err error) {
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

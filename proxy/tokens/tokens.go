package tokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
)

// DefaultLookupTimeout bounds a token lookup over the network (an HTTP
// API, Redis) when its options leave the timeout zero.
const DefaultLookupTimeout = 5 * time.Second

// unixSocketHost is the host name with which websockify's token plugins
// name a unix socket target: "unix_socket:/path".
const unixSocketHost = "unix_socket"

// ParseTarget parses a target as websockify's token plugins give it:
// "host:port" split on its last colon, with an IPv6 host in brackets or
// not ("[::1]:5900", "::1:5900"), or "unix_socket:/path". It returns an
// error for anything else, and for a port outside 1 to 65535.
func ParseTarget(s string) (proxy.Target, error) {
	if path, ok := strings.CutPrefix(s, unixSocketHost+":"); ok {
		return hostPortTarget(unixSocketHost, path)
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return proxy.Target{}, fmt.Errorf("target %q: want host:port or unix_socket:/path", s)
	}
	return hostPortTarget(s[:i], s[i+1:])
}

// ParseJSONTarget parses a target as a JSON object {"host": "h", "port":
// 5900}, as websockify's JSONTokenApi and JWTTokenApi read it: the port
// may be a number or a string, and the host "unix_socket" with a path as
// its port names a unix socket. Other members are ignored. It returns an
// error for JSON that is not such an object, without "host" or "port",
// and for what ParseTarget refuses.
func ParseJSONTarget(b []byte) (proxy.Target, error) {
	var v struct {
		Host *string         `json:"host"`
		Port json.RawMessage `json:"port"` // a number or a string
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return proxy.Target{}, err
	}
	if v.Host == nil || v.Port == nil {
		return proxy.Target{}, errors.New(`want "host" and "port"`)
	}
	port := string(v.Port)
	if strings.HasPrefix(port, `"`) {
		if err := json.Unmarshal(v.Port, &port); err != nil {
			return proxy.Target{}, err
		}
	}
	return hostPortTarget(*v.Host, port)
}

// hostPortTarget returns the target of a host and a port, or of a unix
// socket path when host is "unix_socket".
func hostPortTarget(host, port string) (proxy.Target, error) {
	if host == unixSocketHost {
		if port == "" || strings.IndexByte(port, 0) >= 0 {
			return proxy.Target{}, fmt.Errorf("target %s:%q: want a socket path", host, port)
		}
		return proxy.Target{Network: "unix", Address: port}, nil
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" || strings.ContainsAny(host, "[]/ \t") {
		return proxy.Target{}, fmt.Errorf("target %q:%q: want a host name or address", host, port)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] == '+' {
		return proxy.Target{}, fmt.Errorf("target %s:%q: want a port from 1 to 65535", host, port)
	}
	return proxy.Target{Network: "tcp", Address: net.JoinHostPort(host, strconv.Itoa(n))}, nil
}

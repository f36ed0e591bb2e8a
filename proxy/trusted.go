package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/pires/go-proxyproto"
)

// TrustedProxies finds the real client address of a request behind
// trusted proxies (wsproxy's --trusted-proxy), which websockify cannot
// find (its issue 334). Its ClientAddr plugs into ServerOptions.ClientAddr
// and its Listener wraps the server's listener for the PROXY protocol, as
// httputil's ProxyRequest.SetXForwarded is a policy a hook calls.
//
// Only a peer inside a trusted range is believed. From such a peer the
// address comes from, in this order:
//
//   - the PROXY protocol, v1 or v2 (HAProxy's proxy-protocol.txt), read by
//     github.com/pires/go-proxyproto at the start of the connection; the
//     header's source then stands for the peer below;
//   - Forwarded (RFC 7239 section 5.2, its for= parameters);
//   - X-Forwarded-For;
//   - X-Real-IP.
//
// A list of hops is walked from the right, past every trusted address: the
// first untrusted one is the client (the rightmost untrusted hop, since
// everything to its left may be forged by the client itself). When every
// hop is trusted the leftmost is taken. A hop that is no address
// (Forwarded's "unknown" or "_hidden") ends the walk: the trusted hop to its
// right is taken, never a string the client chose.
//
// An untrusted peer's headers are ignored, and its connection is refused
// when it opens with a PROXY header. SessionInfo.RemoteAddr stays the TCP
// peer; SessionInfo.ClientAddr, the log's real_client and the recording's
// real_client metadata hold the real client.
//
// A TrustedProxies is safe for concurrent use.
type TrustedProxies struct {
	prefixes []netip.Prefix
	log      *slog.Logger

	mu      sync.Mutex
	sources map[string]string // TCP peer → PROXY source, of open connections
}

// ParseTrustedProxies returns the TrustedProxies of list: CIDRs such as
// 10.0.0.0/8, or single addresses; blank entries are skipped. log gets the
// warning about a PROXY header from an untrusted peer (nil: discarded). It
// returns an error naming the first entry that is neither.
func ParseTrustedProxies(list []string, log *slog.Logger) (*TrustedProxies, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &TrustedProxies{log: log, sources: make(map[string]string)}
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither a CIDR such as 10.0.0.0/8 nor an address", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	return t, nil
}

// Empty reports whether no proxy is trusted: then ClientAddr is always
// the peer's address and Listener changes nothing.
func (t *TrustedProxies) Empty() bool { return len(t.prefixes) == 0 }

// trusts reports whether a is inside a trusted range.
func (t *TrustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hop is one address of a chain of proxies: the address and how it is
// written in the result (with its port when one was given).
type hop struct {
	addr netip.Addr
	text string
}

// parseHop parses an address as X-Forwarded-For, X-Real-IP and Forwarded's
// for= write it: 192.0.2.1, 192.0.2.1:80, 2001:db8::1, [2001:db8::1]:80,
// quoted or not. An obfuscated port (_x) is dropped.
func parseHop(s string) (hop, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.ReplaceAll(s[1:len(s)-1], `\`, "")
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hop{}, false
		}
		host, port = s[1:end], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return hop{}, false
			}
			port = port[1:]
		}
	} else if strings.Count(s, ":") == 1 {
		host, port, _ = strings.Cut(s, ":")
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return hop{}, false
	}
	a = a.Unmap()
	if n, err := strconv.ParseUint(port, 10, 16); err == nil {
		return hop{addr: a, text: netip.AddrPortFrom(a, uint16(n)).String()}, true
	}
	return hop{addr: a, text: a.String()}, true
}

// ClientAddr returns the real client address of r, for
// ServerOptions.ClientAddr: the PROXY header's source when the connection
// came through Listener with one, or else r.RemoteAddr, replaced by what
// Forwarded, X-Forwarded-For or X-Real-IP say when it is trusted.
func (t *TrustedProxies) ClientAddr(r *http.Request) string {
	peer := r.RemoteAddr
	if src, ok := t.source(peer); ok {
		peer = src
	}
	return t.clientAddr(peer, r.Header)
}

// clientAddr returns the real client address of a request from peer
// (host:port) with the headers h.
func (t *TrustedProxies) clientAddr(peer string, h http.Header) string {
	p, ok := parseHop(peer)
	if !ok || !t.trusts(p.addr) {
		return peer
	}
	var chain []string
	switch {
	case len(h.Values("Forwarded")) > 0:
		chain = forwardedFor(h.Values("Forwarded"))
	case len(h.Values("X-Forwarded-For")) > 0:
		for _, v := range h.Values("X-Forwarded-For") {
			for e := range strings.SplitSeq(v, ",") {
				if e = strings.TrimSpace(e); e != "" {
					chain = append(chain, e)
				}
			}
		}
	case h.Get("X-Real-IP") != "":
		chain = []string{h.Get("X-Real-IP")}
	}
	last := peer
	for i := len(chain) - 1; i >= 0; i-- {
		hp, ok := parseHop(chain[i])
		if !ok {
			return last
		}
		if !t.trusts(hp.addr) {
			return hp.text
		}
		last = hp.text
	}
	return last
}

// forwardedFor returns the for= values of Forwarded header lines (RFC 7239
// section 4), in order, one per element (empty when an element has none).
func forwardedFor(lines []string) []string {
	var out []string
	for _, line := range lines {
		for _, elem := range splitQuoted(line, ',') {
			v := ""
			for _, pair := range splitQuoted(elem, ';') {
				name, val, ok := strings.Cut(pair, "=")
				if ok && strings.EqualFold(strings.TrimSpace(name), "for") {
					v = strings.TrimSpace(val)
				}
			}
			out = append(out, v)
		}
	}
	return out
}

// splitQuoted splits s at sep outside quoted strings.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// addrIP returns the IP address of a TCP peer.
func addrIP(a net.Addr) (netip.Addr, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	return ip.Unmap(), ok
}

// proxyListener reads a PROXY protocol header from trusted peers (optional:
// a trusted HTTP proxy sends headers instead) and refuses the connections
// of other peers that send one. It remembers the header's source address
// of each open connection, by TCP peer, for ClientAddr.
type proxyListener struct {
	net.Listener // a *proxyproto.Listener
	t            *TrustedProxies
}

// Listener returns ln, whose connections' RemoteAddr is the TCP peer,
// reading the PROXY protocol (v1 or v2) from trusted peers; ln itself when
// none is trusted. The connections it returns keep the socket's addresses;
// the header's source is what ClientAddr returns.
func (t *TrustedProxies) Listener(ln net.Listener) net.Listener {
	if t.Empty() {
		return ln
	}
	l := &proxyListener{t: t}
	l.Listener = &proxyproto.Listener{
		Listener: ln,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if ip, ok := addrIP(o.Upstream); ok && t.trusts(ip) {
				return proxyproto.USE, nil
			}
			return proxyproto.REJECT, nil
		},
	}
	return l
}

func (l *proxyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	pc, ok := c.(*proxyproto.Conn)
	if !ok {
		return c, nil
	}
	return &proxyConn{Conn: pc, t: l.t, peer: pc.Raw().RemoteAddr()}, nil
}

// source returns the PROXY header's source address of the open connection
// from peer, if it had one.
func (t *TrustedProxies) source(peer string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.sources[peer]
	return s, ok
}

// proxyConn is a connection of a proxyListener. Its RemoteAddr and
// LocalAddr are the socket's, not the PROXY header's: the header's source
// is the session's ClientAddr.
type proxyConn struct {
	*proxyproto.Conn
	t         *TrustedProxies
	peer      net.Addr
	once      sync.Once
	closeOnce sync.Once
}

func (c *proxyConn) RemoteAddr() net.Addr { return c.peer }
func (c *proxyConn) LocalAddr() net.Addr  { return c.Conn.Raw().LocalAddr() }

// NetConn returns the connection under the PROXY header, for the proxy to
// set socket options on (proxy.ServerOptions.ClientTimeout).
func (c *proxyConn) NetConn() net.Conn { return c.Conn.Raw() }

func (c *proxyConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.once.Do(func() {
		if errors.Is(err, proxyproto.ErrSuperfluousProxyHeader) {
			c.t.log.Warn("PROXY header from an untrusted peer: connection refused", "client", c.peer)
			return
		}
		h := c.Conn.ProxyHeader()
		if h == nil || h.Command.IsLocal() || h.SourceAddr == nil {
			return
		}
		c.t.mu.Lock()
		c.t.sources[c.peer.String()] = h.SourceAddr.String()
		c.t.mu.Unlock()
	})
	return n, err
}

func (c *proxyConn) Close() error {
	c.closeOnce.Do(func() {
		c.t.mu.Lock()
		delete(c.t.sources, c.peer.String())
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
}

// CloseWrite half-closes the connection when it can, as the proxy does
// after the last frame.
func (c *proxyConn) CloseWrite() error {
	if cw, ok := c.Conn.Raw().(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

package proxy_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wsproxy/wsproxy/proxy"
)

func TestTrustedClientAddr(t *testing.T) {
	t.Parallel()
	trusted, err := proxy.ParseTrustedProxies([]string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.10"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const proxyPeer = "10.1.2.3:5555"
	for _, tc := range []struct {
		name   string
		peer   string
		header map[string][]string
		want   string
	}{
		{"no header", proxyPeer, nil, proxyPeer},
		{"untrusted peer, no header", "198.51.100.1:1234", nil, "198.51.100.1:1234"},
		{"spoofed XFF from an untrusted peer", "198.51.100.1:1234", map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.1:1234"},
		{"spoofed Forwarded from an untrusted peer", "198.51.100.1:1234", map[string][]string{"Forwarded": {"for=203.0.113.9"}}, "198.51.100.1:1234"},
		{"spoofed X-Real-IP from an untrusted peer", "198.51.100.1:1234", map[string][]string{"X-Real-Ip": {"203.0.113.9"}}, "198.51.100.1:1234"},
		{"XFF one hop", proxyPeer, map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"XFF rightmost untrusted", proxyPeer, map[string][]string{"X-Forwarded-For": {"1.1.1.1, 203.0.113.9, 10.9.9.9, 192.0.2.10"}}, "203.0.113.9"},
		{"XFF client-forged left part", proxyPeer, map[string][]string{"X-Forwarded-For": {"10.0.0.1, 203.0.113.9"}}, "203.0.113.9"},
		{"XFF several lines", proxyPeer, map[string][]string{"X-Forwarded-For": {"203.0.113.9", "10.9.9.9"}}, "203.0.113.9"},
		{"XFF all trusted", proxyPeer, map[string][]string{"X-Forwarded-For": {"10.0.0.1, 10.0.0.2"}}, "10.0.0.1"},
		{"XFF IPv6", proxyPeer, map[string][]string{"X-Forwarded-For": {"2001:db8::1"}}, "2001:db8::1"},
		{"XFF IPv4-mapped", proxyPeer, map[string][]string{"X-Forwarded-For": {"::ffff:203.0.113.9"}}, "203.0.113.9"},
		{"XFF garbage ends the walk", proxyPeer, map[string][]string{"X-Forwarded-For": {"203.0.113.9, evil, 10.0.0.7"}}, "10.0.0.7"},
		{"XFF garbage right of peer", proxyPeer, map[string][]string{"X-Forwarded-For": {"<script>"}}, proxyPeer},
		{"IPv6 trusted peer", "[2001:db8:ffff::1]:443", map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"Forwarded", proxyPeer, map[string][]string{"Forwarded": {"for=203.0.113.9;proto=https;by=10.0.0.1"}}, "203.0.113.9"},
		{"Forwarded with port", proxyPeer, map[string][]string{"Forwarded": {`for="203.0.113.9:47011"`}}, "203.0.113.9:47011"},
		{"Forwarded quoted IPv6", proxyPeer, map[string][]string{"Forwarded": {`For="[2001:db8:cafe::17]"`}}, "2001:db8:cafe::17"},
		{"Forwarded quoted IPv6 and port", proxyPeer, map[string][]string{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}}, "[2001:db8:cafe::17]:4711"},
		{"Forwarded obfuscated port", proxyPeer, map[string][]string{"Forwarded": {`for="203.0.113.9:_p1"`}}, "203.0.113.9"},
		{"Forwarded chain", proxyPeer, map[string][]string{"Forwarded": {`for=198.51.100.17, for="[2001:db8:cafe::17]:4711";proto=http, for=10.0.0.5`}}, "[2001:db8:cafe::17]:4711"},
		{"Forwarded quoted comma", proxyPeer, map[string][]string{"Forwarded": {`for=203.0.113.9;by="a,b", for=10.0.0.5`}}, "203.0.113.9"},
		{"Forwarded several lines", proxyPeer, map[string][]string{"Forwarded": {"for=203.0.113.9", "for=10.0.0.5"}}, "203.0.113.9"},
		{"Forwarded unknown", proxyPeer, map[string][]string{"Forwarded": {"for=unknown, for=10.0.0.5"}}, "10.0.0.5"},
		{"Forwarded hidden", proxyPeer, map[string][]string{"Forwarded": {"for=_hidden"}}, proxyPeer},
		{"Forwarded element without for", proxyPeer, map[string][]string{"Forwarded": {"proto=https"}}, proxyPeer},
		{"Forwarded wins over XFF", proxyPeer, map[string][]string{"Forwarded": {"for=203.0.113.9"}, "X-Forwarded-For": {"198.51.100.1"}}, "203.0.113.9"},
		{"XFF wins over X-Real-IP", proxyPeer, map[string][]string{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"198.51.100.1"}}, "203.0.113.9"},
		{"X-Real-IP", proxyPeer, map[string][]string{"X-Real-Ip": {"203.0.113.9"}}, "203.0.113.9"},
		{"X-Real-IP IPv6", proxyPeer, map[string][]string{"X-Real-Ip": {"2001:db8::2"}}, "2001:db8::2"},
		{"X-Real-IP garbage", proxyPeer, map[string][]string{"X-Real-Ip": {"nope"}}, proxyPeer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for k, vs := range tc.header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := trusted.ClientAddr(r); got != tc.want {
				t.Errorf("ClientAddr(%q, %v) = %q, want %q", tc.peer, tc.header, got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0"} {
		_, err := proxy.ParseTrustedProxies([]string{bad}, nil)
		if want := fmt.Sprintf("%q is neither a CIDR such as 10.0.0.0/8 nor an address", bad); err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %q", bad, err, want)
		}
	}
	tp, err := proxy.ParseTrustedProxies([]string{"127.0.0.1", " ", "::1", "10.1.2.3/8"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for peer, trusted := range map[string]bool{
		"127.0.0.1:1": true, "127.0.0.2:1": false, "[::1]:1": true, "10.200.0.1:1": true, "11.0.0.1:1": false,
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Real-IP", "203.0.113.9")
		if got := tp.ClientAddr(r) == "203.0.113.9"; got != trusted {
			t.Errorf("peer %s: trusted %v, want %v", peer, got, trusted)
		}
	}
	if empty, _ := proxy.ParseTrustedProxies(nil, nil); !empty.Empty() || tp.Empty() {
		t.Errorf("Empty: got %v for none, %v for three", empty.Empty(), tp.Empty())
	}
}

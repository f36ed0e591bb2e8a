package tokens_test

import (
	"testing"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens"
)

func TestParseTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     proxy.Target
		wantErr  bool
	}{
		{"OK", "vnc.example:5900", proxy.Target{Network: "tcp", Address: "vnc.example:5900"}, false},
		{"IPv4", "10.0.0.1:5901", proxy.Target{Network: "tcp", Address: "10.0.0.1:5901"}, false},
		{"IPv6Bare", "::1:5900", proxy.Target{Network: "tcp", Address: "[::1]:5900"}, false},
		{"IPv6Brackets", "[fe80::1]:5900", proxy.Target{Network: "tcp", Address: "[fe80::1]:5900"}, false},
		{"LeadingZero", "h:05900", proxy.Target{Network: "tcp", Address: "h:5900"}, false},
		{"UnixSocket", "unix_socket:/run/vnc.sock", proxy.Target{Network: "unix", Address: "/run/vnc.sock"}, false},
		{"UnixSocketWithColon", "unix_socket:/run/a:b.sock", proxy.Target{Network: "unix", Address: "/run/a:b.sock"}, false},
		{"ErrNoPort", "vnc.example", proxy.Target{}, true},
		{"ErrEmptyPort", "vnc.example:", proxy.Target{}, true},
		{"ErrPortName", "vnc.example:vnc", proxy.Target{}, true},
		{"ErrPortZero", "vnc.example:0", proxy.Target{}, true},
		{"ErrPortRange", "vnc.example:65536", proxy.Target{}, true},
		{"ErrPortSign", "vnc.example:+5900", proxy.Target{}, true},
		{"ErrEmptyHost", ":5900", proxy.Target{}, true},
		{"ErrSpaceInHost", "a b:5900", proxy.Target{}, true},
		{"ErrSlashInHost", "evil/x:5900", proxy.Target{}, true},
		{"ErrUnixSocketEmpty", "unix_socket:", proxy.Target{}, true},
		{"ErrEmpty", "", proxy.Target{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tokens.ParseTarget(tt.in)
			if (err != nil) != tt.wantErr || got.Network != tt.want.Network || got.Address != tt.want.Address {
				t.Errorf("tokens.ParseTarget(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseJSONTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     proxy.Target
		wantErr  bool
	}{
		{"OK", `{"host": "vnc.example", "port": 5900}`, proxy.Target{Network: "tcp", Address: "vnc.example:5900"}, false},
		{"PortString", `{"host": "vnc.example", "port": "5900"}`, proxy.Target{Network: "tcp", Address: "vnc.example:5900"}, false},
		{"IPv6", `{"host": "::1", "port": 5900}`, proxy.Target{Network: "tcp", Address: "[::1]:5900"}, false},
		{"UnixSocket", `{"host": "unix_socket", "port": "/run/vnc.sock"}`, proxy.Target{Network: "unix", Address: "/run/vnc.sock"}, false},
		{"OtherMembers", `{"host": "h", "port": 1, "exp": 2}`, proxy.Target{Network: "tcp", Address: "h:1"}, false},
		{"ErrNoHost", `{"port": 5900}`, proxy.Target{}, true},
		{"ErrNoPort", `{"host": "h"}`, proxy.Target{}, true},
		{"ErrHostNumber", `{"host": 1, "port": 5900}`, proxy.Target{}, true},
		{"ErrPortFraction", `{"host": "h", "port": 5900.5}`, proxy.Target{}, true},
		{"ErrPortRange", `{"host": "h", "port": "65536"}`, proxy.Target{}, true},
		{"ErrNotObject", `["h", 5900]`, proxy.Target{}, true},
		{"ErrSyntax", `{"host": "h",`, proxy.Target{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tokens.ParseJSONTarget([]byte(tt.in))
			if (err != nil) != tt.wantErr || got.Network != tt.want.Network || got.Address != tt.want.Address {
				t.Errorf("tokens.ParseJSONTarget(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

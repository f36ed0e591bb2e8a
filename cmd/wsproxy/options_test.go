package main

import (
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/listen"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// Unit tests of the option parsers.

func TestParseSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, host string
		port           int
		wantErr        bool
	}{
		{"PortOnly", "6080", "", 6080, false},
		{"IPv4", "0.0.0.0:6080", "0.0.0.0", 6080, false},
		{"Name", "localhost:6080", "localhost", 6080, false},
		{"IPv6Brackets", "[::1]:6080", "::1", 6080, false},
		{"IPv6Bare", "::1:6080", "::1", 6080, false}, // split on the last colon, as websockify
		{"EmptyHost", ":6080", "", 6080, false},
		{"PortZero", "127.0.0.1:0", "127.0.0.1", 0, false},
		{"ErrNoPort", "localhost:", "", 0, true},
		{"ErrName", "localhost", "", 0, true},
		{"ErrPortName", "localhost:http", "", 0, true},
		{"ErrRange", "65536", "", 0, true},
		{"ErrNegative", "-1", "", 0, true},
		{"ErrEmpty", "", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			host, port, err := listen.ParseSource(tt.in)
			if (err != nil) != tt.wantErr || host != tt.host || port != tt.port {
				t.Errorf("listen.ParseSource(%q) = %q, %d, %v; want %q, %d, error %v", tt.in, host, port, err, tt.host, tt.port, tt.wantErr)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, host string
		port           int
		wantErr        bool
	}{
		{"IPv4", "127.0.0.1:5900", "127.0.0.1", 5900, false},
		{"Name", "vnc.example:5901", "vnc.example", 5901, false},
		{"IPv6Brackets", "[fe80::1]:5900", "fe80::1", 5900, false},
		{"IPv6Bare", "fe80::1:5900", "fe80::1", 5900, false},
		{"EmptyHost", ":5900", "", 5900, false},
		{"ErrPortOnly", "5900", "", 0, true},
		{"ErrPortZero", "localhost:0", "", 0, true},
		{"ErrRange", "localhost:65536", "", 0, true},
		{"ErrPortName", "localhost:vnc", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			host, port, err := parseTarget(tt.in)
			if (err != nil) != tt.wantErr || host != tt.host || port != tt.port {
				t.Errorf("parseTarget(%q) = %q, %d, %v; want %q, %d, error %v", tt.in, host, port, err, tt.host, tt.port, tt.wantErr)
			}
		})
	}
}

func TestListenAddr(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, tt := range []struct {
		host       string
		preferIPv6 bool
		want       string
	}{
		{"", false, ":80"},
		{"", true, ":80"},
		{"::1", false, "[::1]:80"},
		{"127.0.0.1", true, "127.0.0.1:80"},
	} {
		if got, err := listenAddr(ctx, tt.host, 80, tt.preferIPv6); err != nil || got != tt.want {
			t.Errorf("listenAddr(%q, %v) = %q, %v; want %q", tt.host, tt.preferIPv6, got, err, tt.want)
		}
	}
	// A name with both families: IPv4 first, as websockify sorts them,
	// unless -6.
	ips, _ := net.DefaultResolver.LookupIPAddr(ctx, "localhost")
	var v4, v6 bool
	for _, ip := range ips {
		v4, v6 = v4 || ip.IP.To4() != nil, v6 || ip.IP.To4() == nil
	}
	if !v4 || !v6 {
		t.Skipf("localhost resolves to %v here, not to both families", ips)
	}
	if got, _ := listenAddr(ctx, "localhost", 80, false); !strings.HasPrefix(got, "127.") {
		t.Errorf("got %s for localhost, want its IPv4 address", got)
	}
	if got, _ := listenAddr(ctx, "localhost", 80, true); got != "[::1]:80" {
		t.Errorf("got %s for localhost with -6, want [::1]:80", got)
	}
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"0", 0, false},
		{"30", 30 * time.Second, false},
		{"0.5", 500 * time.Millisecond, false},
		{"250ms", 250 * time.Millisecond, false},
		{"2m", 2 * time.Minute, false},
		{"-1", 0, true},
		{"-1s", 0, true},
		{"NaN", 0, true},
		{"1e30", 0, true},
		{"soon", 0, true},
	} {
		var s seconds
		err := s.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.wantErr || (err == nil && time.Duration(s) != tt.want) {
			t.Errorf("seconds(%q) = %v, %v; want %v, error %v", tt.in, time.Duration(s), err, tt.want, tt.wantErr)
		}
	}
}

// TestKeyPasswordOpenSSL serves keys encrypted by the openssl tool: PKCS #8
// (OpenSSL 3's default) and the legacy PEM encryption (openssl ec), each
// through --key and --key-password.
func TestKeyPasswordOpenSSL(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("needs the openssl tool")
	}
	ca := wstest.NewCert(t)
	dir := t.TempDir()
	der, key := issue(t, ca, 4, false)
	certFile := filepath.Join(dir, "cert.pem")
	writeFile(t, certFile, pemBlock("CERTIFICATE", der))
	plainDER, _ := x509.MarshalPKCS8PrivateKey(key)
	plain := filepath.Join(dir, "plain.pem")
	writeFile(t, plain, pemBlock("PRIVATE KEY", plainDER))
	target := startEcho(t, "tcp", nil)
	for _, tt := range []struct {
		name   string
		args   []string
		header string
	}{
		{"PKCS8", []string{"pkey", "-aes256"}, "-----BEGIN ENCRYPTED PRIVATE KEY-----"},
		{"Legacy", []string{"ec", "-aes256"}, "Proc-Type: 4,ENCRYPTED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keyFile := filepath.Join(dir, tt.name+".pem")
			args := append(tt.args, "-in", plain, "-out", keyFile, "-passout", "pass:s3cret")
			if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			b, _ := os.ReadFile(keyFile)
			if !strings.Contains(string(b), tt.header) {
				t.Fatalf("openssl wrote %q, want %q in it", b, tt.header)
			}
			in := startRun(t, "--cert", certFile, "--key", keyFile, "--key-password", "s3cret", "127.0.0.1:0", target)
			if got := servedSerial(t, in.addr, ca.ClientConfig()); got != 4 {
				t.Errorf("got serial %d, want 4", got)
			}
		})
	}
}

package main

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/listen"
	"github.com/wsproxy/wsproxy/internal/wstest"
	"github.com/youmark/pkcs8"
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

func TestParseCiphers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in string
		want     []uint16
		wantErr  string
	}{
		{"Empty", "", nil, ""},
		{"OpenSSL", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, ""},
		{"IANA", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, ""},
		{"Separators", "AES128-SHA, AES256-SHA", []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA}, ""},
		{"ErrKeyword", "HIGH", nil, `"HIGH" is an OpenSSL keyword`},
		{"ErrOperator", "AES128-SHA:!aNULL", nil, `"!aNULL" is an OpenSSL keyword`},
		{"ErrStrength", "@STRENGTH", nil, "keyword or operator"},
		{"ErrTLS13", "TLS_AES_128_GCM_SHA256", nil, "is a TLS 1.3 suite"},
		{"ErrUnknown", "DHE-RSA-AES256-GCM-SHA384", nil, `unknown cipher "DHE-RSA-AES256-GCM-SHA384"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCiphers(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestOpenSSLCipherNames checks the name table against OpenSSL's own.
func TestOpenSSLCipherNames(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("openssl", "ciphers", "-stdname", "ALL:COMPLEMENTOFALL").Output()
	if err != nil {
		t.Skipf("openssl ciphers: %v", err)
	}
	ianaOf := map[string]string{} // OpenSSL name -> IANA name
	for line := range strings.Lines(string(out)) {
		// "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 - ECDHE-ECDSA-AES256-GCM-SHA384 TLSv1.2 ..."
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "-" {
			ianaOf[f[2]] = f[0]
		}
	}
	for name, id := range openSSLCiphers {
		iana, ok := ianaOf[name]
		if !ok {
			if strings.Contains(name, "RC4") || strings.Contains(name, "DES-CBC3") {
				continue // not built into this OpenSSL
			}
			t.Errorf("%s: not an OpenSSL cipher name", name)
			continue
		}
		if got := tls.CipherSuiteName(id); got != iana {
			t.Errorf("%s: mapped to %s, OpenSSL says %s", name, got, iana)
		}
	}
}

func TestKeyPair(t *testing.T) {
	t.Parallel()
	ca := wstest.NewCert(t)
	der, key := issue(t, ca, 3, false)
	certPEM := pemBlock("CERTIFICATE", der)
	password := []byte("s3cret")

	plainDER, _ := x509.MarshalPKCS8PrivateKey(key)
	encPKCS8, err := pkcs8.MarshalPrivateKey(key, password, nil) // PBES2, PBKDF2-SHA256, AES-256-CBC
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(key)
	//lint:ignore SA1019 writing what old OpenSSL tools write, for reading it.
	legacy, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", ecDER, password, x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		keyPEM   []byte
		password []byte
		wantErr  string
	}{
		{"Plain", pemBlock("PRIVATE KEY", plainDER), nil, ""},
		{"PlainIgnoresPassword", pemBlock("PRIVATE KEY", plainDER), password, ""},
		{"PKCS8Encrypted", pemBlock("ENCRYPTED PRIVATE KEY", encPKCS8), password, ""},
		{"LegacyEncrypted", pem.EncodeToMemory(legacy), password, ""},
		{"ErrPKCS8NoPassword", pemBlock("ENCRYPTED PRIVATE KEY", encPKCS8), nil, "the key is encrypted: give --key-password"},
		{"ErrPKCS8WrongPassword", pemBlock("ENCRYPTED PRIVATE KEY", encPKCS8), []byte("wrong"), "wrong --key-password?"},
		{"ErrLegacyNoPassword", pem.EncodeToMemory(legacy), nil, "give --key-password"},
		{"ErrLegacyWrongPassword", pem.EncodeToMemory(legacy), []byte("wrong"), "wrong --key-password?"},
		{"ErrNoKey", certPEM, nil, "no PEM private key found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert, err := keyPair(certPEM, tt.keyPEM, tt.password)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cert.Leaf == nil || cert.Leaf.SerialNumber.Int64() != 3 {
				t.Errorf("got leaf %v, want serial 3", cert.Leaf)
			}
		})
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

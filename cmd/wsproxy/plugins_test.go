package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wsproxy/wsproxy/proxy"
)

func TestPluginOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		o       pluginOptions
		wantErr string // a part of the message; "" for no error
	}{
		{"None", pluginOptions{Target: "localhost:5900"}, ""},
		{"TokenFile", pluginOptions{TokenPlugin: "TokenFile", TokenSource: "tokens"}, ""},
		{"ModulePrefix", pluginOptions{TokenPlugin: "websockify.token_plugins.TokenFile", TokenSource: "tokens"}, ""},
		{"TargetConfig", pluginOptions{TargetConfig: "tokens", HostToken: true}, ""},
		{"Redis", pluginOptions{TokenPlugin: "TokenRedis", TokenSource: `redis::::"a:b"`}, ""},
		{"SSLTargetCA", pluginOptions{TokenPlugin: "JWTTokenApi", TokenSource: "key.pem", SSLTarget: true, SSLTargetCA: "ca.pem"}, ""},
		{"Basic", pluginOptions{Target: "h:1", AuthPlugin: "BasicHTTPAuth", AuthSource: "user:pass"}, ""},
		{"AuthModulePrefix", pluginOptions{Target: "h:1", AuthPlugin: "websockify.auth_plugins.ExpectOrigin", AuthSource: "https://a.example"}, ""},
		{"ClientCert", pluginOptions{Target: "h:1", AuthPlugin: "ClientCertCNAuth", AuthSource: "alice bob", VerifyClient: true}, ""},

		{"ErrBoth", pluginOptions{TargetConfig: "tokens", TokenPlugin: "TokenFile", TokenSource: "tokens"}, "--target-config or --token-plugin"},
		{"ErrSourceAlone", pluginOptions{TokenSource: "tokens"}, "--token-source needs --token-plugin"},
		{"ErrHostTokenAlone", pluginOptions{HostToken: true}, "--host-token needs --token-plugin"},
		{"ErrAuthSourceAlone", pluginOptions{AuthSource: "a:b"}, "--auth-source needs --auth-plugin"},
		{"ErrCAAlone", pluginOptions{SSLTargetCA: "ca.pem"}, "--ssl-target-ca needs --ssl-target"},
		{"ErrUnknown", pluginOptions{TokenPlugin: "TokenFiles", TokenSource: "x"}, "unknown plugin"},
		{"ErrPython", pluginOptions{TokenPlugin: "mycompany.plugins.Tokens", TokenSource: "x"}, "Python classes cannot be loaded"},
		{"ErrAuthModuleForToken", pluginOptions{TokenPlugin: "websockify.auth_plugins.TokenFile", TokenSource: "x"}, "cannot be loaded"},
		{"ErrNoSource", pluginOptions{TokenPlugin: "TokenFile"}, "needs --token-source"},
		{"ErrTarget", pluginOptions{TokenPlugin: "TokenFile", TokenSource: "x", Target: "localhost:5900"}, "the token chooses the target"},
		{"ErrTargetConfigTarget", pluginOptions{TargetConfig: "x", Target: "localhost:5900"}, "the token chooses the target"},
		{"ErrUnixTarget", pluginOptions{TokenPlugin: "TokenFile", TokenSource: "x", UnixTarget: "/run/vnc.sock"}, "--unix-target or a token plugin"},
		{"ErrWrap", pluginOptions{TokenPlugin: "TokenFile", TokenSource: "x", Wrap: true}, "WRAP_COMMAND_LINE or a token plugin"},
		{"ErrRedisSource", pluginOptions{TokenPlugin: "TokenRedis", TokenSource: "redis:port"}, "--token-source"},
		{"ErrUnknownAuth", pluginOptions{AuthPlugin: "DigestAuth", AuthSource: "x"}, "unknown plugin"},
		{"ErrNoAuthSource", pluginOptions{AuthPlugin: "ExpectOrigin"}, "needs --auth-source"},
		{"ErrBlankAuthSource", pluginOptions{AuthPlugin: "ClientCertCNAuth", AuthSource: "  ", VerifyClient: true}, "needs --auth-source"},
		{"ErrClientCertNoVerify", pluginOptions{AuthPlugin: "ClientCertCNAuth", AuthSource: "alice"}, "needs --verify-client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.o.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("validate: %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("validate: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

// resolveToken resolves a request with ?token=token.
func resolveToken(t testing.TB, r proxy.Resolver, token string) (proxy.Target, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://proxy.example/websockify?token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.Resolve(t.Context(), &proxy.Request{HTTP: req})
}

func writePluginFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every token plugin by websockify's name, with its source syntax, as
// the command line builds it.
func TestBuildTokenPlugins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile := writePluginFile(t, filepath.Join(dir, "tokens"), "vm1: host1:5901\n# comment\nvm2:\thost2:5902\n")
	nameDir := filepath.Join(dir, "names")
	os.Mkdir(nameDir, 0o755)
	writePluginFile(t, filepath.Join(nameDir, "vm1"), "host1:5901\n")
	sockDir := filepath.Join(dir, "socks")
	os.Mkdir(sockDir, 0o755)
	ln, err := net.Listen("unix", filepath.Join(sockDir, "vm1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) // after the parallel subtests
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/plain/vm1":
			io.WriteString(w, "host1:5901")
		case "/json/vm1":
			io.WriteString(w, `{"host": "host1", "port": 5901}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)
	secret := []byte("0123456789abcdef0123456789abcdef")
	keyFile := writePluginFile(t, filepath.Join(dir, "jwt.key"), base64.RawURLEncoding.EncodeToString(secret))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign([]byte(`{"host": "host1", "port": "5901"}`))
	if err != nil {
		t.Fatal(err)
	}
	jwt, _ := jws.CompactSerialize()

	tests := []struct {
		name  string
		o     pluginOptions
		token string
		want  string // the target, as Target.String
	}{
		{"TokenFile", pluginOptions{TokenPlugin: "TokenFile", TokenSource: tokenFile}, "vm2", "host2:5902"},
		{"ReadOnlyTokenFile", pluginOptions{TokenPlugin: "websockify.token_plugins.ReadOnlyTokenFile", TokenSource: dir}, "vm1", "host1:5901"},
		{"TargetConfig", pluginOptions{TargetConfig: tokenFile}, "vm1", "host1:5901"},
		{"TokenFileName", pluginOptions{TokenPlugin: "TokenFileName", TokenSource: nameDir}, "vm1", "host1:5901"},
		{"BaseTokenAPI", pluginOptions{TokenPlugin: "BaseTokenAPI", TokenSource: api.URL + "/plain/%s"}, "vm1", "host1:5901"},
		{"JSONTokenApi", pluginOptions{TokenPlugin: "JSONTokenApi", TokenSource: api.URL + "/json/%s"}, "vm1", "host1:5901"},
		{"JWTTokenApi", pluginOptions{TokenPlugin: "JWTTokenApi", TokenSource: keyFile}, jwt, "host1:5901"},
		{"UnixDomainSocketDirectory", pluginOptions{TokenPlugin: "UnixDomainSocketDirectory", TokenSource: sockDir}, "vm1", "unix:" + filepath.Join(sockDir, "vm1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, auth, stop, err := buildPlugins(tt.o, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			if r == nil || auth != nil {
				t.Fatalf("buildPlugins = %v, %v; want a resolver and no authenticator", r, auth)
			}
			got, err := resolveToken(t, r, tt.token)
			if err != nil || got.String() != tt.want || got.Token != tt.token {
				t.Errorf("Resolve(%q) = %s (token %q), %v; want %s", tt.token, got, got.Token, err, tt.want)
			}
			_, err = resolveToken(t, r, "unknown")
			if herr, ok := errors.AsType[*proxy.HTTPError](err); !ok || herr.Status >= 500 {
				t.Errorf("Resolve(unknown): %v, want a 4xx", err)
			}
		})
	}
}

// Sources that cannot be used fail at start, not at the first lookup.
func TestBuildPluginsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writePluginFile(t, filepath.Join(dir, "f"), "x")
	for name, o := range map[string]pluginOptions{
		"MissingTokenFile":   {TokenPlugin: "TokenFile", TokenSource: filepath.Join(dir, "nope")},
		"TokenFileNameFile":  {TokenPlugin: "TokenFileName", TokenSource: file},
		"SocketDirMissing":   {TokenPlugin: "UnixDomainSocketDirectory", TokenSource: filepath.Join(dir, "nope")},
		"APINoPlaceholder":   {TokenPlugin: "BaseTokenAPI", TokenSource: "http://api.example/tokens"},
		"APITokenInHost":     {TokenPlugin: "JSONTokenApi", TokenSource: "http://%s.api.example/"},
		"JWTBadKey":          {TokenPlugin: "JWTTokenApi", TokenSource: writePluginFile(t, filepath.Join(dir, "bad.key"), "not a key!")},
		"HtpasswdMissing":    {Target: "h:1", AuthPlugin: "BasicHTTPAuth", AuthSource: filepath.Join(dir, "htpasswd")},
		"HtpasswdNotBcrypt":  {Target: "h:1", AuthPlugin: "BasicHTTPAuth", AuthSource: writePluginFile(t, filepath.Join(dir, "htpasswd2"), "alice:{SHA}x\n")},
		"SSLTargetCAMissing": {TargetConfig: file, SSLTarget: true, SSLTargetCA: filepath.Join(dir, "nope")},
		"SSLTargetCANotPEM":  {TargetConfig: file, SSLTarget: true, SSLTargetCA: file},
		"Invalid":            {TokenSource: "x"},
		// A failure after the Redis client was made.
		"RedisThenBadCA": {TokenPlugin: "TokenRedis", TokenSource: "127.0.0.1:1", SSLTarget: true, SSLTargetCA: filepath.Join(dir, "nope")},
	} {
		if r, a, stop, err := buildPlugins(o, slog.New(slog.DiscardHandler)); err == nil || r != nil || a != nil || stop == nil {
			t.Errorf("%s: buildPlugins = %v, %v, %v; want only an error and a stop", name, r, a, err)
		}
	}
}

// TokenRedis builds without connecting; a Redis that is down fails the
// lookup with a 5xx; stop closes the client.
func TestBuildTokenRedis(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r, _, stop, err := buildPlugins(pluginOptions{TokenPlugin: "TokenRedis", TokenSource: addr + "::secret:ns", LookupTimeout: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	_, err = resolveToken(t, r, "vm1")
	if herr, ok := errors.AsType[*proxy.HTTPError](err); !ok || herr.Status < 500 {
		t.Errorf("Resolve with Redis down: %v, want a 5xx", err)
	}
}

func TestBuildAuthPlugins(t *testing.T) {
	t.Parallel()
	request := func(lines ...string) *proxy.Request {
		req, _ := http.NewRequest(http.MethodGet, "http://proxy.example/", nil)
		for _, l := range lines {
			name, value, _ := strings.Cut(l, ": ")
			req.Header.Set(name, value)
		}
		return &proxy.Request{HTTP: req}
	}
	build := func(o pluginOptions) proxy.Authenticator {
		t.Helper()
		o.Target = "h:1"
		r, a, stop, err := buildPlugins(o, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		stop()
		if r != nil || a == nil {
			t.Fatalf("buildPlugins = %v, %v; want an authenticator alone", r, a)
		}
		return a
	}
	basic := build(pluginOptions{AuthPlugin: "BasicHTTPAuth", AuthSource: "Aladdin:open sesame"})
	if user, err := basic.Authenticate(t.Context(), request("Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")); err != nil || user != "Aladdin" {
		t.Errorf("BasicHTTPAuth = %q, %v; want Aladdin", user, err)
	}
	if _, err := basic.Authenticate(t.Context(), request()); err == nil {
		t.Error("BasicHTTPAuth without credentials: no error")
	}
	origin := build(pluginOptions{AuthPlugin: "websockify.auth_plugins.ExpectOrigin", AuthSource: "https://a.example https://b.example"})
	if _, err := origin.Authenticate(t.Context(), request("Origin: https://b.example")); err != nil {
		t.Errorf("ExpectOrigin: %v", err)
	}
	if _, err := origin.Authenticate(t.Context(), request("Origin: https://c.example")); err == nil {
		t.Error("ExpectOrigin of another origin: no error")
	}
	cn := build(pluginOptions{AuthPlugin: "ClientCertCNAuth", AuthSource: "alice", VerifyClient: true})
	if _, err := cn.Authenticate(t.Context(), request("SSL_CLIENT_S_DN_CN: alice")); err == nil {
		t.Error("ClientCertCNAuth without TLS: no error")
	}
}

// --ssl-target: each target gets its host as server name, verified
// against the system's roots or --ssl-target-ca.
func TestBuildSSLTarget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokens := writePluginFile(t, filepath.Join(dir, "tokens"), "vm1: vnc.example:5901\n")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := writePluginFile(t, filepath.Join(dir, "ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))

	for _, caFile := range []string{"", ca} {
		r, _, stop, err := buildPlugins(pluginOptions{TargetConfig: tokens, SSLTarget: true, SSLTargetCA: caFile}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		stop()
		got, err := resolveToken(t, r, "vm1")
		if err != nil {
			t.Fatal(err)
		}
		if got.TLS == nil || got.TLS.ServerName != "vnc.example" || got.TLS.InsecureSkipVerify || got.TLS.MinVersion < tls.VersionTLS12 {
			t.Fatalf("CA %q: target TLS %+v, want verification of vnc.example", caFile, got.TLS)
		}
		if (got.TLS.RootCAs != nil) != (caFile != "") {
			t.Errorf("CA %q: RootCAs %v", caFile, got.TLS.RootCAs)
		}
	}
	if conf, err := sslTargetConfig(pluginOptions{}); conf != nil || err != nil {
		t.Errorf("sslTargetConfig without --ssl-target = %v, %v; want nil", conf, err)
	}
}

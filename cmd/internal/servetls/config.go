package servetls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/internal/regfile"
)

// DefaultCert is websockify's default --cert: used when it exists in the
// working directory.
const DefaultCert = "self.pem"

// Flags are the TLS options of a server command. A command embeds them
// with its environment variables' prefix:
//
//	servetls.Flags `embed:"" envprefix:"WSPROXY_"`
type Flags struct {
	Cert         string      `env:"CERT" type:"path" placeholder:"FILE" group:"TLS" help:"PEM certificate chain for wss://, with the key unless --key is given. Default: self.pem, when that file exists."`
	Key          string      `env:"KEY" type:"path" placeholder:"FILE" group:"TLS" help:"PEM private key, if not in --cert."`
	KeyPassword  string      `env:"KEY_PASSWORD" secret:"" placeholder:"PASSWORD" group:"TLS" help:"Password of an encrypted key (PKCS #8 or OpenSSL's legacy PEM encryption). Prefer the environment variable: the command line is visible to other users."`
	CertReload   cli.Seconds `env:"CERT_RELOAD" default:"5" placeholder:"SECONDS" group:"TLS" help:"How often to check --cert and --key for changes and reload them. 0 means only on SIGHUP. Default: 5."`
	SSLOnly      bool        `env:"SSL_ONLY" group:"TLS" help:"Refuse connections that are not TLS (wss://)."`
	VerifyClient bool        `env:"VERIFY_CLIENT" group:"TLS" help:"Require TLS clients to present a certificate signed by an authority of --cafile."`
	CAFile       string      `name:"cafile" env:"CAFILE" type:"path" placeholder:"FILE" group:"TLS" help:"PEM certificates of the authorities trusted to sign client certificates (with --verify-client). Default: the system's roots."`
	SSLVersion   string      `env:"SSL_VERSION" default:"default" enum:"default,tlsv1_1,tlsv1_2,tlsv1_3" group:"TLS" help:"Minimum TLS version: default (TLS 1.2), tlsv1_1, tlsv1_2 or tlsv1_3."`
	SSLCiphers   string      `env:"SSL_CIPHERS" placeholder:"LIST" group:"TLS" help:"Cipher suites allowed up to TLS 1.2, as OpenSSL names (ECDHE-RSA-AES128-GCM-SHA256) or IANA names, separated by colons. OpenSSL keywords (HIGH, !aNULL) are refused. TLS 1.3 suites are not configurable."`
}

// Config returns the TLS configuration of the listener, and the loader
// that keeps its certificate current; both nil when there is no
// certificate. It returns a usage error (cli.Usagef) for options that need
// a certificate without one.
func (f *Flags) Config() (*tls.Config, *Loader, error) {
	certFile := f.Cert
	if certFile == "" {
		if _, err := os.Stat(DefaultCert); err == nil {
			certFile = DefaultCert
		}
	}
	if certFile == "" {
		var need string
		switch {
		case f.SSLOnly:
			need = "--ssl-only"
		case f.VerifyClient:
			need = "--verify-client"
		case f.Key != "":
			need = "--key"
		}
		if need != "" {
			return nil, nil, cli.Usagef("%s needs a certificate: give --cert FILE (%s not found)", need, DefaultCert)
		}
		return nil, nil, nil
	}
	certs := &Loader{certFile: certFile, keyFile: f.Key, password: []byte(f.KeyPassword)}
	if err := certs.load(); err != nil {
		return nil, nil, err
	}
	conf := &tls.Config{
		GetCertificate: certs.GetCertificate,
		MinVersion:     minTLSVersion[f.SSLVersion],
	}
	var err error
	if conf.CipherSuites, err = parseCiphers(f.SSLCiphers); err != nil {
		return nil, nil, err
	}
	if f.VerifyClient {
		conf.ClientAuth = tls.RequireAndVerifyClientCert
		if conf.ClientCAs, err = loadCAs(f.CAFile); err != nil {
			return nil, nil, err
		}
	}
	return conf, certs, nil
}

// Warnings returns what the options ask that has no effect, one message
// each, for the command's log.
func (f *Flags) Warnings() []string {
	var w []string
	if f.CAFile != "" && !f.VerifyClient {
		w = append(w, "--cafile has no effect without --verify-client")
	}
	return w
}

// minTLSVersion maps --ssl-version to tls.Config.MinVersion; "default" is
// Go's default, TLS 1.2.
var minTLSVersion = map[string]uint16{
	"default": 0,
	"tlsv1_1": tls.VersionTLS11,
	"tlsv1_2": tls.VersionTLS12,
	"tlsv1_3": tls.VersionTLS13,
}

// loadCAs returns the certificates in the PEM file, or the system's roots
// if file is empty.
func loadCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("system roots: %w", err)
		}
		return pool, nil
	}
	b, err := regfile.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cafile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("cafile %s: no PEM certificate", file)
	}
	return pool, nil
}

// parseCiphers maps --ssl-ciphers to cipher suite IDs: a list of OpenSSL or
// IANA names separated by colons (OpenSSL's separator), commas or spaces.
// It returns nil for an empty list (Go's defaults). Names are matched
// exactly, so an OpenSSL keyword or operator (HIGH, !aNULL, @STRENGTH), a
// TLS 1.3 suite (not configurable in Go, nor by OpenSSL's cipher list) or
// an unknown name is a usage error rather than silently ignored.
func parseCiphers(list string) ([]uint16, error) {
	names := strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' })
	if len(names) == 0 {
		return nil, nil
	}
	byName := make(map[string]uint16)
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		byName[cs.Name] = cs.ID
	}
	var ids []uint16
	for _, name := range names {
		id, ok := openSSLCiphers[name]
		if !ok {
			id, ok = byName[name]
		}
		switch {
		case ok && isTLS13Suite(id):
			return nil, cli.Usagef("--ssl-ciphers: %s is a TLS 1.3 suite: those are always enabled and cannot be chosen", name)
		case ok:
			ids = append(ids, id)
		case strings.ContainsAny(name[:1], "!-+@") || strings.ToUpper(name) == name && !strings.Contains(name, "-"):
			return nil, cli.Usagef("--ssl-ciphers: %q is an OpenSSL keyword or operator, which is not evaluated here: list cipher names such as ECDHE-RSA-AES128-GCM-SHA256, or leave --ssl-ciphers out for Go's secure defaults", name)
		default:
			return nil, cli.Usagef("--ssl-ciphers: unknown cipher %q (Go implements: %s)", name, strings.Join(knownCiphers(), " "))
		}
	}
	return ids, nil
}

func isTLS13Suite(id uint16) bool {
	return id == tls.TLS_AES_128_GCM_SHA256 || id == tls.TLS_AES_256_GCM_SHA384 || id == tls.TLS_CHACHA20_POLY1305_SHA256
}

// knownCiphers returns the OpenSSL names of openSSLCiphers, secure first.
func knownCiphers() []string {
	var secure, insecure []string
	for _, cs := range tls.CipherSuites() {
		if n := openSSLName(cs.ID); n != "" && !isTLS13Suite(cs.ID) {
			secure = append(secure, n)
		}
	}
	for _, cs := range tls.InsecureCipherSuites() {
		if n := openSSLName(cs.ID); n != "" {
			insecure = append(insecure, n)
		}
	}
	return append(secure, insecure...)
}

func openSSLName(id uint16) string {
	for n, i := range openSSLCiphers {
		if i == id {
			return n
		}
	}
	return ""
}

// openSSLCiphers maps OpenSSL's names of the cipher suites Go implements
// (openssl ciphers -stdname) to their IDs. TLS 1.3 suites have the same
// name in both.
var openSSLCiphers = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-ECDSA-RC4-SHA":           tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA,
	"ECDHE-RSA-RC4-SHA":             tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA,
	"RC4-SHA":                       tls.TLS_RSA_WITH_RC4_128_SHA,
	"ECDHE-RSA-DES-CBC3-SHA":        tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
	"TLS_AES_128_GCM_SHA256":        tls.TLS_AES_128_GCM_SHA256,
	"TLS_AES_256_GCM_SHA384":        tls.TLS_AES_256_GCM_SHA384,
	"TLS_CHACHA20_POLY1305_SHA256":  tls.TLS_CHACHA20_POLY1305_SHA256,
}

// Check reports an option that is wrong in itself (a cipher list that
// cannot be used), before anything starts.
func (f *Flags) Check() error {
	_, err := parseCiphers(f.SSLCiphers)
	return err
}

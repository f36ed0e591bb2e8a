package jwt_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens/internal/tokentest"
	"github.com/wsproxy/wsproxy/proxy/tokens/jwt"
)

// jwtKeys are the test's keys, made once.
var jwtKeys = sync.OnceValue(func() (k struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}) {
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

func pemFile(t testing.TB, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.pem")
	tokentest.WriteFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
	return path
}

func publicPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemFile(t, "PUBLIC KEY", der)
}

func privatePEM(t testing.TB, key crypto.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemFile(t, "PRIVATE KEY", der)
}

// sign returns a compact JWS of claims.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// encrypt returns a compact JWE of plaintext.
func encrypt(t testing.TB, alg jose.KeyAlgorithm, enc jose.ContentEncryption, key any, plaintext string) string {
	t.Helper()
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: key}, (&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jwe, err := e.Encrypt([]byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jwe.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawToken builds a compact JWS by hand, for what go-jose refuses to make.
func rawToken(header, claims string, sig []byte) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + "." + enc(sig)
}

var jwtTarget = map[string]any{"host": "remote_host", "port": "5900"}

// JWTTokenApi with websockify's key shapes (its tests' fixtures: a PEM
// public key, a PEM private key, a symmetric key as text), and the
// attacks a JWT verifier must resist.
func TestJWTTokens(t *testing.T) {
	t.Parallel()
	k := jwtKeys()
	now := time.Unix(150, 0)
	opts := jwt.Options{Now: func() time.Time { return now }}
	newJWT := func(t *testing.T, path string) *jwt.Tokens {
		t.Helper()
		j, err := jwt.NewTokens(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	rsaPub := publicPEM(t, &k.rsa.PublicKey)
	rsaPriv := privatePEM(t, k.rsa)
	rsaPKCS1 := pemFile(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa))
	ecPub := publicPEM(t, &k.ec.PublicKey)
	ecDER, _ := x509.MarshalECPrivateKey(k.ec)
	ecPriv := pemFile(t, "EC PRIVATE KEY", ecDER)
	edPub := publicPEM(t, k.ed.Public())
	// A certificate followed by its key, as many PEM files hold them.
	certDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1)}, &x509.Certificate{SerialNumber: big.NewInt(1)}, &k.rsa.PublicKey, k.rsa)
	if err != nil {
		t.Fatal(err)
	}
	certAndKey := filepath.Join(t.TempDir(), "combined.pem")
	tokentest.WriteFile(t, certAndKey, readFile(t, pemFile(t, "CERTIFICATE", certDER))+readFile(t, rsaPKCS1))
	certOnly := pemFile(t, "CERTIFICATE", certDER)

	// A symmetric key file as websockify's fixture: short text, which
	// jwcrypto decodes as base64url.
	symText := "secret_sauce"
	symFile := filepath.Join(t.TempDir(), "symmetric.key")
	tokentest.WriteFile(t, symFile, symText+"\n")
	sym, _ := base64.RawURLEncoding.DecodeString(symText)
	sym32 := []byte("0123456789abcdef0123456789abcdef")
	sym32File := filepath.Join(t.TempDir(), "sym32.key")
	tokentest.WriteFile(t, sym32File, base64.RawURLEncoding.EncodeToString(sym32))
	sym64 := append(sym32[:32:32], sym32...)
	sym64File := filepath.Join(t.TempDir(), "sym64.key")
	tokentest.WriteFile(t, sym64File, base64.URLEncoding.EncodeToString(sym64)+"\n") // padded

	with := func(extra map[string]any) map[string]any {
		m := map[string]any{"host": "remote_host", "port": "5900"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	hs256 := func(key []byte, header, claims string) string {
		enc := base64.RawURLEncoding.EncodeToString
		input := enc([]byte(header)) + "." + enc([]byte(claims))
		m := hmac.New(sha256.New, key)
		m.Write([]byte(input))
		return input + "." + enc(m.Sum(nil))
	}
	nested := sign(t, jose.RS256, k.rsa, jwtTarget)

	tests := []struct {
		name    string
		keyFile string
		token   string
		network string // "" when the token is refused
		address string
	}{
		{"RS256PublicKey", rsaPub, sign(t, jose.RS256, k.rsa, jwtTarget), "tcp", "remote_host:5900"},
		{"PS512PublicKey", rsaPub, sign(t, jose.PS512, k.rsa, jwtTarget), "tcp", "remote_host:5900"},
		{"RS256PrivateKey", rsaPriv, sign(t, jose.RS256, k.rsa, jwtTarget), "tcp", "remote_host:5900"},
		{"RS256PKCS1Key", rsaPKCS1, sign(t, jose.RS256, k.rsa, jwtTarget), "tcp", "remote_host:5900"},
		{"CertificateAndKey", certAndKey, encrypt(t, jose.RSA_OAEP, jose.A256GCM, &k.rsa.PublicKey, nested), "tcp", "remote_host:5900"},
		{"Certificate", certOnly, sign(t, jose.RS256, k.rsa, jwtTarget), "tcp", "remote_host:5900"},
		{"ES256", ecPub, sign(t, jose.ES256, k.ec, jwtTarget), "tcp", "remote_host:5900"},
		{"ES256PrivateKey", ecPriv, sign(t, jose.ES256, k.ec, jwtTarget), "tcp", "remote_host:5900"},
		{"EdDSA", edPub, sign(t, jose.EdDSA, k.ed, jwtTarget), "tcp", "remote_host:5900"},
		{"HS256ShortKey", symFile, hs256(sym, `{"alg":"HS256"}`, `{"host":"remote_host","port":"5900"}`), "tcp", "remote_host:5900"},
		{"HS512", sym64File, sign(t, jose.HS512, sym64, jwtTarget), "tcp", "remote_host:5900"},
		{"PortNumber", rsaPub, sign(t, jose.RS256, k.rsa, map[string]any{"host": "h", "port": 5901}), "tcp", "h:5901"},
		{"UnixSocket", rsaPub, sign(t, jose.RS256, k.rsa, map[string]any{"host": "unix_socket", "port": "/run/vnc.sock"}), "unix", "/run/vnc.sock"},
		{"ValidTime", rsaPub, sign(t, jose.RS256, k.rsa, with(map[string]any{"nbf": 100, "exp": 200})), "tcp", "remote_host:5900"},
		{"FractionalTime", rsaPub, sign(t, jose.RS256, k.rsa, with(map[string]any{"nbf": 149.5, "exp": 150.5})), "tcp", "remote_host:5900"},
		{"JWENested", rsaPriv, encrypt(t, jose.RSA_OAEP, jose.A256CBC_HS512, &k.rsa.PublicKey, nested), "tcp", "remote_host:5900"},
		{"JWENestedOAEP256GCM", rsaPriv, encrypt(t, jose.RSA_OAEP_256, jose.A128GCM, &k.rsa.PublicKey, nested), "tcp", "remote_host:5900"},
		{"JWENestedECDH", ecPriv, encrypt(t, jose.ECDH_ES_A128KW, jose.A128GCM, &k.ec.PublicKey, sign(t, jose.ES256, k.ec, jwtTarget)), "tcp", "remote_host:5900"},
		{"JWENestedDir", sym32File, encrypt(t, jose.DIRECT, jose.A128CBC_HS256, sym32, sign(t, jose.HS256, sym32, jwtTarget)), "tcp", "remote_host:5900"},

		{"ErrEarly", rsaPub, sign(t, jose.RS256, k.rsa, with(map[string]any{"nbf": 151})), "", ""},
		{"ErrExpired", rsaPub, sign(t, jose.RS256, k.rsa, with(map[string]any{"exp": 149})), "", ""},
		{"ErrTimeString", rsaPub, sign(t, jose.RS256, k.rsa, with(map[string]any{"exp": "never"})), "", ""},
		{"ErrOtherKey", rsaPub, sign(t, jose.RS256, k.rsa2, jwtTarget), "", ""},
		{"ErrWrongSymmetricKey", symFile, sign(t, jose.HS256, sym32, jwtTarget), "", ""},
		{"ErrHS256WithOtherKey", sym64File, sign(t, jose.HS256, sym32, jwtTarget), "", ""},
		{"ErrTampered", rsaPub, tamper(sign(t, jose.RS256, k.rsa, jwtTarget)), "", ""},
		{"ErrAlgNone", rsaPub, rawToken(`{"alg":"none"}`, `{"host":"evil","port":"22"}`, nil), "", ""},
		{"ErrAlgNoneSymmetric", symFile, rawToken(`{"alg":"none"}`, `{"host":"evil","port":"22"}`, nil), "", ""},
		// The public key file's bytes as an HMAC secret: the classic
		// algorithm confusion attack.
		{"ErrHS256WithPublicKey", rsaPub, hs256([]byte(readFile(t, rsaPub)), `{"alg":"HS256"}`, `{"host":"evil","port":"22"}`), "", ""},
		{"ErrRS256WithSymmetricKey", symFile, sign(t, jose.RS256, k.rsa, jwtTarget), "", ""},
		{"ErrES256WithRSAKey", rsaPub, sign(t, jose.ES256, k.ec, jwtTarget), "", ""},
		{"ErrNoHost", rsaPub, sign(t, jose.RS256, k.rsa, map[string]any{"port": "5900"}), "", ""},
		{"ErrBadPort", rsaPub, sign(t, jose.RS256, k.rsa, map[string]any{"host": "h", "port": "ssh"}), "", ""},
		{"ErrClaimsNotJSON", rsaPub, rawSigned(t, k.rsa, "not json"), "", ""},
		// An encrypted token that is not signed: anyone with the public
		// key could have made it.
		{"ErrJWENotNested", rsaPriv, encrypt(t, jose.RSA_OAEP, jose.A256GCM, &k.rsa.PublicKey, `{"host":"evil","port":"22"}`), "", ""},
		{"ErrJWEWithPublicKey", rsaPub, encrypt(t, jose.RSA_OAEP, jose.A256GCM, &k.rsa.PublicKey, nested), "", ""},
		{"ErrJWEInnerOtherKey", rsaPriv, encrypt(t, jose.RSA_OAEP, jose.A256GCM, &k.rsa.PublicKey, sign(t, jose.RS256, k.rsa2, jwtTarget)), "", ""},
		{"ErrJWERSA1_5", rsaPriv, encrypt(t, jose.RSA1_5, jose.A256GCM, &k.rsa.PublicKey, nested), "", ""},
		{"ErrGarbage", rsaPub, "not.a.jwt", "", ""},
		{"ErrNoDots", rsaPub, "garbage", "", ""},
		{"ErrTooManyDots", rsaPub, "a.b.c.d", "", ""},
		{"ErrEmpty", rsaPub, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := newJWT(t, tt.keyFile)
			if tt.network == "" {
				tokentest.WantErr(t, j, tt.token, proxy.ErrInvalidToken)
				return
			}
			tokentest.WantTarget(t, j, tt.token, tt.network, tt.address)
		})
	}
}

// rawSigned signs an arbitrary payload with RS256.
func rawSigned(t testing.TB, key *rsa.PrivateKey, payload string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// tamper changes the port in a JWS's claims, keeping the signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"host":"remote_host","port":"22"}`))
	return strings.Join(parts, ".")
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJWTKeyErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":     "",
		"space":     "not base64 at all!",
		"badPEM":    "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
		"otherPEM":  "-----BEGIN DH PARAMETERS-----\nMAYCAQACAQI=\n-----END DH PARAMETERS-----\n",
		"encrypted": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAYCAQACAQI=\n-----END ENCRYPTED PRIVATE KEY-----\n",
	} {
		path := filepath.Join(dir, name)
		tokentest.WriteFile(t, path, content)
		if _, err := jwt.NewTokens(path, jwt.Options{}); err == nil {
			t.Errorf("key file %s: no error", name)
		}
	}
	if _, err := jwt.NewTokens(filepath.Join(dir, "missing"), jwt.Options{}); err == nil {
		t.Error("missing key file: no error")
	}
}

// The key file is read again when it changes, as websockify reads it at
// every lookup.
func TestJWTKeyReload(t *testing.T) {
	t.Parallel()
	k := jwtKeys()
	path := filepath.Join(t.TempDir(), "key.pem")
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	tokentest.WriteFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	j, err := jwt.NewTokens(path, jwt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok1, tok2 := sign(t, jose.RS256, k.rsa, jwtTarget), sign(t, jose.RS256, k.rsa2, jwtTarget)
	tokentest.WantTarget(t, j, tok1, "tcp", "remote_host:5900")
	tokentest.WantErr(t, j, tok2, proxy.ErrInvalidToken)
	der, _ = x509.MarshalPKIXPublicKey(&k.rsa2.PublicKey)
	tokentest.WriteFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	tokentest.WantTarget(t, j, tok2, "tcp", "remote_host:5900")
	tokentest.WantErr(t, j, tok1, proxy.ErrInvalidToken)
}

// FuzzJWTTokens feeds mutations of valid and hostile tokens to the JWT
// plugin: it must not panic, and nothing but what the key signed may
// resolve (no malleability lets another target through).
func FuzzJWTTokens(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	path := filepath.Join(f.TempDir(), "key")
	tokentest.WriteFile(f, path, base64.RawURLEncoding.EncodeToString(secret))
	j, err := jwt.NewTokens(path, jwt.Options{})
	if err != nil {
		f.Fatal(err)
	}
	signed := sign(f, jose.HS256, secret, jwtTarget)
	f.Add(signed)
	f.Add(encrypt(f, jose.DIRECT, jose.A128CBC_HS256, secret, signed))
	f.Add(encrypt(f, jose.A256KW, jose.A256GCM, secret, signed))
	f.Add(rawToken(`{"alg":"none"}`, `{"host":"evil","port":"22"}`, nil))
	f.Add(rawToken(`{"alg":"HS256","crit":["exp"]}`, `{"host":"evil","port":"22"}`, []byte("x")))
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, token string) {
		got, err := j.Lookup(context.Background(), token)
		if err == nil && got.String() != "remote_host:5900" {
			t.Fatalf("Lookup(%q) = %s: a target the key never signed", token, got)
		}
	})
}

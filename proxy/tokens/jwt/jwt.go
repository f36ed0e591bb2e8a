package jwt

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wsproxy/wsproxy/internal/filesnap"
	"github.com/wsproxy/wsproxy/internal/regfile"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens"
)

// Options configures a Tokens. The zero value checks times against
// the system clock and logs nothing.
type Options struct {
	// Now is the clock against which "nbf" and "exp" are checked. nil
	// means time.Now.
	Now func() time.Time

	// Logger receives a warning when a symmetric key is shorter than RFC
	// 7518 asks. nil means no logging.
	Logger *slog.Logger
}

// Tokens resolves tokens that carry their target: JSON Web Tokens
// signed, or signed then encrypted, with the key in a file (websockify's
// JWTTokenApi, whose token plugin reads github.com/latchset/jwcrypto's
// formats):
//
//   - The key file holds a PEM public key, private key or certificate
//     (RSA, ECDSA or Ed25519), or a symmetric key as jwcrypto takes it: the
//     file's text is the base64url-encoded key (RFC 7517's "k").
//   - A token is a compact JWS signed with the key, or a compact JWE
//     encrypted to the key (a private or symmetric key) whose plaintext is
//     such a JWS: a nested JWT, as websockify reads one. An encrypted
//     token whose plaintext is not signed is refused: anyone who has the
//     public key could have made it.
//   - The claims "host" and "port" name the target (a port may be a number
//     or a string; "unix_socket" and a path name a unix socket); "nbf" and
//     "exp", when present, are checked without leeway, as websockify
//     checks them.
//   - Only the algorithms of the key's type are accepted: "none" never,
//     and never an HMAC with a public key as its secret (the "algorithm
//     confusion" attack).
//
// The key file is read again when it changes. Safe for concurrent use.
type Tokens struct {
	path string
	now  func() time.Time
	log  *slog.Logger

	mu   sync.Mutex
	key  *jwtKey
	snap filesnap.Snapshot
}

// jwtKey is a key and the algorithms that may be used with it.
type jwtKey struct {
	verify  any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or hmacKey
	decrypt any // *rsa.PrivateKey, *ecdsa.PrivateKey or []byte; nil for a public key
	sigAlgs []jose.SignatureAlgorithm
	keyAlgs []jose.KeyAlgorithm
}

// contentEncryptions are the JWE "enc" values accepted.
var contentEncryptions = []jose.ContentEncryption{
	jose.A128CBC_HS256, jose.A192CBC_HS384, jose.A256CBC_HS512,
	jose.A128GCM, jose.A192GCM, jose.A256GCM,
}

// NewTokens returns the plugin for the key in keyFile. It returns an
// error if the file cannot be read or holds no usable key.
func NewTokens(keyFile string, opts Options) (*Tokens, error) {
	j := &Tokens{path: keyFile, now: opts.Now, log: opts.Logger}
	if j.now == nil {
		j.now = time.Now
	}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	if _, err := j.loadKey(); err != nil {
		return nil, err
	}
	return j, nil
}

// loadKey returns the key, read again if the file changed.
func (j *Tokens) loadKey() (*jwtKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.key != nil && !j.snap.Changed() {
		return j.key, nil
	}
	var snap filesnap.Snapshot
	if _, err := snap.Stat(j.path); err != nil {
		return nil, fmt.Errorf("JWT key: %w", err)
	}
	b, err := regfile.ReadFile(j.path)
	if err != nil {
		return nil, fmt.Errorf("JWT key: %w", err)
	}
	key, err := parseJWTKey(b)
	if err != nil {
		return nil, fmt.Errorf("JWT key %s: %w", j.path, err)
	}
	if k, ok := key.verify.(hmacKey); ok && len(k) < 32 && (j.key == nil || !bytes.Equal(k, j.key.verify.(hmacKey))) {
		j.log.Warn("JWT key: symmetric key shorter than the 32 bytes RFC 7518 asks for HS256; accepted, as websockify accepts it", "path", j.path, "bytes", len(k))
	}
	j.key, j.snap = key, snap
	return key, nil
}

// Lookup verifies token and returns the target in its claims. It returns
// an error wrapping proxy.ErrInvalidToken for a token that is malformed, not
// signed with the key, not decryptable with it, not yet valid, expired or
// without a target, and the error of reading the key file when it changed
// and cannot be read.
func (j *Tokens) Lookup(_ context.Context, token string) (proxy.Target, error) {
	key, err := j.loadKey()
	if err != nil {
		return proxy.Target{}, err
	}
	var payload []byte
	switch strings.Count(token, ".") {
	case 2:
		payload, err = key.verifyJWS(token)
	case 4:
		payload, err = key.decryptJWE(token)
	default:
		err = errors.New("not a compact JWS or JWE")
	}
	if err != nil {
		return proxy.Target{}, fmt.Errorf("%w: %w", proxy.ErrInvalidToken, err)
	}
	var claims struct {
		NotBefore *float64 `json:"nbf"`
		Expiry    *float64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return proxy.Target{}, fmt.Errorf("%w: claims: %w", proxy.ErrInvalidToken, err)
	}
	now := float64(j.now().UnixNano()) / 1e9
	if claims.NotBefore != nil && now < *claims.NotBefore {
		return proxy.Target{}, fmt.Errorf("%w: not valid before %s", proxy.ErrInvalidToken, unixTime(*claims.NotBefore))
	}
	if claims.Expiry != nil && now > *claims.Expiry {
		return proxy.Target{}, fmt.Errorf("%w: expired at %s", proxy.ErrInvalidToken, unixTime(*claims.Expiry))
	}
	t, err := tokens.ParseJSONTarget(payload)
	if err != nil {
		return proxy.Target{}, fmt.Errorf("%w: claims: %w", proxy.ErrInvalidToken, err)
	}
	return t, nil
}

func unixTime(s float64) string {
	return time.Unix(0, int64(s*1e9)).UTC().Format(time.RFC3339)
}

// verifyJWS returns the payload of a JWS signed with k.
func (k *jwtKey) verifyJWS(token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, k.sigAlgs)
	if err != nil {
		return nil, err
	}
	return jws.Verify(k.verify)
}

// decryptJWE returns the payload of the JWS inside a JWE encrypted to k.
func (k *jwtKey) decryptJWE(token string) ([]byte, error) {
	if k.decrypt == nil {
		return nil, errors.New("an encrypted token needs a private or symmetric key to decrypt it")
	}
	jwe, err := jose.ParseEncryptedCompact(token, k.keyAlgs, contentEncryptions)
	if err != nil {
		return nil, err
	}
	inner, err := jwe.Decrypt(k.decrypt)
	if err != nil {
		return nil, err
	}
	if bytes.Count(inner, []byte(".")) != 2 {
		return nil, errors.New("an encrypted token must hold a signed token (a nested JWT)")
	}
	return k.verifyJWS(string(inner))
}

// parseJWTKey reads a key file as jwcrypto's JWK.import_from_pem, then
// JWK.import_key(kty="oct", k=text), read it. Of a PEM file with several
// blocks (a certificate and its key), a private key is preferred: it can
// also decrypt.
func parseJWTKey(b []byte) (*jwtKey, error) {
	if !bytes.Contains(b, []byte("-----BEGIN ")) {
		return symmetricKey(b)
	}
	var public any
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, ok := block.Headers["Proc-Type"]; ok || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("the key is encrypted: give it unencrypted, as websockify reads it without a password")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			continue // EC PARAMETERS and the like
		}
		if err != nil {
			return nil, fmt.Errorf("PEM %s: %w", block.Type, err)
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return asymmetricKey(key)
		}
		if public == nil {
			public = key
		}
	}
	if public == nil {
		return nil, errors.New("no key in the PEM file (PUBLIC KEY, PRIVATE KEY, RSA or EC PRIVATE KEY, CERTIFICATE)")
	}
	return asymmetricKey(public)
}

func asymmetricKey(key any) (*jwtKey, error) {
	rsaAlgs := []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return &jwtKey{verify: &k.PublicKey, decrypt: k, sigAlgs: rsaAlgs,
			keyAlgs: []jose.KeyAlgorithm{jose.RSA_OAEP, jose.RSA_OAEP_256}}, nil
	case *rsa.PublicKey:
		return &jwtKey{verify: k, sigAlgs: rsaAlgs}, nil
	case *ecdsa.PrivateKey:
		alg, err := ecdsaAlg(k.Curve)
		if err != nil {
			return nil, err
		}
		return &jwtKey{verify: &k.PublicKey, decrypt: k, sigAlgs: []jose.SignatureAlgorithm{alg},
			keyAlgs: []jose.KeyAlgorithm{jose.ECDH_ES, jose.ECDH_ES_A128KW, jose.ECDH_ES_A192KW, jose.ECDH_ES_A256KW}}, nil
	case *ecdsa.PublicKey:
		alg, err := ecdsaAlg(k.Curve)
		if err != nil {
			return nil, err
		}
		return &jwtKey{verify: k, sigAlgs: []jose.SignatureAlgorithm{alg}}, nil
	case ed25519.PrivateKey:
		return &jwtKey{verify: k.Public().(ed25519.PublicKey), sigAlgs: []jose.SignatureAlgorithm{jose.EdDSA}}, nil
	case ed25519.PublicKey:
		return &jwtKey{verify: k, sigAlgs: []jose.SignatureAlgorithm{jose.EdDSA}}, nil
	default:
		return nil, fmt.Errorf("unsupported key type %T: want RSA, ECDSA or Ed25519", key)
	}
}

func ecdsaAlg(c elliptic.Curve) (jose.SignatureAlgorithm, error) {
	switch c {
	case elliptic.P256():
		return jose.ES256, nil
	case elliptic.P384():
		return jose.ES384, nil
	case elliptic.P521():
		return jose.ES512, nil
	}
	return "", fmt.Errorf("unsupported ECDSA curve %s", c.Params().Name)
}

// symmetricKey reads a symmetric key as jwcrypto's base64url_decode does:
// base64url, or standard base64 (Python's urlsafe_b64decode takes both
// alphabets), padding optional. Surrounding white space (a final newline)
// is ignored.
func symmetricKey(b []byte) (*jwtKey, error) {
	s := strings.TrimRight(strings.TrimSpace(string(b)), "=")
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	k, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(k) == 0 {
		return nil, errors.New("not a PEM key, nor a base64url-encoded symmetric key (websockify, through jwcrypto, decodes the file's text as base64url)")
	}
	return &jwtKey{
		verify:  hmacKey(k),
		decrypt: k,
		sigAlgs: []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512},
		keyAlgs: []jose.KeyAlgorithm{jose.DIRECT, jose.A128KW, jose.A192KW, jose.A256KW, jose.A128GCMKW, jose.A192GCMKW, jose.A256GCMKW},
	}, nil
}

// hmacKey verifies HMAC signatures (RFC 7518 section 3.2). go-jose refuses
// keys shorter than the hash; jwcrypto, and so websockify, accepts them,
// and operators' keys must keep working: the length is warned about
// instead. go-jose still parses the token and checks the algorithm
// against the allowed list before calling VerifyPayload.
type hmacKey []byte

// VerifyPayload implements jose.OpaqueVerifier.
func (k hmacKey) VerifyPayload(payload, signature []byte, alg jose.SignatureAlgorithm) error {
	var h func() hash.Hash
	switch alg {
	case jose.HS256:
		h = sha256.New
	case jose.HS384:
		h = sha512.New384
	case jose.HS512:
		h = sha512.New
	default:
		return jose.ErrUnsupportedAlgorithm
	}
	m := hmac.New(h, k)
	m.Write(payload)
	if !hmac.Equal(m.Sum(nil), signature) {
		return jose.ErrCryptoFailure
	}
	return nil
}

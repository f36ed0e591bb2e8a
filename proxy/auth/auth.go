package auth

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/wsproxy/wsproxy/internal/filesnap"
	"github.com/wsproxy/wsproxy/internal/regfile"
	"github.com/wsproxy/wsproxy/proxy"
)

// basicChallenge is the WWW-Authenticate header of Basic, websockify's
// realm; the charset parameter (RFC 7617 section 2.1) asks browsers for
// UTF-8.
const basicChallenge = `Basic realm="Websockify", charset="UTF-8"`

// Basic checks HTTP Basic credentials (websockify's BasicHTTPAuth):
// one user and password, or the users of an htpasswd file with bcrypt
// hashes. A request without credentials, or with wrong ones, is answered
// 401 with WWW-Authenticate; one whose Authorization header is not Basic
// or is malformed is answered 403, as websockify answers them. Secrets are
// compared in constant time. It is safe for concurrent use.
type Basic struct {
	sum [sha256.Size]byte // of "user:password", for one user

	path  string // of the htpasswd file, for its users
	mu    sync.Mutex
	file  map[string][]byte // user name to bcrypt hash
	dummy []byte            // a hash of the file's highest cost, for unknown users
	snap  filesnap.Snapshot
}

// NewBasic accepts the one user and password given (websockify's
// BasicHTTPAuth source "user:password").
func NewBasic(user, password string) *Basic {
	return &Basic{sum: sha256.Sum256([]byte(user + ":" + password))}
}

// NewBasicFile accepts the users of the htpasswd file at path, whose
// lines are "user:hash" with bcrypt hashes (htpasswd -B). The file is read
// again when it changes. It returns an error if the file cannot be read,
// or has a line that is not a bcrypt entry.
func NewBasicFile(path string) (*Basic, error) {
	a := &Basic{path: path}
	if _, _, err := a.users(); err != nil {
		return nil, err
	}
	return a, nil
}

// Authenticate returns the user name of the request's valid credentials.
// It returns an *proxy.HTTPError otherwise (401 or 403), or the error of reading
// the htpasswd file when it changed and cannot be read.
func (a *Basic) Authenticate(_ context.Context, r *proxy.Request) (string, error) {
	h := r.HTTP.Header.Get("Authorization")
	if h == "" {
		return "", demandAuth(errors.New("no credentials"))
	}
	scheme, creds, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", &proxy.HTTPError{Status: http.StatusForbidden, Reason: "forbidden", Err: fmt.Errorf("authorization scheme %q, want Basic", scheme)}
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(creds))
	if err != nil {
		return "", &proxy.HTTPError{Status: http.StatusForbidden, Reason: "forbidden", Err: fmt.Errorf("basic credentials: %w", err)}
	}
	user, password, ok := strings.Cut(string(b), ":")
	if !ok {
		return "", &proxy.HTTPError{Status: http.StatusForbidden, Reason: "forbidden", Err: errors.New("basic credentials without a colon")}
	}
	if a.path == "" {
		sum := sha256.Sum256(b)
		if subtle.ConstantTimeCompare(sum[:], a.sum[:]) != 1 {
			return "", demandAuth(fmt.Errorf("wrong credentials for user %q", user))
		}
		return user, nil
	}
	users, dummy, err := a.users()
	if err != nil {
		return "", err
	}
	hash, known := users[user]
	if !known {
		hash = dummy // the same work for unknown users as for known ones
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !known {
		return "", demandAuth(fmt.Errorf("wrong credentials for user %q", user))
	}
	return user, nil
}

func demandAuth(err error) *proxy.HTTPError {
	return &proxy.HTTPError{Status: http.StatusUnauthorized, Header: http.Header{"Www-Authenticate": {basicChallenge}}, Reason: "authentication required", Err: err}
}

// users returns the users of the htpasswd file, read again if it
// changed, and a hash of the same cost to compare unknown users with.
func (a *Basic) users() (map[string][]byte, []byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file != nil && !a.snap.Changed() {
		return a.file, a.dummy, nil
	}
	users, dummy, err := a.read()
	if err != nil {
		return nil, nil, err
	}
	a.file, a.dummy = users, dummy
	return users, dummy, nil
}

// read reads the htpasswd file into a.snap. a.mu is held.
func (a *Basic) read() (map[string][]byte, []byte, error) {
	var snap filesnap.Snapshot
	if _, err := snap.Stat(a.path); err != nil {
		return nil, nil, fmt.Errorf("htpasswd: %w", err)
	}
	f, err := regfile.Open(a.path)
	if err != nil {
		return nil, nil, fmt.Errorf("htpasswd: %w", err)
	}
	defer f.Close()
	users := make(map[string][]byte)
	maxCost := bcrypt.MinCost
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, _ := strings.Cut(line, ":")
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil || user == "" {
			return nil, nil, fmt.Errorf("htpasswd %s:%d: want user:bcrypt-hash (htpasswd -B); other hash types are not supported", a.path, n)
		}
		users[user] = []byte(hash)
		maxCost = max(maxCost, cost)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("htpasswd %s: %w", a.path, err)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no such user"), maxCost)
	if err != nil {
		return nil, nil, fmt.Errorf("htpasswd: %w", err)
	}
	a.snap = snap
	return users, dummy, nil
}

// ExpectOrigin accepts requests whose Origin header is one of a list
// (websockify's ExpectOrigin), exactly as written; others, and requests
// without Origin, are answered 403. It is safe for concurrent use.
type ExpectOrigin struct {
	origins []string
}

// NewExpectOrigin accepts the given origins ("https://example.com"):
// websockify's source, split on white space.
func NewExpectOrigin(origins ...string) *ExpectOrigin {
	return &ExpectOrigin{origins: slices.Clone(origins)}
}

// Authenticate returns "" for an expected Origin, and an *proxy.HTTPError (403)
// otherwise.
func (o *ExpectOrigin) Authenticate(_ context.Context, r *proxy.Request) (string, error) {
	origin, present := r.HTTP.Header["Origin"]
	if !present || !slices.Contains(o.origins, origin[0]) {
		got := "none"
		if present {
			got = fmt.Sprintf("%q", origin[0])
		}
		return "", &proxy.HTTPError{Status: http.StatusForbidden, Reason: "Invalid Origin", Err: fmt.Errorf("origin %s, expected one of %q", got, o.origins)}
	}
	return "", nil
}

// ClientCertCN accepts TLS clients whose verified certificate has one of
// a list of common names (websockify's ClientCertCNAuth), and answers
// others 403. It needs the listener to verify client certificates
// (tls.RequireAndVerifyClientCert, websockify's --verify-client): only a
// verified chain counts, and headers are never read (websockify removes
// the SSL_ headers a client may send; here they mean nothing). It is safe
// for concurrent use.
type ClientCertCN struct {
	names []string
}

// NewClientCertCN accepts the given common names: websockify's source,
// split on white space.
func NewClientCertCN(names ...string) *ClientCertCN {
	return &ClientCertCN{names: slices.Clone(names)}
}

// Authenticate returns the common name of the client's verified
// certificate when it is accepted, and an *proxy.HTTPError (403) otherwise.
func (c *ClientCertCN) Authenticate(_ context.Context, r *proxy.Request) (string, error) {
	st := r.HTTP.TLS
	if st == nil || len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return "", &proxy.HTTPError{Status: http.StatusForbidden, Reason: "forbidden", Err: errors.New("no verified client certificate")}
	}
	cn := st.PeerCertificates[0].Subject.CommonName
	if !slices.Contains(c.names, cn) {
		return "", &proxy.HTTPError{Status: http.StatusForbidden, Reason: "forbidden", Err: fmt.Errorf("client certificate CN %q, expected one of %q", cn, c.names)}
	}
	return cn, nil
}

package authflags

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/auth"
)

// Module is websockify's module of auth plugins: a class name may be
// given with it (websockify.auth_plugins.BasicHTTPAuth).
const Module = "websockify.auth_plugins"

// The auth plugins' class names.
const (
	BasicHTTPAuth    = "BasicHTTPAuth"
	ExpectOrigin     = "ExpectOrigin"
	ClientCertCNAuth = "ClientCertCNAuth"
)

// plugins are the auth plugins by websockify's class names.
var plugins = map[string]func(src string) (proxy.Authenticator, error){
	BasicHTTPAuth: func(src string) (proxy.Authenticator, error) {
		// websockify's source is "user:password"; a source without a
		// colon is an htpasswd file of bcrypt hashes.
		if user, password, ok := strings.Cut(src, ":"); ok {
			return auth.NewBasic(user, password), nil
		}
		path, err := filepath.Abs(src)
		if err != nil {
			return nil, err
		}
		return auth.NewBasicFile(path)
	},
	ExpectOrigin: func(src string) (proxy.Authenticator, error) {
		return auth.NewExpectOrigin(strings.Fields(src)...), nil
	},
	ClientCertCNAuth: func(src string) (proxy.Authenticator, error) {
		return auth.NewClientCertCN(strings.Fields(src)...), nil
	},
}

// Flags are the auth plugin options of a server command. A command embeds
// them with its environment variables' prefix, its help group, and what the
// plugin guards, which ends the first sentence of --auth-plugin's help
// ("Authenticate clients before the upgrade"):
//
//	Auth authflags.Flags `embed:"" envprefix:"WSPROXY_" group:"Tokens and authentication" set:"auth_guards=before the upgrade"`
//
// The zero value means no auth plugin: every client is accepted.
type Flags struct {
	AuthPlugin string `env:"AUTH_PLUGIN" placeholder:"CLASS" help:"Authenticate clients ${auth_guards}: BasicHTTPAuth, ExpectOrigin or ClientCertCNAuth."`
	AuthSource string `env:"AUTH_SOURCE" secret:"" placeholder:"ARG" help:"The auth plugin's source: user:password (or an htpasswd file of bcrypt hashes), origins, or common names."`
}

// Class returns the class name of the auth plugin, websockify's module
// prefix stripped; "" if none. A name in another module is kept whole
// (and so unknown to Check).
func (f *Flags) Class() string {
	if class, ok := strings.CutPrefix(f.AuthPlugin, Module+"."); ok {
		return class
	}
	return f.AuthPlugin
}

// Check checks the options as websockify does, and more: the source needs
// a plugin, the plugin a source, and ClientCertCNAuth --verify-client
// (verifyClient), since only a certificate the TLS handshake verified
// counts. It returns an error naming the options at fault.
func (f *Flags) Check(verifyClient bool) error {
	if f.AuthPlugin == "" {
		if f.AuthSource != "" {
			return errors.New("--auth-source needs --auth-plugin")
		}
		return nil
	}
	class := f.Class()
	if _, ok := plugins[class]; !ok {
		return UnknownPlugin("--auth-plugin", f.AuthPlugin, Module, slices.Sorted(maps.Keys(plugins)))
	}
	switch {
	case strings.TrimSpace(f.AuthSource) == "":
		return fmt.Errorf("--auth-plugin %s needs --auth-source", class)
	case class == ClientCertCNAuth && !verifyClient:
		return errors.New("--auth-plugin ClientCertCNAuth needs --verify-client: only a verified client certificate counts")
	}
	return nil
}

// UnknownPlugin returns the error for the plugin name given to flag that
// is none of known, the class names of module: a Python class of another
// module cannot be loaded.
func UnknownPlugin(flag, name, module string, known []string) error {
	if strings.Contains(name, ".") && !strings.HasPrefix(name, module+".") {
		return fmt.Errorf("%s %s: only websockify's own plugins are built in (%s), Python classes cannot be loaded", flag, name, strings.Join(known, ", "))
	}
	return fmt.Errorf("%s %s: unknown plugin; want one of %s", flag, name, strings.Join(known, ", "))
}

// Authenticator returns the Authenticator of the auth plugin, nil without
// one. It returns the error of Check, and an error for a source that
// cannot be used (a missing htpasswd file, one that is not bcrypt).
func (f *Flags) Authenticator(verifyClient bool) (proxy.Authenticator, error) {
	if err := f.Check(verifyClient); err != nil || f.AuthPlugin == "" {
		return nil, err
	}
	class := f.Class()
	a, err := plugins[class](f.AuthSource)
	if err != nil {
		return nil, fmt.Errorf("--auth-plugin %s: %w", class, err)
	}
	return a, nil
}

// Guard returns a handler that runs auth on each request, as the proxy
// runs it on WebSocket upgrades, and passes the accepted ones to next. A
// refused request gets the plugin's answer: its status and headers, such
// as BasicHTTPAuth's 401 with WWW-Authenticate, which makes a browser ask
// for a user name and password. An error of the plugin that is not a
// *proxy.HTTPError is answered 500. The handler is safe for concurrent
// use if auth and next are. log, if not nil, gets a line for each refusal
// (the path, the status and the plugin's reason) and for each error.
func Guard(auth proxy.Authenticator, next http.Handler, log *slog.Logger) http.Handler {
	return guard{auth: auth, next: next, log: log}
}

type guard struct {
	auth proxy.Authenticator
	next http.Handler
	log  *slog.Logger // nil: none
}

func (g guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &proxy.Request{HTTP: r, ClientAddr: r.RemoteAddr}
	if addr, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		req.RemoteAddr = addr
	}
	_, err := g.auth.Authenticate(r.Context(), req)
	if err == nil {
		g.next.ServeHTTP(w, r)
		return
	}
	var he *proxy.HTTPError
	if !errors.As(err, &he) {
		if g.log != nil {
			g.log.Error("authenticate", "path", r.URL.Path, "err", err)
		}
		http.Error(w, "authentication failed", http.StatusInternalServerError)
		return
	}
	for k, vs := range he.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if g.log != nil {
		g.log.Info("request refused", "path", r.URL.Path, "status", he.Status, "reason", he.Reason, "client", r.RemoteAddr)
	}
	http.Error(w, he.Reason, he.Status)
}

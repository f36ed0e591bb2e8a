package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wsproxy/wsproxy/internal/regfile"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens"
	"github.com/wsproxy/wsproxy/proxy/tokens/jwt"
	"github.com/wsproxy/wsproxy/proxy/tokens/redis"

	"github.com/wsproxy/wsproxy/cmd/internal/authflags"
)

// websockify's token and auth plugins (--token-plugin, --auth-plugin), by
// the class names websockify takes: a bare name, or one prefixed with its
// module (websockify.token_plugins.TokenFile). Python plugins of other
// modules cannot be loaded. The auth plugins, which wsreplay takes too, are
// built by cmd/internal/authflags.

const tokenModule = "websockify.token_plugins"

// pluginOptions are the command-line options that choose the target by
// token and authenticate clients. The zero value means neither.
type pluginOptions struct {
	TargetConfig string // --target-config FILE: deprecated, --token-plugin TokenFile --token-source FILE
	TokenPlugin  string // --token-plugin CLASS
	TokenSource  string // --token-source ARG
	HostToken    bool   // --host-token: the token is the Host header, not the token query parameter
	AuthPlugin   string // --auth-plugin CLASS
	AuthSource   string // --auth-source ARG

	// What else names a target, for the usage check: a token plugin
	// excludes them, as in websockify.
	Target     string // the target_addr:target_port argument
	UnixTarget string // --unix-target FILE
	Wrap       bool   // -- WRAP_COMMAND_LINE was given

	SSLTarget    bool   // --ssl-target: TLS to the targets, verified (system roots, SNI)
	SSLTargetCA  string // --ssl-target-ca FILE: verify targets against these PEM certificates instead
	VerifyClient bool   // --verify-client, which ClientCertCNAuth needs

	// LookupTimeout bounds each token lookup over the network (BaseTokenAPI,
	// JSONTokenApi, TokenRedis). Zero means tokens.DefaultLookupTimeout.
	LookupTimeout time.Duration
}

// tokenPlugins are the token plugins by websockify's class names; each
// returns the plugin for a source, and its Close (nil if none).
var tokenPlugins = map[string]func(src string, o pluginOptions, log *slog.Logger) (proxy.Tokens, io.Closer, error){
	"ReadOnlyTokenFile": func(src string, _ pluginOptions, log *slog.Logger) (proxy.Tokens, io.Closer, error) {
		t, err := tokens.NewFile(src, tokens.FileOptions{Logger: log})
		return t, nil, err
	},
	"TokenFile": func(src string, _ pluginOptions, log *slog.Logger) (proxy.Tokens, io.Closer, error) {
		t, err := tokens.NewFile(src, tokens.FileOptions{Reload: true, Logger: log})
		return t, nil, err
	},
	"TokenFileName": func(src string, _ pluginOptions, _ *slog.Logger) (proxy.Tokens, io.Closer, error) {
		t, err := tokens.NewFileName(src)
		return t, nil, err
	},
	"BaseTokenAPI": func(src string, o pluginOptions, _ *slog.Logger) (proxy.Tokens, io.Closer, error) {
		return tokenAPI(src, tokens.APIOptions{Timeout: o.LookupTimeout})
	},
	"JSONTokenApi": func(src string, o pluginOptions, _ *slog.Logger) (proxy.Tokens, io.Closer, error) {
		return tokenAPI(src, tokens.APIOptions{JSON: true, Timeout: o.LookupTimeout})
	},
	"JWTTokenApi": func(src string, _ pluginOptions, log *slog.Logger) (proxy.Tokens, io.Closer, error) {
		t, err := jwt.NewTokens(src, jwt.Options{Logger: log})
		return t, nil, err
	},
	"TokenRedis": func(src string, o pluginOptions, log *slog.Logger) (proxy.Tokens, io.Closer, error) {
		t, err := redis.NewTokens(src, redis.Options{Timeout: o.LookupTimeout})
		if err != nil {
			return nil, nil, err
		}
		// go-redis logs through a logger of its own, the process's
		// standard error by default: into the log, where a failed lookup
		// is already reported with its cause.
		goredis.SetLogger(redisLog{log})
		return t, t, nil
	},
	"UnixDomainSocketDirectory": func(src string, _ pluginOptions, _ *slog.Logger) (proxy.Tokens, io.Closer, error) {
		t, err := tokens.NewSocketDir(src)
		return t, nil, err
	},
}

func tokenAPI(src string, opts tokens.APIOptions) (proxy.Tokens, io.Closer, error) {
	t, err := tokens.NewAPI(src, opts)
	if err != nil {
		return nil, nil, err
	}
	return t, t, nil
}

// tokenPlugin returns the class name of the token plugin, "" if none:
// --target-config is TokenFile.
func (o pluginOptions) tokenPlugin() string {
	if o.TargetConfig != "" && o.TokenPlugin == "" {
		return "TokenFile"
	}
	return pluginClass(o.TokenPlugin, tokenModule)
}

// tokenSource returns the source of the token plugin.
func (o pluginOptions) tokenSource() string {
	if o.TargetConfig != "" {
		return o.TargetConfig
	}
	return o.TokenSource
}

// usesTokens reports whether a token plugin chooses the target: then no
// target argument, --unix-target or WRAP_COMMAND_LINE is given.
func (o pluginOptions) usesTokens() bool { return o.TargetConfig != "" || o.TokenPlugin != "" }

// pluginClass strips websockify's module prefix from a class name; a name
// in another module is kept whole, and so unknown.
func pluginClass(name, module string) string {
	if class, ok := strings.CutPrefix(name, module+"."); ok {
		return class
	}
	return name
}

// validate checks the plugin options as websockify does, and more: a
// token plugin and a target exclude each other, and each plugin needs
// its source. It returns an error naming the options at fault.
func (o pluginOptions) validate() error {
	switch {
	case o.TargetConfig != "" && o.TokenPlugin != "":
		return errors.New("give --target-config or --token-plugin, not both (--target-config FILE is --token-plugin TokenFile --token-source FILE)")
	case o.TokenSource != "" && o.TokenPlugin == "":
		return errors.New("--token-source needs --token-plugin")
	case o.HostToken && !o.usesTokens():
		return errors.New("--host-token needs --token-plugin")
	case o.SSLTargetCA != "" && !o.SSLTarget:
		return errors.New("--ssl-target-ca needs --ssl-target")
	}
	if o.usesTokens() {
		class := o.tokenPlugin()
		if _, ok := tokenPlugins[class]; !ok {
			return authflags.UnknownPlugin("--token-plugin", o.TokenPlugin, tokenModule, slices.Sorted(maps.Keys(tokenPlugins)))
		}
		switch {
		case o.tokenSource() == "":
			return fmt.Errorf("--token-plugin %s needs --token-source", class)
		case o.Target != "":
			return fmt.Errorf("unexpected argument %s: with a token plugin the token chooses the target", o.Target)
		case o.UnixTarget != "":
			return errors.New("give --unix-target or a token plugin, not both (UnixDomainSocketDirectory maps tokens to unix sockets)")
		case o.Wrap:
			return errors.New("give -- WRAP_COMMAND_LINE or a token plugin, not both")
		}
		if class == "TokenRedis" {
			if _, err := redis.ParseSource(o.tokenSource()); err != nil {
				return fmt.Errorf("--token-source: %w", err)
			}
		}
	}
	return o.auth().Check(o.VerifyClient)
}

// auth returns the auth plugin options.
func (o pluginOptions) auth() *authflags.Flags {
	return &authflags.Flags{AuthPlugin: o.AuthPlugin, AuthSource: o.AuthSource}
}

// buildPlugins returns the Resolver of the token plugin (nil without one:
// the target is fixed) and the Authenticator of the auth plugin (nil
// without one), and stop, which releases what they hold (connections to
// Redis or to a token API) and must be called once after the server has
// shut down. It returns the error of validate, and errors for sources
// that cannot be used (a missing token file, a bad key); stop is then a
// no-op.
func buildPlugins(o pluginOptions, log *slog.Logger) (_ proxy.Resolver, _ proxy.Authenticator, stop func(), err error) {
	var closer io.Closer // of the token plugin, if it has one
	defer func() {
		if err != nil && closer != nil {
			closer.Close()
		}
	}()
	stop = func() {}
	if err := o.validate(); err != nil {
		return nil, nil, stop, err
	}
	var resolver proxy.Resolver
	if o.usesTokens() {
		class, src := o.tokenPlugin(), o.tokenSource()
		if class == "TokenFile" || class == "ReadOnlyTokenFile" || class == "JWTTokenApi" {
			// Read again later: absolute, as websockify makes
			// --target-config, whatever the working directory becomes.
			if src, err = filepath.Abs(src); err != nil {
				return nil, nil, stop, err
			}
		}
		var store proxy.Tokens
		if store, closer, err = tokenPlugins[class](src, o, log); err != nil {
			return nil, nil, stop, fmt.Errorf("--token-plugin %s: %w", class, err)
		}
		var conf *tls.Config
		if conf, err = sslTargetConfig(o); err != nil {
			return nil, nil, stop, err
		}
		resolver = &proxy.TokenResolver{Tokens: store, HostToken: o.HostToken, TLS: conf}
		log.Info("targets chosen by token", "plugin", class, "host_token", o.HostToken, "ssl_target", o.SSLTarget)
	}
	auth, err := o.auth().Authenticator(o.VerifyClient)
	if err != nil {
		return nil, nil, stop, err
	}
	if auth != nil {
		log.Info("clients authenticated", "plugin", o.auth().Class())
	}
	if closer != nil {
		stop = func() {
			if err := closer.Close(); err != nil {
				log.Warn("closing the token plugin", "err", err)
			}
		}
	}
	return resolver, auth, stop, nil
}

// redisLog is go-redis's logger, as debug lines.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "from", "go-redis")
}

// sslTargetConfig returns the TLS configuration of --ssl-target, to be
// cloned with ServerName set to each target's host (TokenResolver does):
// the system's roots, or those of --ssl-target-ca; TLS 1.2 at least, as
// Python's ssl.create_default_context. It returns nil without
// --ssl-target, and an error if the CA file holds no certificate.
func sslTargetConfig(o pluginOptions) (*tls.Config, error) {
	if !o.SSLTarget {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.SSLTargetCA != "" {
		b, err := regfile.ReadFile(o.SSLTargetCA)
		if err != nil {
			return nil, fmt.Errorf("--ssl-target-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--ssl-target-ca %s: no PEM certificate", o.SSLTargetCA)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

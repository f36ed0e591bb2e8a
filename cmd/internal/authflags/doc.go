// Package authflags is the authentication side of wsproxy's and
// wsreplay's command lines: websockify's auth plugins (--auth-plugin
// BasicHTTPAuth, ExpectOrigin or ClientCertCNAuth, with --auth-source) as
// kong flags, their checks, the proxy.Authenticator they make (the
// plugins themselves are in proxy/auth), and Guard, which puts plain-HTTP
// pages behind it (--web-auth).
package authflags

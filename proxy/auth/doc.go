// Package auth holds websockify's authentication plugins, each a
// proxy.Authenticator for proxy.ServerOptions: HTTP Basic credentials,
// for one user or the users of an htpasswd file of bcrypt hashes
// (BasicHTTPAuth), a list of expected Origin headers (ExpectOrigin) and
// the common names of verified client certificates (ClientCertCNAuth).
//
// They follow websockify's auth_plugins.py and websocketproxy.py
// (auth_connection), version 0.13, and answer as websockify does: 401
// with WWW-Authenticate to ask for credentials, 403 to refuse. They live
// apart from package proxy so that programs which authenticate no one do
// not link golang.org/x/crypto/bcrypt.
package auth

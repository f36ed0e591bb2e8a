// Package jwt holds websockify's JWTTokenApi token plugin: tokens that
// carry their target in the claims of a JSON Web Token signed, or signed
// then encrypted, with the operator's key (RFC 7515, RFC 7516, RFC 7519).
// Tokens is a proxy.Tokens for a proxy.TokenResolver.
//
// It is a package of its own because it is the one user of
// github.com/go-jose/go-jose: a program that resolves tokens from a file
// (package github.com/wsproxy/wsproxy/proxy/tokens) does not link it.
package jwt

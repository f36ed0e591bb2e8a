// Package redis holds websockify's TokenRedis token plugin: the target of
// a token is the value of a Redis key. Tokens is a proxy.Tokens for a
// proxy.TokenResolver.
//
// It is a package of its own because it is the one user of
// github.com/redis/go-redis: a program that resolves tokens from a file
// (package github.com/wsproxy/wsproxy/proxy/tokens) does not link it.
package redis

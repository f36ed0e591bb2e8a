// Package tokens holds websockify's token plugins that need nothing but
// the standard library: a token file or directory of them (TokenFile,
// ReadOnlyTokenFile), a file per token (TokenFileName), a directory of
// unix sockets (UnixDomainSocketDirectory) and an HTTP API (BaseTokenAPI,
// JSONTokenApi). Each is a proxy.Tokens for a proxy.TokenResolver.
//
// The plugins with a heavy dependency live in sub-packages, so that a
// program links only what it uses: github.com/wsproxy/wsproxy/proxy/tokens/jwt
// (JWTTokenApi, with go-jose) and github.com/wsproxy/wsproxy/proxy/tokens/redis
// (TokenRedis, with go-redis). ParseTarget and ParseJSONTarget read the
// targets as websockify's plugins write them, for those and for stores
// of one's own.
//
// A token is only ever a key into operator-controlled data, or a token
// signed with the operator's key: the client never names a host itself.
// The plugins follow websockify's token_plugins.py, version 0.13; where
// they differ (a ".." that leads out of a directory, a token in the host
// part of an API URL) they refuse what websockify would let through.
package tokens

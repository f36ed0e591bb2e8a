// Package proxy implements wsproxy's WebSocket-to-TCP proxy: the HTTP
// upgrade (RFC 6455), the message pumps between a WebSocket client and a TCP
// target, and the hooks (target resolver, authenticator, tap) through which
// commands extend it. It never imports the recorder: a Tap sees each frame
// with its direction and time.
//
// TokenResolver chooses the target by token, as websockify's
// --token-plugin; the stores of tokens (a file, an HTTP API, JWTs, Redis)
// live in package github.com/wsproxy/wsproxy/proxy/tokens and its
// sub-packages, and the authenticators (--auth-plugin) in
// github.com/wsproxy/wsproxy/proxy/auth, so that a program which uses
// none of them does not link their dependencies.
//
// The behaviour reproduces websockify (websockify/websocketproxy.py,
// websockifyserver.py and websocket.py, version 0.13) so that noVNC and other
// websockify clients work unchanged:
//
//   - One port serves ws:// and wss://: a first byte of 0x16 (or 0x80, an
//     SSLv2-style hello) starts TLS, anything else is plain HTTP.
//     A Flash "<policy-file-request/>\x00" probe is answered with a
//     cross-domain policy for the listening port.
//   - The handshake is RFC 6455 section 4.2 with websockify's choices:
//     Sec-WebSocket-Version 13, 8 or 7 (hybi-07 to hybi-17 share the framing
//     of RFC 6455); the "binary" subprotocol when offered, no subprotocol
//     meaning binary, the legacy "base64" subprotocol (payload base64-encoded
//     in text frames both ways), and 400 when only unknown subprotocols are
//     offered.
//   - Every chunk read from the target is one binary message to the client;
//     every message from the client is written to the target whole.
//     Text frames on a binary session close with 1003, unmasked client
//     frames and fragmented control frames with 1002 (RFC 6455 sections
//     5.1 and 5.4), messages over the size limit with 1009. A client close
//     is echoed with its code; a target that closes gets, after the data it
//     sent, a close with 1000 "Target closed"; a target that cannot be
//     reached gets 1011 "Failed to connect to downstream server".
//
// Framing uses github.com/gobwas/ws at the frame level: headers are parsed
// from and written into the session's own buffers, payloads are unmasked in
// place, and an idle session holds no pooled buffer.
package proxy

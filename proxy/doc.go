// Package proxy implements wsproxy's WebSocket-to-TCP proxy: the HTTP
// upgrade (RFC 6455), the message pumps between a WebSocket client and a TCP
// target, and the hooks (target resolver, authenticator, tap) through which
// commands extend it. It never imports the recorder: a Tap sees each frame
// with its direction and time.
package proxy

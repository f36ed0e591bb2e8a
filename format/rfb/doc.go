// Package rfb decodes the RFB (VNC) protocol of a recorded session, both
// directions, for inspection: what the handshake agreed, what the user
// typed and clicked, what went through the clipboard, what the server
// drew and with which encodings.
//
// The protocol is RFC 6143 (https://www.rfc-editor.org/rfc/rfc6143) with
// the extensions of the community specification
// (https://github.com/rfbproto/rfbproto/blob/master/rfbproto.rst) that
// noVNC and TigerVNC use. Comments cite RFC sections as "§7.5.4" and the
// community specification by section title.
//
// # Decoding
//
// A Decoder takes the records of one session in order, each an arbitrary
// slice of one direction's TCP stream: format.ClientToTarget is what the
// VNC client (noVNC) sent, format.TargetToClient what the VNC server sent.
// It emits an Event for each handshake step and message, whatever the
// records' boundaries. Memory stays bounded: pixel data is counted and
// skipped, never stored or decompressed, and texts are cut at
// DecoderOptions.MaxText. A consumer that decodes pixels (package
// format/rfb/screen) asks for each rectangle's data with
// DecoderOptions.Rect, and resumes a session from a Checkpoint.
//
// Records of the two directions are not in causal order: wsproxy records
// a target→client message once it was written to the client, whose answer
// may be recorded first (format/SPEC.md, "Records"). The pixel format of
// updates is the client's SetPixelFormat even when it was recorded before
// ServerInit, which the client must have read first.
//
// The handshake is followed for protocol versions 3.3, 3.7 and 3.8 (and
// versions such as Apple's 3.889 or RealVNC's 4.1, reported as given and
// followed as 3.8) with the security types None, VNC authentication,
// Tight, VeNCrypt (its Plain, Ident, None and VNC subtypes), xvp,
// Diffie-Hellman (Apple) and MSLogonII. Authentication is reported, never
// its secrets: no password, challenge or response appears in any event.
// A security type that encrypts the stream (VeNCrypt's TLS and X509
// subtypes, TLS, SASL, the RSA-AES types, ...) ends decoding of both
// directions with a KindEncrypted event.
//
// A FramebufferUpdate is decoded to its rectangles' positions, encodings
// and data sizes. Sizing needs no decompression for Raw, CopyRect, RRE,
// CoRRE, Hextile, Zlib, ZRLE, Tight, TightPNG, JPEG and Open H.264, nor for
// the pseudo-encodings Cursor, XCursor, CursorWithAlpha, the VMware
// cursor, LED and display-mode ones, DesktopSize, ExtendedDesktopSize,
// DesktopName, LastRect, the QEMU ones and ExtendedMouseButtons. TRLE,
// ZlibHex, Ultra and other encodings whose size cannot be known without
// decoding them end decoding of the server stream with a KindStop event,
// as does an unknown message type in either direction: a message that
// cannot be sized cannot be skipped, and guessing would report nonsense.
//
// # Typed text
//
// KeyTracker and TypedText turn the key events into lines of text with
// timestamps, for an audit trail of what was typed.
package rfb

// Package render is the server side of RFB (RFC 6143) for replays that
// are rendered rather than forwarded: its own handshake with a viewer
// (Handshake: RFB 3.8, 3.7, 3.3; security None or VNC authentication),
// encoders that write framebuffer rectangles in the viewer's pixel format
// (Encoder: Raw, Hextile, ZRLE, Tight with JPEG, and the Cursor,
// DesktopSize and ExtendedDesktopSize pseudo-encodings), and a Viewer
// that answers a viewer's FramebufferUpdateRequests with what changed on
// a screen.Screen (package format/rfb/screen) since its last update.
//
// It knows nothing of recordings or timing: package replay decodes a
// recording into a Screen at the replay's pace and hands it to a Viewer.
// The encoders are checked by decoding what they write with the screen
// model.
package render

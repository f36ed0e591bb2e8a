// Package rfbfile decodes the VNC session that a recording file holds:
// it reads a recording of either format (package format/recfile) from its
// start through a format/rfb Decoder, and decides what the file is as an
// RFB session: one decoded to its end, one whose stream is encrypted after
// the handshake (decoding stops there), or no RFB session at all, or not
// from its start (a slice made by wsrecord-inspect cut, a recording of
// another protocol).
//
// What is done with the events (a timeline, typed text with
// rfb.KeyTracker, a screen) is the caller's.
package rfbfile

// Package screen decodes the pixels of a recorded RFB (VNC) session: it
// follows the server's stream as the client did and keeps the client's
// framebuffer as an *image.RGBA, with the cursor image and the pointer
// position, for snapshots, contact sheets, videos, render-mode replay and
// a web player.
//
// It is a sub-package of format/rfb, not a part of it, because it is a
// heavier consumer with its own state (a framebuffer of up to hundreds of
// MiB, zlib streams, image decoders) that the inspection of events does
// not need. It does not parse RFB framing itself: an rfb.Decoder walks the
// handshake and the messages of both directions and hands each
// FramebufferUpdate rectangle, whole, to the Screen through
// rfb.DecoderOptions.Rect, with the pixel format in effect; colour maps
// come through rfb.DecoderOptions.ColourMap, pointer positions as events.
//
// # Encodings
//
// Raw, CopyRect, RRE, CoRRE, Hextile, Zlib, ZRLE, Tight (fill, JPEG, basic
// compression with the copy, palette and gradient filters, its four zlib
// streams and their reset bits, and TightWithoutZlib), TightPNG, JPEG; the
// pseudo-encodings Cursor, XCursor, CursorWithAlpha (in Raw), DesktopSize,
// ExtendedDesktopSize, LastRect, DesktopName and PointerPos. Other
// pseudo-encodings change no pixel and are ignored (the VMware cursor is
// not shown). Every pixel format a client can ask for decodes: 8, 16 and
// 32 bits per pixel, either byte order, any shifts and maxima, and
// colour-map formats with SetColourMapEntries; ZRLE's 3-byte CPIXEL and
// Tight's 3-byte TPIXEL included.
//
// The session's zlib streams (RFC 1950) run from rectangle to rectangle.
// Every VNC server ends each rectangle's part with a sync flush, so what a
// stream carries across is its last 32 KiB of output: the Screen inflates
// each rectangle with an inflater preset with it. That is also all a seek
// index keyframe needs to store of a stream.
//
// # Errors
//
// Wrong pixels are never drawn without a word: an encoding the Screen
// cannot decode (Open H.264, TRLE, ZlibHex, ...), data that does not decode
// or that the rfb.Decoder could not follow stops the Screen with a
// *DecodeError naming the record, the session time, the rectangle and its
// encoding, wrapping a sentinel (ErrUnsupported, ErrCorrupt, ErrOutside,
// ErrTooLarge, ...). The framebuffer keeps what was drawn before.
//
// Memory is bounded by Options.MaxPixels (DefaultMaxPixels, 8192×8192)
// for the framebuffer and Options.MaxRectData for one rectangle's data;
// inflated data is bounded by what the rectangle can need, so a zlib bomb
// stops at it; a cursor is at most 1024 pixels on a side.
//
// # Seeking
//
// An Index holds keyframes of a recording's screen every 10 seconds of
// session time or every 4 MiB of server data, whichever comes first:
// framebuffer, colour map, cursor, pointer, zlib histories and the
// rfb.Decoder's Checkpoint, taken where both directions are between
// messages. Index.SeekTo restores the keyframe at or before a time and
// decodes forward from there. The index is a sidecar file (REC.wsidx),
// bound to the recording by its size and a hash of its first and last
// bytes, so that a changed or damaged recording or index is detected; its
// layout is in format/SPEC.md, "Seek index".
package screen

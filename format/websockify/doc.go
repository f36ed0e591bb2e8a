// Package websockify reads and writes the session recordings that websockify
// makes with --record FILE (one file per WebSocket connection, named FILE.1,
// FILE.2, ...) and that noVNC's playback page (tests/playback-ui.js in noVNC)
// replays. wsproxy uses it to import websockify recordings and to export its
// own for noVNC.
//
// # Format
//
// A recording is a JavaScript file that assigns an array of strings, one
// WebSocket message per line. websockify 0.10.0 and later write it in
// WebSockifyRequestHandler (websockify/websockifyserver.py: handle_websocket
// writes the header, recv_frames and send_frames a line per message, finish
// the trailer):
//
//	var VNC_frame_data = [\n
//	'{MS{DATA',\n   a message from the target to the client
//	'}MS}DATA',\n   a message from the client to the target
//	'EOF'];\n
//
// MS is the decimal number of milliseconds from the WebSocket handshake to
// the moment websockify read the message: int(time.time()*1000) minus the
// same at the handshake. It is wall-clock time, so it may go backwards, even
// below zero, if the clock is stepped, and messages read in one go share one
// MS. A websockify that was killed leaves a file without the trailer.
//
// DATA is the payload with each byte written as Python's
// buf.decode('latin1').encode('unicode_escape') writes it, followed by
// .replace("'", "\\'"):
//
//	byte                          written as
//	0x09                          \t
//	0x0a                          \n
//	0x0d                          \r
//	0x27 '                        \'
//	0x5c \                        \\
//	0x20-0x7e, other than above   the byte itself (so " stays bare)
//	0x00-0x1f, 0x7f-0xff, other   \xhh, hh two lower-case hex digits
//
// Every line is thus printable ASCII and a JavaScript string literal whose
// character codes are the payload bytes, which is how noVNC reads it.
//
// # Older recordings
//
// websockify 0.3.0 to 0.9.0 (2013 to 2019, recording under Python 2 only)
// put a line naming the payload encoding before the array,
//
//	var VNC_frame_encoding = 'binary';\n
//
// or 'base64' when the client spoke the base64 WebSocket subprotocol; then
// DATA is the base64 text that went over the wire (standard alphabet, padded,
// per message). Their lines are Python 2's repr of the str "{MS{" + payload,
// which escapes as above except that a string holding ' and no " is put in
// double quotes with the ' left bare: "}12}it's",. websockify 0.1.0 and
// 0.2.0 wrote no encoding line and ended with 'EOF'] without the semicolon;
// like noVNC, the Reader takes a recording without an encoding line to be
// base64 when its first payload starts with "UkZC" (base64 of "RFB").
//
// # What the Reader accepts
//
// All of the above, with \n or \r\n line endings, spaces and tabs around a
// line, and blank lines. Within a string: the escapes \\ \' \" \n \r \t and
// \xhh (either case), and bare printable ASCII other than the backslash and
// the string's own quote. Anything else, such as JavaScript escapes no
// websockify wrote, is a *SyntaxError. The Writer writes the current format
// byte for byte as websockify 0.10.0 and later do.
package websockify

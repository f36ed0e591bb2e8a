// Package replay serves recordings back to WebSocket clients as if they came
// from the live target: a viewer such as noVNC connects to a Server as it
// would to wsproxy, and sees the recorded session play.
//
// A Server is a proxy.Server (package proxy) whose targets are recordings,
// so that it listens, speaks TLS, serves static files and the binary and
// base64 subprotocols exactly as wsproxy does. Each connection gets its own
// playback: the recording is opened and read record by record, in constant
// memory, and every target→client message becomes one WebSocket message at
// its recorded time. What the client sends is read and discarded; it only
// counts for Options.Pace. Recordings of both formats play: wsproxy's wsrec
// files (format/SPEC.md) and websockify's --record files, read through
// package format/recfile.
//
// # Render mode
//
// By default (Options.Mode ModeAuto) an RFB recording is not forwarded but
// rendered: the recording is decoded into a screen.Screen and each viewer
// gets its own RFB server (package replay/render), with updates encoded
// for it; Start and every seek restore the screen from the seek index's
// nearest keyframe (a sidecar REC.wsidx when valid, else one built in
// memory; an encrypted recording's, with ServerOptions.Reader's
// identities, sealed with its sidecar key). A render-mode replay has an ID (?replay=ID, or a
// random one); GET /replays lists them, and a WebSocket to
// /replays/ID/control takes JSON Commands to pause, resume, seek and
// change speed (Server.Control in Go). Server.ServeRFB serves the same
// replays over plain TCP to native VNC viewers. Recordings that are not
// RFB, and ModeBytes, are played byte for byte as described below.
//
// # Timing
//
// A recording's times are offsets from the session's start. A replay plays
// the records at or after Options.Start at their offset from Start; each
// gap between two played records (messages to the client, markers, the end
// of the session) is first capped at Options.IdleLimit, then divided by
// Options.Speed. Records before Start are sent at once: a client needs
// them to draw the screen. Messages from the client in the recording are
// not sent anywhere; under PaceClient they say how many bytes the client
// must have sent before each message goes.
//
// Timing comes from a Clock (ServerOptions.Clock), so that tests can use a
// fake one. The system clock's timers fire up to about a millisecond late
// on Linux (see the package's timing test for a measured distribution).
//
// # Choosing a recording and options
//
// A connection names its recording with ?token=NAME or with its URL path,
// /NAME, as websockify's tokens name targets; an unknown name is answered
// 404. With a single recording file every connection gets it. Options can
// be set per connection with query parameters named as the fields'
// option names, so that noVNC's path setting can carry them:
//
//	ws://host:6080/?token=session.wsrec&speed=4&start=90s&end=hold
//
// GET /recordings lists the recordings as JSON: {"recordings": [...]}, one
// Recording each, with its metadata, duration and markers.
//
// # Ends and damage
//
// After the last record the connection is closed with 1000 "Target closed"
// (EndClose), kept open (EndHold), or the recording starts again (Loop).
// A recording that stops cleanly without its trailer (its writer was
// killed between two chunks) is played as whole, with a warning. One that
// is damaged or cut inside a record plays up to the damage; then the
// connection is closed with 1011 and the reader's error is logged.
package replay

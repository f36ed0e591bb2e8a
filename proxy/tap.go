package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"time"
)

// Tap sees every data message of one session, for a recorder or an
// inspector. The proxy obtains one per session from ServerOptions.NewTap.
//
// The proxy serializes the calls: Frame is called from the session's two
// pump goroutines but never concurrently, with non-decreasing times, and
// Close is called exactly once, after the last Frame call has returned.
type Tap interface {
	// Frame is called with each message before it is forwarded. dir says
	// which way it goes, typ is its WebSocket message type on the wire, at
	// is the monotonic time since the session started, and payload is the
	// application data (for base64 sessions, the decoded bytes). payload is
	// only valid during the call. An error closes the session with 1011 and
	// the message is not forwarded, so no traffic passes unseen.
	Frame(dir Direction, typ MessageType, at time.Duration, payload []byte) error

	// Close is called once when the session has ended. Its error is logged.
	Close(CloseInfo) error
}

// DeliveryTap is a Tap that also learns which target→client messages the
// client was sent, so that what it keeps agrees with CloseInfo.ToClient: a
// recorder keeps a target→client message only once Delivered says so.
type DeliveryTap interface {
	Tap

	// Delivered is called after the message of the last
	// Frame(TargetToClient, …) call was written whole to the client
	// connection (and counted in CloseInfo.ToClient), before the target
	// is read again; calls are serialized with Frame's. It is not called
	// for a message whose write failed or that was not sent because the
	// session was ending: only the last target→client message before
	// Close can be such a one. The payload of that Frame call stays
	// valid until Delivered returns; when Delivered is not called it
	// must not be read after the Frame call. An error closes the session
	// with 1011 as Frame's does, but the message has been sent.
	Delivered() error
}

// Direction is the way a message travels through the proxy.
type Direction uint8

const (
	// ClientToTarget is a message from the WebSocket client to the target.
	ClientToTarget Direction = iota + 1
	// TargetToClient is data read from the target, sent to the client.
	TargetToClient
)

func (d Direction) String() string {
	switch d {
	case ClientToTarget:
		return "client->target"
	case TargetToClient:
		return "target->client"
	}
	return "unknown"
}

// MessageType is the WebSocket message type of a data message
// (RFC 6455 section 5.6).
type MessageType uint8

const (
	// MessageBinary is a binary message: every message of a binary session.
	MessageBinary MessageType = 2
	// MessageText is a text message: every message of a base64 session.
	MessageText MessageType = 1
)

func (t MessageType) String() string {
	switch t {
	case MessageBinary:
		return "binary"
	case MessageText:
		return "text"
	}
	return "unknown"
}

// Side names a party to a session.
type Side uint8

const (
	// SideClient is the WebSocket client.
	SideClient Side = iota + 1
	// SideTarget is the TCP target.
	SideTarget
	// SideProxy is the proxy itself: protocol errors, timeouts, shutdown,
	// tap failures.
	SideProxy
)

func (s Side) String() string {
	switch s {
	case SideClient:
		return "client"
	case SideTarget:
		return "target"
	case SideProxy:
		return "proxy"
	}
	return "unknown"
}

// CloseCode is a WebSocket close status code (RFC 6455 section 7.4).
type CloseCode uint16

// Close codes the proxy sends or reports.
const (
	CloseNormal          CloseCode = 1000 // target closed, idle timeout
	CloseGoingAway       CloseCode = 1001 // server shutdown, heartbeat timeout
	CloseProtocolError   CloseCode = 1002 // unmasked or malformed frames
	CloseUnsupportedData CloseCode = 1003 // text on binary sessions and vice versa
	CloseNoStatus        CloseCode = 1005 // client close without a code (never sent)
	CloseAbnormal        CloseCode = 1006 // connection lost without a close frame (never sent)
	CloseInvalidPayload  CloseCode = 1007 // bad base64, close reason not UTF-8
	CloseMessageTooBig   CloseCode = 1009 // over ServerOptions.MaxMessageSize
	CloseInternalError   CloseCode = 1011 // target unreachable, tap failure
)

// CloseInfo describes how a session ended.
type CloseInfo struct {
	// By is the side that ended the session.
	By Side
	// Code is the close code sent to (or, when By is SideClient, received
	// from) the client. CloseAbnormal means the connection ended without a
	// close frame.
	Code CloseCode
	// Reason is the close reason that went with Code.
	Reason string
	// ToTarget and ToClient count the payload bytes forwarded each way
	// (decoded bytes for base64 sessions).
	ToTarget, ToClient int64
	// Duration is how long the session lasted.
	Duration time.Duration
	// Err is the error that ended the session, nil for a clean close.
	Err error
}

// SessionInfo is what is known about a session when it starts: everything a
// recording header or an audit log needs.
type SessionInfo struct {
	// ID is the session's random identifier.
	ID SessionID
	// Start is the wall-clock time the upgrade completed.
	Start time.Time
	// LocalAddr is the listening address the client connected to.
	LocalAddr net.Addr
	// RemoteAddr is the peer address of the client connection.
	RemoteAddr net.Addr
	// ClientAddr is the real client address: RemoteAddr, or what
	// ServerOptions.ClientAddr derived from a trusted proxy's headers.
	ClientAddr string
	// Target is the resolved target (Target.String).
	Target string
	// Token is the token that selected the target, empty if none.
	Token string
	// User is the name the Authenticator returned, empty if none.
	User string
	// TLS describes the client connection's TLS, nil for ws://.
	TLS *TLSInfo
	// Subprotocol is the negotiated subprotocol: "binary", "base64" or ""
	// (none requested: binary).
	Subprotocol string
	// Origin, UserAgent and Path are the request's Origin and User-Agent
	// headers and its URL path (without the query, which may hold a token).
	Origin, UserAgent, Path string
}

// TLSInfo describes a TLS client connection.
type TLSInfo struct {
	// Version and CipherSuite are crypto/tls constants (tls.VersionName and
	// tls.CipherSuiteName print them).
	Version, CipherSuite uint16
	// ServerName is the SNI name the client asked for.
	ServerName string
	// ClientSubject is the subject of the client's certificate, empty if it
	// sent none.
	ClientSubject string
}

// SessionID identifies a session in logs and recordings.
type SessionID [16]byte

// newSessionID returns a random session ID.
func newSessionID() SessionID {
	var id SessionID
	rand.Read(id[:]) // never fails (crypto/rand, Go 1.24+)
	return id
}

// String returns the ID as 32 lowercase hexadecimal digits.
func (id SessionID) String() string { return hex.EncodeToString(id[:]) }

// LogValue logs the ID as its String form.
func (id SessionID) LogValue() slog.Value { return slog.StringValue(id.String()) }

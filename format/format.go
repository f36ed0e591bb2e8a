package format

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Version is the format version this package writes by default. Readers
// accept versions 1 through Version; see SPEC.md, "Versioning".
const Version = 2

// Default limits and sizes. Each can be changed through WriterOptions or
// ReaderOptions.
const (
	// DefaultChunkSize is the uncompressed size at which the writer ends a
	// chunk.
	DefaultChunkSize = 1 << 20
	// DefaultFlushInterval is the longest a record waits in memory before
	// its chunk is written.
	DefaultFlushInterval = time.Second
	// DefaultMaxRecordSize is the largest record payload the writer accepts
	// and the reader allocates for.
	DefaultMaxRecordSize = 64 << 20
	// MaxChunkSize is the largest uncompressed chunk size a writer may be
	// configured with.
	MaxChunkSize = 64 << 20
)

// Fixed sizes of the layout, in bytes (SPEC.md tables).
const (
	frameHeaderSize  = 8  // zstd skippable frame: magic, size
	recordHeaderSize = 14 // kind, flags, time, length
	chunkPayloadSize = 96 // chunk header frame payload
	chunkFrameSize   = frameHeaderSize + chunkPayloadSize
	indexEntrySize   = 40
	locatorSize      = 12 // trailer frame size, end magic
	hashSize         = 32
	maxHeaderSize    = 1 << 20 // header frame payload
	maxMetaKey       = 256
)

// Direction is the way a message travelled through the proxy.
type Direction uint8

// Directions. The values are those of bit 0 of a record's flags.
const (
	ClientToTarget Direction = 0 // a WebSocket message received from the client
	TargetToClient Direction = 1 // a chunk read from the target, sent as one message
)

func (d Direction) String() string {
	switch d {
	case ClientToTarget:
		return "client"
	case TargetToClient:
		return "target"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// MessageType is the WebSocket message type of a recorded message.
type MessageType uint8

// Message types. The values are those of bit 1 of a record's flags.
const (
	Binary MessageType = 0
	Text   MessageType = 1
)

func (t MessageType) String() string {
	switch t {
	case Binary:
		return "binary"
	case Text:
		return "text"
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Kind is what a record holds.
type Kind uint8

// Record kinds (SPEC.md, "Records").
const (
	KindMessage Kind = 1 // a WebSocket message, either direction
	KindOpen    Kind = 2 // the session opened
	KindClose   Kind = 3 // the session closed; see CloseInfo
	KindMarker  Kind = 4 // a free-form label at a time
	KindGap     Kind = 5 // records were lost here; see GapInfo
)

func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindOpen:
		return "open"
	case KindClose:
		return "close"
	case KindMarker:
		return "marker"
	case KindGap:
		return "gap"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Closer says which side ended a session.
type Closer uint8

// Closers.
const (
	ClosedByUnknown Closer = 0
	ClosedByClient  Closer = 1
	ClosedByTarget  Closer = 2
	ClosedByProxy   Closer = 3 // shutdown, timeout, policy, recording failure
)

func (c Closer) String() string {
	switch c {
	case ClosedByUnknown:
		return "unknown"
	case ClosedByClient:
		return "client"
	case ClosedByTarget:
		return "target"
	case ClosedByProxy:
		return "proxy"
	}
	return fmt.Sprintf("Closer(%d)", uint8(c))
}

// CloseInfo describes the end of a session.
type CloseInfo struct {
	By          Closer
	Code        uint16 // WebSocket close status code (RFC 6455 §7.4); 0 if none
	Reason      string
	ClientBytes uint64 // payload bytes client→target over the whole session
	TargetBytes uint64 // payload bytes target→client over the whole session
}

// GapInfo describes records a writer could not record.
type GapInfo struct {
	Records uint64 // records lost
	Bytes   uint64 // payload bytes lost
	Reason  string
}

// Record is one entry of a recording. Which fields are meaningful depends on
// Kind; the others are zero.
type Record struct {
	Kind Kind
	// Time is the offset since the session start, from a monotonic clock.
	// Times never decrease within a recording.
	Time time.Duration
	// Dir and Type describe a KindMessage record.
	Dir  Direction
	Type MessageType
	// Payload is a KindMessage record's bytes, exactly as sent. A Reader
	// reuses the memory: it is valid until the next call on the Reader.
	Payload []byte
	Label   string    // KindMarker
	Close   CloseInfo // KindClose
	Gap     GapInfo   // KindGap
}

// SessionID identifies one proxied session; all parts of one session's
// recording carry the same ID.
type SessionID [16]byte

// NewSessionID returns a random session ID.
func NewSessionID() SessionID {
	var id SessionID
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return id
}

// String returns the ID as 32 lowercase hex digits.
func (id SessionID) String() string { return hex.EncodeToString(id[:]) }

// ParseSessionID parses the form String returns.
func ParseSessionID(s string) (SessionID, error) {
	var id SessionID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("format: session ID %q: want %d hex digits", s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("format: session ID %q: %w", s, err)
	}
	return id, nil
}

// Hash is a value of the hash chain: a SHA-256 or BLAKE3 hash (see
// HashAlgorithm).
type Hash [hashSize]byte

// String returns the hash as 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Standard metadata keys (SPEC.md, "Metadata"). Any other key is allowed
// and survives a read/write round trip.
const (
	MetaListen           = "listen"             // address the proxy listened on
	MetaClient           = "client"             // client address as seen by the proxy
	MetaRealClient       = "real_client"        // client address from a trusted proxy's header
	MetaTarget           = "target"             // host:port or unix socket path
	MetaToken            = "token"              // token that selected the target
	MetaUser             = "user"               // authenticated user
	MetaTLSVersion       = "tls.version"        // e.g. "TLS 1.3"
	MetaTLSCipher        = "tls.cipher"         // e.g. "TLS_AES_128_GCM_SHA256"
	MetaTLSClientSubject = "tls.client_subject" // client certificate subject
	MetaSubprotocol      = "subprotocol"        // negotiated WebSocket subprotocol
	MetaOrigin           = "origin"             // Origin request header
	MetaUserAgent        = "user_agent"         // User-Agent request header
	MetaPath             = "path"               // request path, without the query
	MetaProgram          = "program"            // writing program and version
	MetaHostname         = "hostname"           // host the writer ran on
	MetaSource           = "source"             // what an imported recording came from
)

// Header is the metadata at the start of a recording.
type Header struct {
	// Version is the format version read from a file. Writers ignore it and
	// write WriterOptions.Version.
	Version uint16
	// ChainHash is the hash of the chain and seal, read from a file (SHA256
	// for version 1). Writers ignore it and use WriterOptions.Hash.
	ChainHash HashAlgorithm
	// Cipher is the AEAD of an encrypted recording's chunks, NoCipher for
	// one in the clear. Writers ignore it: WriterOptions.Recipients decide.
	Cipher Cipher
	// SessionID identifies the session. The zero value makes NewWriter
	// choose a random one.
	SessionID SessionID
	// Start is the wall-clock time of the session start, stored as UTC
	// nanoseconds since the Unix epoch. The zero value makes NewWriter use
	// the current time.
	Start time.Time
	// Part numbers the files of one session's recording from 0. PrevChain is
	// the final chain value of part Part-1, and zero for part 0.
	Part      uint32
	PrevChain Hash
	// Meta holds the session's metadata by key (the Meta* constants and any
	// others). Keys are 1 to 256 bytes; a nil map is empty. A Reader of an
	// encrypted recording without its identity has only the entries kept
	// in the clear.
	Meta map[string]string
}

func validateMeta(meta map[string]string) error {
	for k := range meta {
		if k == "" || len(k) > maxMetaKey {
			return fmt.Errorf("%w: metadata key %q: length must be 1 to %d bytes", ErrInvalid, k, maxMetaKey)
		}
	}
	return nil
}

var errTimeOrder = errors.New("time before the previous record")

package format

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Record layout (SPEC.md, "Records"): kind u8, flags u8, time i64 (ns),
// length u32, then length bytes of payload.

const (
	flagTargetToClient = 1 << 0
	flagText           = 1 << 1

	closeFixedSize = 1 + 2 + 8 + 8
	gapFixedSize   = 8 + 8
)

// payloadSize returns the encoded payload length of r.
func payloadSize(r *Record) int {
	switch r.Kind {
	case KindMessage:
		return len(r.Payload)
	case KindMarker:
		return len(r.Label)
	case KindClose:
		return closeFixedSize + len(r.Close.Reason)
	case KindGap:
		return gapFixedSize + len(r.Gap.Reason)
	}
	return 0
}

// checkRecord reports why the format cannot hold r.
func checkRecord(r *Record, maxRecord int) error {
	switch r.Kind {
	case KindMessage:
		if r.Dir > TargetToClient || r.Type > Text {
			return fmt.Errorf("%w: direction %d, type %d", ErrInvalid, r.Dir, r.Type)
		}
	case KindMarker:
		if !utf8.ValidString(r.Label) {
			return fmt.Errorf("%w: marker label is not UTF-8", ErrInvalid)
		}
	case KindOpen, KindClose, KindGap:
	default:
		return fmt.Errorf("%w: kind %d", ErrInvalid, r.Kind)
	}
	if r.Time < 0 {
		return fmt.Errorf("%w: negative time %v", ErrInvalid, r.Time)
	}
	if n := payloadSize(r); n > maxRecord {
		return fmt.Errorf("%w: %s record of %d bytes (limit %d)", ErrTooLarge, r.Kind, n, maxRecord)
	}
	return nil
}

// appendRecord appends r's encoding to b. r must have passed checkRecord.
func appendRecord(b []byte, r *Record) []byte {
	var flags byte
	if r.Kind == KindMessage {
		if r.Dir == TargetToClient {
			flags |= flagTargetToClient
		}
		if r.Type == Text {
			flags |= flagText
		}
	}
	b = append(b, byte(r.Kind), flags)
	b = le.AppendUint64(b, uint64(r.Time))
	b = le.AppendUint32(b, uint32(payloadSize(r)))
	switch r.Kind {
	case KindMessage:
		b = append(b, r.Payload...)
	case KindMarker:
		b = append(b, r.Label...)
	case KindClose:
		b = append(b, byte(r.Close.By))
		b = le.AppendUint16(b, r.Close.Code)
		b = le.AppendUint64(b, r.Close.ClientBytes)
		b = le.AppendUint64(b, r.Close.TargetBytes)
		b = append(b, r.Close.Reason...)
	case KindGap:
		b = le.AppendUint64(b, r.Gap.Records)
		b = le.AppendUint64(b, r.Gap.Bytes)
		b = append(b, r.Gap.Reason...)
	}
	return b
}

var errRecord = errors.New("malformed record")

// parseRecord decodes the record at the start of p into r and returns its
// encoded size. r.Payload aliases p.
func parseRecord(p []byte, maxRecord int64, r *Record) (int, error) {
	if len(p) < recordHeaderSize {
		return 0, fmt.Errorf("%w: %d bytes left for a record header", errRecord, len(p))
	}
	kind, flags := Kind(p[0]), p[1]
	t := int64(le.Uint64(p[2:]))
	n := int64(le.Uint32(p[10:]))
	if n > maxRecord {
		return 0, fmt.Errorf("%w: record of %d bytes (limit %d)", ErrTooLarge, n, maxRecord)
	}
	if n > int64(len(p)-recordHeaderSize) {
		return 0, fmt.Errorf("%w: record of %d bytes past the chunk end", errRecord, n)
	}
	if t < 0 {
		return 0, fmt.Errorf("%w: negative time", errRecord)
	}
	body := p[recordHeaderSize : recordHeaderSize+n]
	*r = Record{Kind: kind, Time: time.Duration(t)}
	if kind != KindMessage && flags != 0 {
		return 0, fmt.Errorf("%w: %s record with flags %#x", errRecord, kind, flags)
	}
	switch kind {
	case KindMessage:
		if flags&^(flagTargetToClient|flagText) != 0 {
			return 0, fmt.Errorf("%w: message flags %#x", errRecord, flags)
		}
		if flags&flagTargetToClient != 0 {
			r.Dir = TargetToClient
		}
		if flags&flagText != 0 {
			r.Type = Text
		}
		r.Payload = body
	case KindOpen:
		if n != 0 {
			return 0, fmt.Errorf("%w: open record with %d payload bytes", errRecord, n)
		}
	case KindMarker:
		if !utf8.Valid(body) {
			return 0, fmt.Errorf("%w: marker label is not UTF-8", errRecord)
		}
		r.Label = string(body)
	case KindClose:
		if n < closeFixedSize {
			return 0, fmt.Errorf("%w: close record of %d bytes", errRecord, n)
		}
		r.Close = CloseInfo{
			By:          Closer(body[0]),
			Code:        le.Uint16(body[1:]),
			ClientBytes: le.Uint64(body[3:]),
			TargetBytes: le.Uint64(body[11:]),
			Reason:      string(body[closeFixedSize:]),
		}
		if r.Close.By > ClosedByProxy {
			return 0, fmt.Errorf("%w: closer %d", errRecord, body[0])
		}
	case KindGap:
		if n < gapFixedSize {
			return 0, fmt.Errorf("%w: gap record of %d bytes", errRecord, n)
		}
		r.Gap = GapInfo{Records: le.Uint64(body), Bytes: le.Uint64(body[8:]), Reason: string(body[gapFixedSize:])}
	default:
		return 0, fmt.Errorf("%w: unknown kind %d", errRecord, kind)
	}
	return recordHeaderSize + int(n), nil
}

package render

import (
	"crypto/des"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"math/bits"
	"strconv"

	"github.com/wsproxy/wsproxy/format/rfb"
)

// Handshake errors.
var (
	// ErrVersion: the viewer's ProtocolVersion is not RFB 3.x, x >= 3.
	ErrVersion = errors.New("render: unsupported protocol version")
	// ErrSecurity: the viewer chose a security type that was not offered.
	ErrSecurity = errors.New("render: security type not offered")
	// ErrAuth: the viewer's VNC authentication response was wrong.
	ErrAuth = errors.New("render: authentication failed")
)

// HandshakeOptions configure the server side of an RFB handshake.
type HandshakeOptions struct {
	// Password, if not empty, makes the server offer VNC authentication
	// (RFC 6143 §7.2.2) with it instead of None; only its first 8 bytes
	// count, as for every VNC server.
	Password string
	// Size is the framebuffer size in the ServerInit (zero: 0×0).
	Size image.Point
	// Name is the desktop name in the ServerInit.
	Name string
}

// Hello is what the viewer said during the handshake.
type Hello struct {
	// Minor is the protocol version agreed: 3, 7 or 8 (RFB 3.Minor).
	Minor int
	// Shared is the ClientInit's shared flag.
	Shared bool
}

// Handshake runs the server side of the RFB handshake (RFC 6143 §7.1 to
// §7.3) on rw: ProtocolVersion 3.8, answered by 3.3, 3.7 or 3.8 (3.4 to
// 3.6 count as 3.3, later 3.x and Apple's 3.889 as 3.8); security None
// or VNC authentication; ClientInit; ServerInit in NativeFormat. It
// returns an error matching ErrVersion, ErrSecurity or ErrAuth (after
// telling the viewer why, where the protocol version lets it), or rw's
// error.
func Handshake(rw io.ReadWriter, opts HandshakeOptions) (Hello, error) {
	var h Hello
	if _, err := io.WriteString(rw, "RFB 003.008\n"); err != nil {
		return h, err
	}
	var v [12]byte
	if _, err := io.ReadFull(rw, v[:]); err != nil {
		return h, fmt.Errorf("protocol version: %w", err)
	}
	minor, ok := parseVersion(v[:])
	if !ok {
		return h, fmt.Errorf("%w: %q", ErrVersion, v[:])
	}
	h.Minor = minor
	sec := uint8(1) // None
	if opts.Password != "" {
		sec = 2 // VNC authentication
	}
	if minor == 3 {
		// The server decides (§7.1.2, version 3.3).
		if err := write(rw, binary.BigEndian.AppendUint32(nil, uint32(sec))); err != nil {
			return h, err
		}
	} else {
		if err := write(rw, []byte{1, sec}); err != nil {
			return h, err
		}
		var c [1]byte
		if _, err := io.ReadFull(rw, c[:]); err != nil {
			return h, fmt.Errorf("security type: %w", err)
		}
		if c[0] != sec {
			err := fmt.Errorf("%w: %s", ErrSecurity, rfb.SecurityType(c[0]))
			if minor == 8 {
				failed(rw, "security type not offered")
			}
			return h, err
		}
	}
	if sec == 2 {
		if err := vncAuth(rw, opts.Password, minor); err != nil {
			return h, err
		}
	} else if minor == 8 {
		if err := write(rw, []byte{0, 0, 0, 0}); err != nil { // SecurityResult OK
			return h, err
		}
	}
	var ci [1]byte
	if _, err := io.ReadFull(rw, ci[:]); err != nil {
		return h, fmt.Errorf("client init: %w", err)
	}
	h.Shared = ci[0] != 0
	return h, write(rw, appendServerInit(nil, opts.Size, opts.Name))
}

// parseVersion parses "RFB xxx.yyy\n" and returns the minor version the
// server speaks with it.
func parseVersion(b []byte) (int, bool) {
	if string(b[:4]) != "RFB " || b[7] != '.' || b[11] != '\n' {
		return 0, false
	}
	major, err1 := strconv.Atoi(string(b[4:7]))
	minor, err2 := strconv.Atoi(string(b[8:11]))
	switch {
	case err1 != nil || err2 != nil || major != 3 || minor < 3:
		return 0, false
	case minor < 7:
		return 3, true
	case minor == 7:
		return 7, true
	}
	return 8, true
}

func write(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}

// failed sends a failed SecurityResult with a reason (RFB 3.8).
func failed(w io.Writer, reason string) {
	b := []byte{0, 0, 0, 1}
	b = binary.BigEndian.AppendUint32(b, uint32(len(reason)))
	write(w, append(b, reason...))
}

// vncAuth runs VNC authentication (RFC 6143 §7.2.2) and its
// SecurityResult.
func vncAuth(rw io.ReadWriter, password string, minor int) error {
	var challenge, response [16]byte
	rand.Read(challenge[:])
	if err := write(rw, challenge[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(rw, response[:]); err != nil {
		return fmt.Errorf("authentication response: %w", err)
	}
	expect := VNCAuthResponse(password, challenge)
	if subtle.ConstantTimeCompare(expect[:], response[:]) != 1 {
		if minor == 8 {
			failed(rw, "authentication failed")
		} else {
			write(rw, []byte{0, 0, 0, 1})
		}
		return ErrAuth
	}
	return write(rw, []byte{0, 0, 0, 0})
}

// VNCAuthResponse returns the response to a VNC authentication challenge
// for password (RFC 6143 §7.2.2): the challenge encrypted with DES in
// ECB mode, keyed by the password's first 8 bytes, zero-padded, each
// byte with its bits in reverse order, as VNC's d3des takes its key. No
// maintained Go module does this alone, and crypto/des does the cipher.
func VNCAuthResponse(password string, challenge [16]byte) [16]byte {
	var key [8]byte
	copy(key[:], password)
	for i, b := range key {
		key[i] = bits.Reverse8(b)
	}
	block, err := des.NewCipher(key[:])
	if err != nil {
		panic(err) // the key is 8 bytes
	}
	var out [16]byte
	block.Encrypt(out[:8], challenge[:8])
	block.Encrypt(out[8:], challenge[8:])
	return out
}

// appendServerInit appends a ServerInit (RFC 6143 §7.3.2).
func appendServerInit(dst []byte, size image.Point, name string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(size.X))
	dst = binary.BigEndian.AppendUint16(dst, uint16(size.Y))
	dst = appendPixelFormat(dst, NativeFormat)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(name)))
	return append(dst, name...)
}

// appendPixelFormat appends a SetPixelFormat message (RFC 6143 §7.5.1)
// without its first 4 bytes: the 16-byte PIXEL_FORMAT.
func appendPixelFormat(dst []byte, pf rfb.PixelFormat) []byte {
	b2i := func(b bool) byte {
		if b {
			return 1
		}
		return 0
	}
	dst = append(dst, pf.BitsPerPixel, pf.Depth, b2i(pf.BigEndian), b2i(pf.TrueColour))
	dst = binary.BigEndian.AppendUint16(dst, pf.RedMax)
	dst = binary.BigEndian.AppendUint16(dst, pf.GreenMax)
	dst = binary.BigEndian.AppendUint16(dst, pf.BlueMax)
	return append(dst, pf.RedShift, pf.GreenShift, pf.BlueShift, 0, 0, 0)
}

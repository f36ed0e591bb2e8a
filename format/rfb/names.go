package rfb

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SecurityType is an RFB security type (RFC 6143 §7.1.2, §7.2), a VeNCrypt
// subtype (256 and up) or, in a Tight security handshake, a Tight
// authentication code (1, 2 or 129, reported as None, VNCAuth and
// TightUnixLogin).
type SecurityType uint32

// Security types. The numbers are IANA's RFB registry; see also the
// community specification (rfbproto.rst, "Security").
const (
	SecurityInvalid       SecurityType = 0
	SecurityNone          SecurityType = 1
	SecurityVNCAuth       SecurityType = 2
	SecurityRA2           SecurityType = 5  // RSA-AES
	SecurityRA2ne         SecurityType = 6  // RSA-AES, unencrypted session
	SecuritySSPI          SecurityType = 7  // RealVNC SSPI
	SecuritySSPIne        SecurityType = 8  // RealVNC SSPI, unencrypted session
	SecurityRA2r          SecurityType = 13 // RSA-AES two-step
	SecurityTight         SecurityType = 16
	SecurityUltra         SecurityType = 17
	SecurityTLS           SecurityType = 18 // anonymous TLS (Vino, gtk-vnc)
	SecurityVeNCrypt      SecurityType = 19
	SecuritySASL          SecurityType = 20
	SecurityMD5           SecurityType = 21
	SecurityXVP           SecurityType = 22
	SecuritySecureTunnel  SecurityType = 23
	SecurityIntegratedSSH SecurityType = 24
	SecurityDH            SecurityType = 30 // Diffie-Hellman, Apple Remote Desktop
	SecurityMSLogonII     SecurityType = 113
	SecurityRA256         SecurityType = 129 // RSA-AES-256
	SecurityRAne256       SecurityType = 130 // RSA-AES-256, unencrypted session
	SecurityRA2r256       SecurityType = 133 // RSA-AES-256 two-step

	// VeNCrypt subtypes (rfbproto.rst, "VeNCrypt").
	SecurityPlain     SecurityType = 256
	SecurityTLSNone   SecurityType = 257
	SecurityTLSVnc    SecurityType = 258
	SecurityTLSPlain  SecurityType = 259
	SecurityX509None  SecurityType = 260
	SecurityX509Vnc   SecurityType = 261
	SecurityX509Plain SecurityType = 262
	SecurityTLSSASL   SecurityType = 263
	SecurityX509SASL  SecurityType = 264
	SecurityIdent     SecurityType = 265
	SecurityTLSIdent  SecurityType = 266
	SecurityX509Ident SecurityType = 267

	// SecurityTightUnixLogin is the Tight authentication code 129
	// ("TGHTULGNAUTH"), given a number outside the u8 and VeNCrypt ranges so
	// that it does not clash with SecurityRA256.
	SecurityTightUnixLogin SecurityType = 1<<16 | 129
)

var securityNames = map[SecurityType]string{
	SecurityInvalid:        "Invalid",
	SecurityNone:           "None",
	SecurityVNCAuth:        "VNCAuth",
	SecurityRA2:            "RA2",
	SecurityRA2ne:          "RA2ne",
	SecuritySSPI:           "SSPI",
	SecuritySSPIne:         "SSPIne",
	SecurityRA2r:           "RA2r",
	SecurityTight:          "Tight",
	SecurityUltra:          "Ultra",
	SecurityTLS:            "TLS",
	SecurityVeNCrypt:       "VeNCrypt",
	SecuritySASL:           "SASL",
	SecurityMD5:            "MD5",
	SecurityXVP:            "xvp",
	SecuritySecureTunnel:   "SecureTunnel",
	SecurityIntegratedSSH:  "IntegratedSSH",
	SecurityDH:             "DH",
	SecurityMSLogonII:      "MSLogonII",
	SecurityRA256:          "RA256",
	SecurityRAne256:        "RAne256",
	SecurityRA2r256:        "RA2r256",
	SecurityPlain:          "Plain",
	SecurityTLSNone:        "TLSNone",
	SecurityTLSVnc:         "TLSVnc",
	SecurityTLSPlain:       "TLSPlain",
	SecurityX509None:       "X509None",
	SecurityX509Vnc:        "X509Vnc",
	SecurityX509Plain:      "X509Plain",
	SecurityTLSSASL:        "TLSSASL",
	SecurityX509SASL:       "X509SASL",
	SecurityIdent:          "Ident",
	SecurityTLSIdent:       "TLSIdent",
	SecurityX509Ident:      "X509Ident",
	SecurityTightUnixLogin: "TightUnixLogin",
}

// String returns the type's name, such as "VNCAuth", or its number.
func (t SecurityType) String() string {
	if s, ok := securityNames[t]; ok {
		return s
	}
	return strconv.FormatUint(uint64(t), 10)
}

// MarshalText returns String's form, so JSON shows names.
func (t SecurityType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText accepts a name or a decimal number.
func (t *SecurityType) UnmarshalText(b []byte) error {
	for v, s := range securityNames {
		if s == string(b) {
			*t = v
			return nil
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 32)
	if err != nil {
		return fmt.Errorf("rfb: unknown security type %q", b)
	}
	*t = SecurityType(n)
	return nil
}

// encrypts reports whether the stream (or the rest of the security
// handshake) is encrypted once security type t is chosen, so that nothing
// after it can be decoded.
func (t SecurityType) encrypts() bool {
	switch t {
	case SecurityRA2, SecurityRA2ne, SecuritySSPI, SecuritySSPIne, SecurityRA2r,
		SecurityTLS, SecuritySASL, SecuritySecureTunnel, SecurityIntegratedSSH,
		SecurityRA256, SecurityRAne256, SecurityRA2r256,
		SecurityTLSNone, SecurityTLSVnc, SecurityTLSPlain,
		SecurityX509None, SecurityX509Vnc, SecurityX509Plain,
		SecurityTLSSASL, SecurityX509SASL, SecurityTLSIdent, SecurityX509Ident:
		return true
	}
	return false
}

// Encoding is an RFB encoding or pseudo-encoding number (RFC 6143 §7.7,
// §7.8; rfbproto.rst, "Encodings").
type Encoding int32

// Encodings and pseudo-encodings. Ranges (JPEG quality, compression level,
// fine quality, subsampling) have a constant for their first member.
const (
	EncodingRaw      Encoding = 0
	EncodingCopyRect Encoding = 1
	EncodingRRE      Encoding = 2
	EncodingCoRRE    Encoding = 4
	EncodingHextile  Encoding = 5
	EncodingZlib     Encoding = 6
	EncodingTight    Encoding = 7
	EncodingZlibHex  Encoding = 8
	EncodingUltra    Encoding = 9
	EncodingTRLE     Encoding = 15
	EncodingZRLE     Encoding = 16
	EncodingZYWRLE   Encoding = 17
	EncodingJPEG     Encoding = 21
	EncodingH264     Encoding = 50 // Open H.264
	EncodingTightPNG Encoding = -260

	PseudoQualityLevel0        Encoding = -32 // to -23 (JPEG quality 0 to 9)
	PseudoDesktopSize          Encoding = -223
	PseudoLastRect             Encoding = -224
	PseudoPointerPos           Encoding = -232
	PseudoCursor               Encoding = -239
	PseudoXCursor              Encoding = -240
	PseudoCompressLevel0       Encoding = -256 // to -247
	PseudoQEMUPointerMotion    Encoding = -257
	PseudoQEMUExtendedKey      Encoding = -258
	PseudoQEMUAudio            Encoding = -259
	PseudoQEMULEDState         Encoding = -261
	PseudoGII                  Encoding = -305
	PseudoDesktopName          Encoding = -307
	PseudoExtendedDesktopSize  Encoding = -308
	PseudoXVP                  Encoding = -309
	PseudoFence                Encoding = -312
	PseudoContinuousUpdates    Encoding = -313
	PseudoCursorWithAlpha      Encoding = -314
	PseudoExtendedMouseButtons Encoding = -316
	PseudoTightWithoutZlib     Encoding = -317
	PseudoFineQualityLevel0    Encoding = -512 // to -412 (quality 0 to 100)
	PseudoSubsamp1X            Encoding = -768 // to -763
	PseudoVMwareCursor         Encoding = 0x574d5664
	PseudoVMwareCursorState    Encoding = 0x574d5665
	PseudoVMwareCursorPosition Encoding = 0x574d5666
	PseudoVMwareKeyRepeat      Encoding = 0x574d5667
	PseudoVMwareLEDState       Encoding = 0x574d5668
	PseudoVMwareDisplayMode    Encoding = 0x574d5669
	PseudoVMwareVMState        Encoding = 0x574d566a
	PseudoExtendedClipboard    Encoding = -0x3f5e1a32 // 0xc0a1e5ce
)

var encodingNames = map[Encoding]string{
	EncodingRaw:                "Raw",
	EncodingCopyRect:           "CopyRect",
	EncodingRRE:                "RRE",
	EncodingCoRRE:              "CoRRE",
	EncodingHextile:            "Hextile",
	EncodingZlib:               "Zlib",
	EncodingTight:              "Tight",
	EncodingZlibHex:            "ZlibHex",
	EncodingUltra:              "Ultra",
	10:                         "Ultra2",
	EncodingTRLE:               "TRLE",
	EncodingZRLE:               "ZRLE",
	EncodingZYWRLE:             "ZYWRLE",
	20:                         "H.264",
	EncodingJPEG:               "JPEG",
	22:                         "JRLE",
	EncodingH264:               "OpenH264",
	EncodingTightPNG:           "TightPNG",
	PseudoDesktopSize:          "DesktopSize",
	PseudoLastRect:             "LastRect",
	PseudoPointerPos:           "PointerPos",
	PseudoCursor:               "Cursor",
	PseudoXCursor:              "XCursor",
	PseudoQEMUPointerMotion:    "QEMUPointerMotionChange",
	PseudoQEMUExtendedKey:      "QEMUExtendedKeyEvent",
	PseudoQEMUAudio:            "QEMUAudio",
	PseudoQEMULEDState:         "QEMULEDState",
	PseudoGII:                  "gii",
	PseudoDesktopName:          "DesktopName",
	PseudoExtendedDesktopSize:  "ExtendedDesktopSize",
	PseudoXVP:                  "xvp",
	PseudoFence:                "Fence",
	PseudoContinuousUpdates:    "ContinuousUpdates",
	PseudoCursorWithAlpha:      "CursorWithAlpha",
	PseudoExtendedMouseButtons: "ExtendedMouseButtons",
	PseudoTightWithoutZlib:     "TightWithoutZlib",
	PseudoVMwareCursor:         "VMwareCursor",
	PseudoVMwareCursorState:    "VMwareCursorState",
	PseudoVMwareCursorPosition: "VMwareCursorPosition",
	PseudoVMwareKeyRepeat:      "VMwareKeyRepeat",
	PseudoVMwareLEDState:       "VMwareLEDState",
	PseudoVMwareDisplayMode:    "VMwareDisplayModeChange",
	PseudoVMwareVMState:        "VMwareVirtualMachineState",
	PseudoExtendedClipboard:    "ExtendedClipboard",
}

// encodingRanges name the pseudo-encodings that come in numbered ranges.
var encodingRanges = []struct {
	first, last Encoding
	prefix      string
}{
	{PseudoQualityLevel0, PseudoQualityLevel0 + 9, "JPEGQuality"},
	{PseudoCompressLevel0, PseudoCompressLevel0 + 9, "CompressLevel"},
	{PseudoFineQualityLevel0, PseudoFineQualityLevel0 + 100, "JPEGFineQuality"},
	{PseudoSubsamp1X, PseudoSubsamp1X + 5, "JPEGSubsampling"},
}

// String returns the encoding's name ("Tight", "JPEGQuality6",
// "ExtendedDesktopSize") or its number.
func (e Encoding) String() string {
	if s, ok := encodingNames[e]; ok {
		return s
	}
	for _, r := range encodingRanges {
		if e >= r.first && e <= r.last {
			return r.prefix + strconv.Itoa(int(e-r.first))
		}
	}
	return strconv.Itoa(int(e))
}

// MarshalText returns String's form, so JSON shows names.
func (e Encoding) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText accepts a name or a decimal number.
func (e *Encoding) UnmarshalText(b []byte) error {
	s := string(b)
	for v, name := range encodingNames {
		if name == s {
			*e = v
			return nil
		}
	}
	for _, r := range encodingRanges {
		if rest, ok := strings.CutPrefix(s, r.prefix); ok {
			if n, err := strconv.Atoi(rest); err == nil && n >= 0 && r.first+Encoding(n) <= r.last {
				*e = r.first + Encoding(n)
				return nil
			}
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return fmt.Errorf("rfb: unknown encoding %q", b)
	}
	*e = Encoding(n)
	return nil
}

// Buttons is a pointer button mask (RFC 6143 §7.5.5): bit 0 left, 1 middle,
// 2 right, 3 to 6 the wheel (up, down, left, right), 7 back and, with the
// ExtendedMouseButtons pseudo-encoding, 8 forward.
type Buttons uint16

// Pointer buttons.
const (
	ButtonLeft Buttons = 1 << iota
	ButtonMiddle
	ButtonRight
	ButtonWheelUp
	ButtonWheelDown
	ButtonWheelLeft
	ButtonWheelRight
	ButtonBack
	ButtonForward
)

var buttonNames = [...]string{"left", "middle", "right", "wheel-up", "wheel-down", "wheel-left", "wheel-right", "back", "forward"}

// String names the buttons in the mask, joined by "+" ("left+right"), or
// returns "none".
func (b Buttons) String() string {
	if b == 0 {
		return "none"
	}
	var parts []string
	for i, name := range buttonNames {
		if b&(1<<i) != 0 {
			parts = append(parts, name)
		}
	}
	if rest := b >> len(buttonNames); rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint16(rest)<<len(buttonNames)))
	}
	return strings.Join(parts, "+")
}

// MarshalText returns String's form, so JSON shows names.
func (b Buttons) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads String's form.
func (b *Buttons) UnmarshalText(text []byte) error {
	var v Buttons
	if s := string(text); s != "none" {
		for _, part := range strings.Split(s, "+") {
			i := slices.Index(buttonNames[:], part)
			if i >= 0 {
				v |= 1 << i
				continue
			}
			n, err := strconv.ParseUint(part, 0, 16)
			if err != nil {
				return fmt.Errorf("rfb: unknown button %q", part)
			}
			v |= Buttons(n)
		}
	}
	*b = v
	return nil
}

// PixelFormat is an RFB PIXEL_FORMAT (RFC 6143 §7.4).
type PixelFormat struct {
	BitsPerPixel uint8  `json:"bitsPerPixel"`
	Depth        uint8  `json:"depth"`
	BigEndian    bool   `json:"bigEndian"`
	TrueColour   bool   `json:"trueColour"`
	RedMax       uint16 `json:"redMax"`
	GreenMax     uint16 `json:"greenMax"`
	BlueMax      uint16 `json:"blueMax"`
	RedShift     uint8  `json:"redShift"`
	GreenShift   uint8  `json:"greenShift"`
	BlueShift    uint8  `json:"blueShift"`
}

const pixelFormatSize = 16

func parsePixelFormat(b []byte) PixelFormat {
	return PixelFormat{
		BitsPerPixel: b[0],
		Depth:        b[1],
		BigEndian:    b[2] != 0,
		TrueColour:   b[3] != 0,
		RedMax:       be.Uint16(b[4:]),
		GreenMax:     be.Uint16(b[6:]),
		BlueMax:      be.Uint16(b[8:]),
		RedShift:     b[10],
		GreenShift:   b[11],
		BlueShift:    b[12],
	}
}

// String describes the format, for example "32bpp depth 24 little-endian
// true-colour r255<<16 g255<<8 b255<<0".
func (pf PixelFormat) String() string {
	order := "little-endian"
	if pf.BigEndian {
		order = "big-endian"
	}
	if !pf.TrueColour {
		return fmt.Sprintf("%dbpp depth %d %s colour-map", pf.BitsPerPixel, pf.Depth, order)
	}
	return fmt.Sprintf("%dbpp depth %d %s true-colour r%d<<%d g%d<<%d b%d<<%d", pf.BitsPerPixel, pf.Depth, order,
		pf.RedMax, pf.RedShift, pf.GreenMax, pf.GreenShift, pf.BlueMax, pf.BlueShift)
}

// bytesPerPixel returns the size of a PIXEL, or 0 if bits-per-pixel is not
// a whole number of bytes from 1 to 4.
func (pf PixelFormat) bytesPerPixel() int {
	if pf.BitsPerPixel == 0 || pf.BitsPerPixel%8 != 0 || pf.BitsPerPixel > 32 {
		return 0
	}
	return int(pf.BitsPerPixel) / 8
}

// is888 reports whether a Tight TPIXEL is 3 bytes in this format
// (rfbproto.rst, "Tight Encoding"; TigerVNC's PixelFormat::is888).
func (pf PixelFormat) is888() bool {
	return pf.TrueColour && pf.BitsPerPixel == 32 && pf.Depth == 24 &&
		pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255 &&
		pf.RedShift%8 == 0 && pf.GreenShift%8 == 0 && pf.BlueShift%8 == 0
}

// rgbaFormat is the pixel format of CursorWithAlpha data (rfbproto.rst,
// "Cursor With Alpha Pseudo-encoding").
var rgbaFormat = PixelFormat{BitsPerPixel: 32, Depth: 32, TrueColour: true,
	RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8}

// Rect is one rectangle of a FramebufferUpdate (RFC 6143 §7.6.1).
type Rect struct {
	X        int      `json:"x"`
	Y        int      `json:"y"`
	Width    int      `json:"width"`
	Height   int      `json:"height"`
	Encoding Encoding `json:"encoding"`
	// Bytes is the size of the rectangle's data after its 12-byte header.
	Bytes int64 `json:"bytes"`
}

// Screen is one SCREEN of an ExtendedDesktopSize rectangle or a
// SetDesktopSize message (rfbproto.rst, "ExtendedDesktopSize
// Pseudo-encoding").
type Screen struct {
	ID     uint32 `json:"id"`
	X      int    `json:"x"`
	Y      int    `json:"y"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Flags  uint32 `json:"flags"`
}

func parseScreens(b []byte, n int) []Screen {
	screens := make([]Screen, n)
	for i := range screens {
		p := b[16*i:]
		screens[i] = Screen{ID: be.Uint32(p), X: int(be.Uint16(p[4:])), Y: int(be.Uint16(p[6:])),
			Width: int(be.Uint16(p[8:])), Height: int(be.Uint16(p[10:])), Flags: be.Uint32(p[12:])}
	}
	return screens
}

// be is RFB's byte order for all integers (RFC 6143 §7).
var be = binary.BigEndian

// Hextile's subencoding bits (RFC 6143 §7.7.4), in the byte that starts
// each tile.
const (
	HextileRaw = 1 << iota
	HextileBackgroundSpecified
	HextileForegroundSpecified
	HextileAnySubrects
	HextileSubrectsColoured
)

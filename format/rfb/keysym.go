package rfb

import (
	"fmt"
	"unicode"
)

//go:generate go run gen_keysyms.go

// Keysym is an X11 keysym, the key value of a KeyEvent (RFC 6143 §7.5.4).
type Keysym uint32

// Keysyms the package gives meaning to. Their values are those of X11's
// keysymdef.h.
const (
	KeyBackSpace   Keysym = 0xff08
	KeyTab         Keysym = 0xff09
	KeyReturn      Keysym = 0xff0d
	KeyEscape      Keysym = 0xff1b
	KeyDelete      Keysym = 0xffff
	KeyKPEnter     Keysym = 0xff8d
	KeyShiftL      Keysym = 0xffe1
	KeyShiftR      Keysym = 0xffe2
	KeyControlL    Keysym = 0xffe3
	KeyControlR    Keysym = 0xffe4
	KeyCapsLock    Keysym = 0xffe5
	KeyShiftLock   Keysym = 0xffe6
	KeyMetaL       Keysym = 0xffe7
	KeyMetaR       Keysym = 0xffe8
	KeyAltL        Keysym = 0xffe9
	KeyAltR        Keysym = 0xffea
	KeySuperL      Keysym = 0xffeb
	KeySuperR      Keysym = 0xffec
	KeyHyperL      Keysym = 0xffed
	KeyHyperR      Keysym = 0xffee
	KeyLevel3Shift Keysym = 0xfe03 // ISO_Level3_Shift, AltGr
	KeyModeSwitch  Keysym = 0xff7e
	KeyNumLock     Keysym = 0xff7f
	KeyScrollLock  Keysym = 0xff14
)

// unicodeKeysym is the base of the keysyms that carry a Unicode code point
// (keysymdef.h: "0x01000000 + the code point").
const unicodeKeysym = 0x01000000

// Name returns the keysym's X11 name ("a", "Return", "Shift_L",
// "XF86AudioMute"), "U20AC" for a Unicode keysym, or its hexadecimal value
// ("0x6c1") for a keysym outside the common set.
func (k Keysym) Name() string {
	if s, ok := keysymNames[k]; ok {
		return s
	}
	if k > unicodeKeysym && k <= unicodeKeysym+unicode.MaxRune {
		return fmt.Sprintf("U%04X", uint32(k-unicodeKeysym))
	}
	return fmt.Sprintf("%#x", uint32(k))
}

// String returns Name.
func (k Keysym) String() string { return k.Name() }

// Rune returns the printable character the keysym types, if any: Latin-1
// and Unicode keysyms, the legacy keysyms of keysymdef.h that map to
// Unicode (Cyrillic, Greek, ...), and the keypad's digits, operators and
// space. Return, Tab and BackSpace are not printable.
func (k Keysym) Rune() (rune, bool) {
	var r rune
	switch {
	case k >= 0x20 && k <= 0x7e, k >= 0xa0 && k <= 0xff:
		r = rune(k)
	case k > unicodeKeysym && k <= unicodeKeysym+unicode.MaxRune:
		r = rune(k - unicodeKeysym)
	case k >= 0xffb0 && k <= 0xffb9: // KP_0 .. KP_9
		r = rune('0' + k - 0xffb0)
	default:
		var ok bool
		if r, ok = keypadRunes[k]; !ok {
			if r, ok = keysymRunes[k]; !ok {
				return 0, false
			}
		}
	}
	if !unicode.IsPrint(r) {
		return 0, false
	}
	return r, true
}

var keypadRunes = map[Keysym]rune{
	0xff80: ' ', // KP_Space
	0xffaa: '*', // KP_Multiply
	0xffab: '+', // KP_Add
	0xffac: ',', // KP_Separator
	0xffad: '-', // KP_Subtract
	0xffae: '.', // KP_Decimal
	0xffaf: '/', // KP_Divide
	0xffbd: '=', // KP_Equal
}

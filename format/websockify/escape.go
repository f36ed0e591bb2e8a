package websockify

import (
	"errors"
	"slices"
)

const hexDigits = "0123456789abcdef"

// escapes[c] is 0 if websockify writes byte c as itself, else the character
// after the backslash in its escape: t, n, r, ', \ or x (for \xhh). See
// the table in the package documentation; TestEscapeTables checks this one
// against it.
const escapes = "xxxxxxxxxtnxxrxx" +
	"xxxxxxxxxxxxxxxx" +
	"\x00\x00\x00\x00\x00\x00\x00'\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\\\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00x" +
	"xxxxxxxxxxxxxxxx" +
	"xxxxxxxxxxxxxxxx" +
	"xxxxxxxxxxxxxxxx" +
	"xxxxxxxxxxxxxxxx" +
	"xxxxxxxxxxxxxxxx" +
	"xxxxxxxxxxxxxxxx" +
	"xxxxxxxxxxxxxxxx" +
	"xxxxxxxxxxxxxxxx"

// unhexes[c] is the value of hex digit c, or 0xff if c is not one.
const unhexes = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\xff\xff\xff\xff\xff\xff" +
	"\xff\x0a\x0b\x0c\x0d\x0e\x0f\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\x0a\x0b\x0c\x0d\x0e\x0f\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"

// appendEscaped appends data escaped as websockify escapes a payload:
// Python's unicode_escape of its latin-1 decoding, with ' escaped as \'.
func appendEscaped(dst, data []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 4*len(data))[:n+4*len(data)]
	for _, c := range data {
		switch e := escapes[c]; e {
		case 0:
			dst[n] = c
			n++
		case 'x':
			dst[n] = '\\'
			dst[n+1] = 'x'
			dst[n+2] = hexDigits[c>>4]
			dst[n+3] = hexDigits[c&0xf]
			n += 4
		default:
			dst[n] = '\\'
			dst[n+1] = e
			n += 2
		}
	}
	return dst[:n]
}

// unescape decodes the body of a string literal quoted with quote, in place:
// the result shares s's memory. The error is a message for a SyntaxError.
func unescape(s []byte, quote byte) ([]byte, error) {
	w := 0
	for r := 0; r < len(s); r++ {
		c := s[r]
		if c != '\\' {
			if c == quote {
				return nil, errors.New("unescaped quote inside string")
			}
			if c < 0x20 || c >= 0x7f {
				return nil, errors.New("byte " + hex2(c) + " not escaped")
			}
			s[w] = c
			w++
			continue
		}
		r++
		if r == len(s) {
			return nil, errors.New("string ends in a backslash")
		}
		switch e := s[r]; e {
		case 'x':
			if r+2 >= len(s) {
				return nil, errors.New(`\x escape needs two hex digits`)
			}
			hi, lo := unhexes[s[r+1]], unhexes[s[r+2]]
			if hi|lo == 0xff {
				return nil, errors.New(`\x escape needs two hex digits`)
			}
			s[w] = hi<<4 | lo
			r += 2
		case '\\', '\'', '"':
			s[w] = e
		case 'n':
			s[w] = '\n'
		case 'r':
			s[w] = '\r'
		case 't':
			s[w] = '\t'
		default:
			if e < 0x20 || e >= 0x7f {
				return nil, errors.New("byte " + hex2(e) + " after a backslash")
			}
			return nil, errors.New("unsupported escape \\" + string(rune(e)))
		}
		w++
	}
	return s[:w], nil
}

// hex2 formats c as 0xhh for error messages.
func hex2(c byte) string {
	return string([]byte{'0', 'x', hexDigits[c>>4], hexDigits[c&0xf]})
}

package websockify

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// allBytesEscaped is bytes 0x00 to 0xff escaped by websockify 0.10.0's
// expression (websockify/websockifyserver.py, send_frames and recv_frames),
// as printed by Python 3.11:
//
//	buf.decode('latin1').encode('unicode_escape').decode('ascii').replace("'", "\\'")
const allBytesEscaped = `\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f` +
	`\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f` +
	` !"#$%&\'()*+,-./` +
	`0123456789:;<=>?` +
	`@ABCDEFGHIJKLMNO` +
	`PQRSTUVWXYZ[\\]^_` +
	"`" + `abcdefghijklmno` +
	`pqrstuvwxyz{|}~\x7f` +
	`\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f` +
	`\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f` +
	`\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf` +
	`\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf` +
	`\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf` +
	`\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf` +
	`\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef` +
	`\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff`

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestEscapeAllBytes(t *testing.T) {
	t.Parallel()
	got := string(appendEscaped(nil, allBytes()))
	if got != allBytesEscaped {
		t.Errorf("got  %s\nwant %s", got, allBytesEscaped)
	}
	dec, err := unescape([]byte(got), '\'')
	if err != nil {
		t.Fatalf("unescape: %v", err)
	}
	if !bytes.Equal(dec, allBytes()) {
		t.Errorf("unescape: got %q, want bytes 0-255", dec)
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"Empty", "", ""},
		{"Printable", "RFB 003.008", "RFB 003.008"},
		{"Newline", "RFB 003.008\n", `RFB 003.008\n`},
		{"Tab", "\t", `\t`},
		{"CR", "\r", `\r`},
		{"SingleQuote", "it's", `it\'s`},
		{"DoubleQuote", `"`, `"`},
		{"Backslash", `a\b`, `a\\b`},
		{"BackslashQuote", `\'`, `\\\'`},
		{"NUL", "\x00", `\x00`},
		{"VT", "\v", `\x0b`},
		{"DEL", "\x7f", `\x7f`},
		{"Latin1", "\x80\xe9\xff", `\x80\xe9\xff`},
		{"UTF8", "é", `\xc3\xa9`},
		{"Braces", "{1{}2}", "{1{}2}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := string(appendEscaped(nil, []byte(tt.in)))
			if got != tt.want {
				t.Errorf("appendEscaped(%q) = %s, want %s", tt.in, got, tt.want)
			}
			dec, err := unescape([]byte(got), '\'')
			if err != nil || string(dec) != tt.in {
				t.Errorf("unescape(%s) = %q, %v; want %q", got, dec, err, tt.in)
			}
		})
	}
}

func TestUnescape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		quote   byte
		want    string
		wantErr string // substring of the error, "" for none
	}{
		{"UpperHex", `\xAB\xcD`, '\'', "\xab\xcd", ""},
		{"EscapedDoubleQuote", `\"`, '\'', `"`, ""},
		{"BareSingleInDouble", `it's`, '"', "it's", ""},
		{"ErrBareQuote", `it's`, '\'', "", "unescaped quote"},
		{"ErrBareDoubleInDouble", `a"b`, '"', "", "unescaped quote"},
		{"ErrTrailingBackslash", `ab\`, '\'', "", "ends in a backslash"},
		{"ErrShortHex", `\x4`, '\'', "", "two hex digits"},
		{"ErrBadHex", `\xg0`, '\'', "", "two hex digits"},
		{"ErrUnknownEscape", `\b`, '\'', "", `unsupported escape \b`},
		{"ErrNULEscape", `\0`, '\'', "", `unsupported escape \0`},
		{"ErrUnicodeEscape", `\u0041`, '\'', "", `unsupported escape \u`},
		{"ErrRawControl", "a\x01", '\'', "", "byte 0x01 not escaped"},
		{"ErrRawTab", "\t", '\'', "", "byte 0x09 not escaped"},
		{"ErrRawHigh", "\xe9", '\'', "", "byte 0xe9 not escaped"},
		{"ErrHighAfterBackslash", "\\\xe9", '\'', "", "byte 0xe9 after a backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := unescape([]byte(tt.in), tt.quote)
			if tt.wantErr == "" {
				if err != nil || string(got) != tt.want {
					t.Errorf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %q, %v; want error containing %q", got, err, tt.wantErr)
			}
		})
	}
}

// TestEscapeTables checks the lookup tables against the rules in the package
// documentation and strconv.
func TestEscapeTables(t *testing.T) {
	t.Parallel()
	for i := range 256 {
		c := byte(i)
		var want byte
		switch {
		case c == '\t':
			want = 't'
		case c == '\n':
			want = 'n'
		case c == '\r':
			want = 'r'
		case c == '\'' || c == '\\':
			want = c
		case c < 0x20 || c >= 0x7f:
			want = 'x'
		}
		if escapes[c] != want {
			t.Errorf("escapes[%#x] = %q, want %q", c, escapes[c], want)
		}
		wantHex := byte(0xff)
		if v, err := strconv.ParseUint(string(rune(c)), 16, 8); err == nil {
			wantHex = byte(v)
		}
		if unhexes[c] != wantHex {
			t.Errorf("unhexes[%#x] = %#x, want %#x", c, unhexes[c], wantHex)
		}
	}
}

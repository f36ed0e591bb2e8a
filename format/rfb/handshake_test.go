package rfb

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

var testFormat = PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColour: true,
	RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8, BlueShift: 0}

const testInit = "server server-init 320x240 \"desk\" 32bpp depth 24 little-endian true-colour r255<<16 g255<<8 b255<<0"

func TestHandshake(t *testing.T) {
	t.Parallel()
	init := serverInit(320, 240, testFormat, "desk")
	challenge := make([]byte, 16)
	response := []byte("0123456789abcdef")
	tests := []struct {
		name   string
		chunks []chunk
		want   []string
	}{{
		name: "3.8None",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(2, 1, 2)), client(u8(1)),
			server(u32(0)), client(u8(1)), server(init)},
		want: []string{"server version 3.8", "client version 3.8", "server security-types None, VNCAuth", "client security None",
			"server security-result ok", "client client-init shared", testInit},
	}, {
		name: "3.8VNCAuth",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 2)), client(u8(2)),
			server(challenge), client(response), server(u32(0)), client(u8(0)), server(init)},
		want: []string{"server version 3.8", "client version 3.8", "server security-types VNCAuth", "client security VNCAuth",
			"server auth VNC authentication challenge", "client auth VNC authentication response",
			"server security-result ok", "client client-init exclusive", testInit},
	}, {
		name: "3.8VNCAuthFailed",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 2)), client(u8(2)),
			server(challenge), client(response), server(u32(1), str32("Authentication failure")), client(u8(1))},
		want: []string{"server version 3.8", "client version 3.8", "server security-types VNCAuth", "client security VNCAuth",
			"server auth VNC authentication challenge", "client auth VNC authentication response",
			`server security-result failed "Authentication failure"`},
	}, {
		name:   "3.8NoSecurityTypes",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(0), str32("too many connections"))},
		want: []string{"server version 3.8", "client version 3.8", "server security-types (none)",
			`server security-result failed "too many connections"`},
	}, {
		name: "3.7None",
		chunks: []chunk{server(version("003.007")), client(version("003.007")), server(u8(1, 1)), client(u8(1)),
			client(u8(1)), server(init)},
		want: []string{"server version 3.7", "client version 3.7", "server security-types None", "client security None",
			"client client-init shared", testInit},
	}, {
		name: "3.7VNCAuthFailed",
		chunks: []chunk{server(version("003.007")), client(version("003.007")), server(u8(1, 2)), client(u8(2)),
			server(challenge), client(response), server(u32(1))},
		want: []string{"server version 3.7", "client version 3.7", "server security-types VNCAuth", "client security VNCAuth",
			"server auth VNC authentication challenge", "client auth VNC authentication response", "server security-result failed"},
	}, {
		name: "3.3VNCAuth",
		chunks: []chunk{server(version("003.003")), client(version("003.003")), server(u32(2), challenge), client(response),
			server(u32(0)), client(u8(1)), server(init)},
		want: []string{"server version 3.3", "client version 3.3", "server security VNCAuth (decided by the server)",
			"server auth VNC authentication challenge", "client auth VNC authentication response",
			"server security-result ok", "client client-init shared", testInit},
	}, {
		name:   "3.3Refused",
		chunks: []chunk{server(version("003.003")), client(version("003.003")), server(u32(0), str32("go away"))},
		want:   []string{"server version 3.3", "client version 3.3", `server security-result failed "go away"`},
	}, {
		name: "Apple3.889",
		chunks: []chunk{server(version("003.889")), client(version("003.889")), server(u8(2, 30, 2)), client(u8(30)),
			server(u16(2, 4), u8(1, 2, 3, 4), u8(5, 6, 7, 8)), client(make([]byte, 128+4)), server(u32(0)), client(u8(1)), server(init)},
		want: []string{"server version 3.889", "client version 3.889", "server security-types DH, VNCAuth", "client security DH",
			"server auth Diffie-Hellman parameters, 32-bit key", "client auth Diffie-Hellman encrypted credentials",
			"server security-result ok", "client client-init shared", testInit},
	}, {
		name: "VeNCryptPlain",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 19)), client(u8(19)),
			server(u8(0, 2)), client(u8(0, 2)), server(u8(0), u8(2), u32(262, 256)), client(u32(256)),
			client(u32(5, 6), []byte("alice"), []byte("s3cret")), server(u32(0)), client(u8(1)), server(init)},
		want: []string{"server version 3.8", "client version 3.8", "server security-types VeNCrypt", "client security VeNCrypt",
			"server auth VeNCrypt version 0.2", "client auth VeNCrypt version 0.2",
			"server security-types X509Plain, Plain (VeNCrypt subtypes)", "client security Plain (VeNCrypt subtype)",
			`client auth user name and password (password not shown) user "alice"`,
			"server security-result ok", "client client-init shared", testInit},
	}, {
		name: "VeNCryptTLS",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 19)), client(u8(19)),
			server(u8(0, 2)), client(u8(0, 2)), server(u8(0), u8(1), u32(258)), client(u32(258)),
			server(u8(1), []byte{0x16, 0x03, 0x01}), client([]byte{0x16, 0x03, 0x01, 0x02})},
		want: []string{"server version 3.8", "client version 3.8", "server security-types VeNCrypt", "client security VeNCrypt",
			"server auth VeNCrypt version 0.2", "client auth VeNCrypt version 0.2",
			"server security-types TLSVnc (VeNCrypt subtypes)", "client security TLSVnc (VeNCrypt subtype)",
			"client encrypted VeNCrypt subtype TLSVnc encrypts the stream: decoding stops"},
	}, {
		name: "VeNCryptRefused",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 19)), client(u8(19)),
			server(u8(0, 2)), client(u8(0, 1)), server(u8(1))},
		want: []string{"server version 3.8", "client version 3.8", "server security-types VeNCrypt", "client security VeNCrypt",
			"server auth VeNCrypt version 0.2", "client auth VeNCrypt version 0.1", `server security-result failed "VeNCrypt version refused"`},
	}, {
		name: "TLS",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(2, 18, 2)), client(u8(18)),
			server([]byte{0x16, 0x03, 0x01})},
		want: []string{"server version 3.8", "client version 3.8", "server security-types TLS, VNCAuth", "client security TLS",
			"client encrypted security type TLS encrypts the stream: decoding stops"},
	}, {
		name: "RA2ne",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 6)), client(u8(6)),
			server(u32(2048), make([]byte, 512))},
		want: []string{"server version 3.8", "client version 3.8", "server security-types RA2ne", "client security RA2ne",
			"client encrypted security type RA2ne encrypts the stream: decoding stops"},
	}, {
		name: "UnknownSecurityType",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 17)), client(u8(17)),
			server(u8(9, 9, 9))},
		want: []string{"server version 3.8", "client version 3.8", "server security-types Ultra", "client security Ultra",
			"client stop security type Ultra is not decoded: decoding stops"},
	}, {
		name: "Tight",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 16)), client(u8(16)),
			server(u32(1), u32(0), []byte("TGHTNOTUNNEL")), client(u32(0)),
			server(u32(2), u32(2), []byte("STDVVNCAUTH_"), u32(129), []byte("TGHTULGNAUTH")), client(u32(129)),
			client(u32(3, 2), []byte("bobpw")), server(u32(0)), client(u8(1)),
			server(init, u16(1, 0, 1, 0), make([]byte, 32))},
		want: []string{"server version 3.8", "client version 3.8", "server security-types Tight", "client security Tight",
			"server auth Tight tunnel types: TGHT/NOTUNNEL", "client auth Tight tunnel NOTUNNEL",
			"server security-types VNCAuth, TightUnixLogin (Tight: STDV/VNCAUTH_, TGHT/ULGNAUTH)",
			"client security TightUnixLogin (Tight authentication)",
			`client auth user name and password (password not shown) user "bob"`,
			"server security-result ok", "client client-init shared", testInit},
	}, {
		name: "XVP",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 22)), client(u8(22)),
			client(u8(4, 2), []byte("rootvm")), server(challenge), client(response), server(u32(0))},
		want: []string{"server version 3.8", "client version 3.8", "server security-types xvp", "client security xvp",
			`client auth xvp target "vm" user "root"`, "server auth VNC authentication challenge",
			"client auth VNC authentication response", "server security-result ok"},
	}, {
		name: "MSLogonII",
		chunks: []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 113)), client(u8(113)),
			server(make([]byte, 24)), client(make([]byte, 328)), server(u32(0))},
		want: []string{"server version 3.8", "client version 3.8", "server security-types MSLogonII", "client security MSLogonII",
			"server auth MSLogonII Diffie-Hellman parameters", "client auth MSLogonII encrypted credentials", "server security-result ok"},
	}, {
		name: "Repeater",
		chunks: []chunk{server(version("000.000")), client([]byte("ID:1234"), make([]byte, 243)), server(version("003.008")),
			client(version("004.001"))},
		want: []string{"server version 0.0 (UltraVNC repeater)", "client version repeater ID:1234", "server version 3.8", "client version 4.1"},
	}, {
		name:   "NotRFB",
		chunks: []chunk{server([]byte("SSH-2.0-OpenSSH_9.6\r\n"))},
		want:   []string{`server stop not an RFB stream (starts "SSH-2.0-Open"): decoding stops`},
	}, {
		name: "ClientWaitsForServer",
		// The client's choice arrives in the same record as its version,
		// before the server's offer: it waits until the offer is known.
		chunks: []chunk{client(version("003.008"), u8(1)), server(version("003.008"), u8(1, 1), u32(0))},
		want: []string{"client version 3.8", "server version 3.8", "server security-types None", "client security None",
			"server security-result ok"},
	}, {
		name:   "EndsMidMessage",
		chunks: []chunk{server(version("003.008")), client([]byte("RFB 003"))},
		want:   []string{"server version 3.8", "client stop the client stream ends inside a message, 7 bytes into it"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := summaries(decode(t, tt.chunks...))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestPasswordNeverShown checks that no event, in any form, carries a
// password or a VNC authentication response.
func TestPasswordNeverShown(t *testing.T) {
	t.Parallel()
	evs := decode(t,
		server(version("003.008")), client(version("003.008")), server(u8(1, 19)), client(u8(19)),
		server(u8(0, 2)), client(u8(0, 2)), server(u8(0), u8(1), u32(256)), client(u32(256)),
		client(u32(5, 12), []byte("alicePASSWORD-XYZ")), server(u32(0)))
	evs = append(evs, decode(t,
		server(version("003.008")), client(version("003.008")), server(u8(1, 2)), client(u8(2)),
		server([]byte("CHALLENGE-16byte")), client([]byte("RESPONSE-16bytes")), server(u32(0)))...)
	for _, e := range evs {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"PASSWORD", "RESPONSE", "CHALLENGE"} {
			if strings.Contains(string(j), secret) || strings.Contains(e.String(), secret) {
				t.Errorf("event %s shows %s: %s", e.Kind, secret, j)
			}
		}
	}
}

func TestSession(t *testing.T) {
	t.Parallel()
	d := NewDecoder(DecoderOptions{})
	for _, c := range []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 2)), client(u8(2)),
		server(make([]byte, 16)), client(make([]byte, 16)), server(u32(0)), client(u8(1)),
		server(serverInit(1024, 768, testFormat, "work")), client(setPixelFormat(noVNCFormat), setEncodings(EncodingTight, EncodingRaw))} {
		feed(t, d, c.dir, 0, c.b)
	}
	s := d.Session()
	want := Session{ServerVersion: "3.8", ClientVersion: "3.8", Offered: []SecurityType{SecurityVNCAuth}, Security: SecurityVNCAuth,
		Auth: "ok", Shared: true, Width: 1024, Height: 768, Name: "work", PixelFormat: &testFormat,
		ClientPixelFormat: &noVNCFormat, Encodings: []Encoding{EncodingTight, EncodingRaw}}
	gotJSON, _ := json.Marshal(s)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("got %s\nwant %s", gotJSON, wantJSON)
	}
}

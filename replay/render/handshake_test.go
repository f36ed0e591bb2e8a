package render

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"net"
	"testing"

	"github.com/wsproxy/wsproxy/format"
)

// TestHandshake runs the server side against scripted viewers of each
// protocol version, with and without VNC authentication.
func TestHandshake(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, version, password, typed string
		want                           error
		minor                          int
	}{
		{"3.8/None", "RFB 003.008\n", "", "", nil, 8},
		{"3.7/None", "RFB 003.007\n", "", "", nil, 7},
		{"3.3/None", "RFB 003.003\n", "", "", nil, 3},
		{"3.889/None", "RFB 003.889\n", "", "", nil, 8},
		{"3.8/VNCAuth", "RFB 003.008\n", "s3cret", "s3cret", nil, 8},
		{"3.3/VNCAuth", "RFB 003.003\n", "s3cret", "s3cret", nil, 3},
		{"3.8/ErrAuth", "RFB 003.008\n", "s3cret", "wrong", ErrAuth, 8},
		{"3.7/ErrAuth", "RFB 003.007\n", "s3cret", "wrong", ErrAuth, 7},
		{"ErrVersion", "RFB 004.001\n", "", "", ErrVersion, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, cli := net.Pipe()
			defer cli.Close()
			done := make(chan error, 1)
			var hello Hello
			go func() {
				var err error
				hello, err = Handshake(srv, HandshakeOptions{Password: tt.password, Size: image.Pt(800, 600), Name: "desk"})
				srv.Close()
				done <- err
			}()
			read := func(n int) []byte {
				b := make([]byte, n)
				if _, err := io.ReadFull(cli, b); err != nil {
					t.Fatalf("viewer read: %v", err)
				}
				return b
			}
			if got := read(12); string(got) != "RFB 003.008\n" {
				t.Fatalf("server version %q", got)
			}
			cli.Write([]byte(tt.version))
			if tt.want == ErrVersion {
				if err := <-done; !errors.Is(err, ErrVersion) {
					t.Fatalf("got %v, want ErrVersion", err)
				}
				return
			}
			sec := byte(1)
			if tt.password != "" {
				sec = 2
			}
			if tt.minor == 3 {
				if got := binary.BigEndian.Uint32(read(4)); got != uint32(sec) {
					t.Fatalf("3.3 security %d, want %d", got, sec)
				}
			} else {
				if got := read(2); !bytes.Equal(got, []byte{1, sec}) {
					t.Fatalf("security types % x", got)
				}
				cli.Write([]byte{sec})
			}
			if sec == 2 {
				resp := VNCAuthResponse(tt.typed, [16]byte(read(16)))
				cli.Write(resp[:])
			}
			if sec == 2 || tt.minor == 8 {
				result := binary.BigEndian.Uint32(read(4))
				if tt.want == ErrAuth {
					if result != 1 {
						t.Errorf("SecurityResult %d, want 1", result)
					}
					if tt.minor == 8 {
						n := binary.BigEndian.Uint32(read(4))
						if reason := read(int(n)); string(reason) != "authentication failed" {
							t.Errorf("reason %q", reason)
						}
					}
					if err := <-done; !errors.Is(err, ErrAuth) {
						t.Fatalf("got %v, want ErrAuth", err)
					}
					return
				}
				if result != 0 {
					t.Fatalf("SecurityResult %d", result)
				}
			}
			cli.Write([]byte{1})
			init := read(24)
			if w, h := binary.BigEndian.Uint16(init), binary.BigEndian.Uint16(init[2:]); w != 800 || h != 600 {
				t.Errorf("ServerInit size %dx%d", w, h)
			}
			if name := read(int(binary.BigEndian.Uint32(init[20:]))); string(name) != "desk" {
				t.Errorf("name %q", name)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if hello.Minor != tt.minor || !hello.Shared {
				t.Errorf("hello %+v, want minor %d, shared", hello, tt.minor)
			}
		})
	}
}

// TestVNCAuthResponse computes the response of a real session: the
// challenge Xvnc sent and the answer its client gave, with the password
// of the fixture (format/rfb/capture_test.go).
// capturePass is the password of the fixture.
const capturePass = "wsproxy"

func TestVNCAuthResponse(t *testing.T) {
	t.Parallel()
	r, err := format.Open("../../testdata/rfb/xvnc-vncauth-ok.wsrec", format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var server, client []byte
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		if rec.Kind != format.KindMessage {
			continue
		}
		if rec.Dir == format.TargetToClient {
			server = append(server, rec.Payload...)
		} else {
			client = append(client, rec.Payload...)
		}
	}
	// 3.8: version, security types (1 + n), challenge; the client's
	// version and choice, then the response.
	n := int(server[12])
	challenge := [16]byte(server[13+n : 29+n])
	want := client[13:29]
	if got := VNCAuthResponse(capturePass, challenge); !bytes.Equal(got[:], want) {
		t.Errorf("response % x, want % x", got, want)
	}
	if VNCAuthResponse("12345678", challenge) != VNCAuthResponse("12345678-and-more", challenge) {
		t.Error("only the first 8 bytes must count")
	}
}

package vnctest

import (
	"bytes"
	"testing"
)

func TestVNCPasswordFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, password string
		want           []byte
	}{
		// What TigerVNC's vncpasswd -f writes for these passwords.
		{"Eight", "secret12", []byte{0x24, 0xb5, 0xae, 0x4c, 0xe1, 0x55, 0x03, 0xc6}},
		{"Longer", "secret12345", []byte{0x24, 0xb5, 0xae, 0x4c, 0xe1, 0x55, 0x03, 0xc6}},
		{"Shorter", "pass", []byte{0x25, 0x62, 0xd2, 0x97, 0x9f, 0x13, 0xa7, 0x43}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := vncPasswordFile(tc.password); !bytes.Equal(got, tc.want) {
				t.Errorf("got % x, want % x", got, tc.want)
			}
		})
	}
}

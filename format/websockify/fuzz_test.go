package websockify

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds the Reader arbitrary input. It must not panic, must fail
// only with the documented errors, and whatever frames it returns must come
// back unchanged through the Writer and the Reader.
func FuzzReader(f *testing.F) {
	paths, err := filepath.Glob("../../testdata/recordings/websockify-*.txt")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed recordings: %v", err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"var VNC_frame_data = [\n'EOF'];\n",
		"var VNC_frame_data = [\n'{0{RFB 003.008\\n',\n'}5}\\x01\\' \" \\\\ \\t\\r',\n'{-7{\\xAB',\n'EOF'];\n",
		"var VNC_frame_encoding = 'binary';\r\nvar VNC_frame_data = [\r\n\"}12}it's\",\r\n'EOF']\r\n",
		"var VNC_frame_encoding = 'base64';\nvar VNC_frame_data = [\n'{0{UkZCIDAwMy4wMDgK',\n'}5}AQ==',\n'EOF'];\n",
		"var VNC_frame_data = [\n'{0{UkZCIDAwMy4wMDgK',\n'{7{AQE=',\n'EOF']\n",
		"var VNC_frame_data = [\n'{1{a',\n'{2{\\x4",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, err := readAll(NewReader(bytes.NewReader(data), ReaderOptions{MaxLineSize: 1 << 20}))
		var se *SyntaxError
		switch {
		case err == io.EOF, errors.Is(err, ErrTruncated), errors.Is(err, ErrLineTooLong):
		case errors.As(err, &se):
			if se.Line < 1 {
				t.Fatalf("SyntaxError at line %d", se.Line)
			}
		default:
			t.Fatalf("undocumented error %v", err)
		}

		// Base64 recordings come back as binary ones, which must be read
		// as such: a first payload of "UkZC" would otherwise look base64.
		out := writeAll(t, frames)
		again, err := readAll(NewReader(bytes.NewReader(out), ReaderOptions{Encoding: EncodingBinary}))
		if err != io.EOF {
			t.Fatalf("reading the Writer's output: %v", err)
		}
		assertFrames(t, again, frames)
	})
}

package websockify

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// readAll reads frames until Next fails and returns them with that error.
func readAll(r *Reader) ([]Frame, error) {
	var frames []Frame
	for {
		f, err := r.Next()
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
}

func assertFrames(t testing.TB, got, want []Frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.FromClient != w.FromClient || g.Time != w.Time || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("frame %d: got {FromClient:%v Time:%v Data:%.60q}, want {FromClient:%v Time:%v Data:%.60q}",
				i, g.FromClient, g.Time, g.Data, w.FromClient, w.Time, w.Data)
		}
	}
}

// randomFrames returns n frames at increasing whole milliseconds with
// payloads chosen to stress the escaping: empty, every byte value, runs of
// quotes and backslashes, and random bytes of random, sometimes large, size.
func randomFrames(rng *rand.Rand, n int) []Frame {
	frames := make([]Frame, n)
	var ms int64
	for i := range frames {
		ms += rng.Int64N(50)
		var data []byte
		switch rng.IntN(6) {
		case 0:
			data = []byte{}
		case 1:
			data = allBytes()
		case 2:
			for range rng.IntN(40) {
				data = append(data, `'"\{}`[rng.IntN(5)])
			}
		case 3:
			data = make([]byte, rng.IntN(100<<10))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		default:
			data = make([]byte, rng.IntN(300))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		}
		frames[i] = Frame{FromClient: rng.IntN(2) == 0, Time: time.Duration(ms) * time.Millisecond, Data: data}
	}
	return frames
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	want := randomFrames(rng, 300)
	want = append(want, Frame{Time: -3 * time.Millisecond, Data: []byte("clock stepped back")})
	file := writeAll(t, want)

	r := NewReader(bytes.NewReader(file), ReaderOptions{})
	got, err := readAll(r)
	if err != io.EOF {
		t.Fatalf("got error %v, want io.EOF", err)
	}
	assertFrames(t, got, want)
	if r.Encoding() != EncodingBinary {
		t.Errorf("Encoding() = %v, want binary", r.Encoding())
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after EOF: got %v, want io.EOF", err)
	}

	// The same through a reader that returns a byte at a time.
	got, err = readAll(NewReader(iotest.OneByteReader(bytes.NewReader(file)), ReaderOptions{}))
	if err != io.EOF {
		t.Fatalf("one byte at a time: got error %v, want io.EOF", err)
	}
	assertFrames(t, got, want)
}

// TestReaderVariants reads hand-written recordings in each of the forms
// websockify has written (see the package documentation for which version
// wrote which).
func TestReaderVariants(t *testing.T) {
	t.Parallel()
	rfb := []Frame{
		{Time: 0, Data: []byte("RFB 003.008\n")},
		{FromClient: true, Time: 5 * time.Millisecond, Data: []byte("RFB 003.008\n")},
		{Time: 7 * time.Millisecond, Data: []byte{1, 1}},
	}
	tests := []struct {
		name     string
		file     string
		opts     ReaderOptions
		want     []Frame
		encoding Encoding
	}{
		{
			"Current",
			"var VNC_frame_data = [\n'{0{RFB 003.008\\n',\n'}5}RFB 003.008\\n',\n'{7{\\x01\\x01',\n'EOF'];\n",
			ReaderOptions{}, rfb, EncodingBinary,
		},
		{
			"Binary0.9",
			"var VNC_frame_encoding = 'binary';\nvar VNC_frame_data = [\n'{0{RFB 003.008\\n',\n'}5}RFB 003.008\\n',\n'{7{\\x01\\x01',\n'EOF'];\n",
			ReaderOptions{}, rfb, EncodingBinary,
		},
		{
			"Base64_0.9",
			"var VNC_frame_encoding = 'base64';\nvar VNC_frame_data = [\n'{0{UkZCIDAwMy4wMDgK',\n'}5}UkZCIDAwMy4wMDgK',\n'{7{AQE=',\n'EOF'];\n",
			ReaderOptions{}, rfb, EncodingBase64,
		},
		{
			// websockify 0.1.0 and 0.2.0: no encoding line, base64, no
			// semicolon after the trailer.
			"Base64_0.2",
			"var VNC_frame_data = [\n'{0{UkZCIDAwMy4wMDgK',\n'}5}UkZCIDAwMy4wMDgK',\n'{7{AQE=',\n'EOF']\n",
			ReaderOptions{}, rfb, EncodingBase64,
		},
		{
			"ForcedBinary",
			"var VNC_frame_data = [\n'{0{UkZC',\n'EOF'];\n",
			ReaderOptions{Encoding: EncodingBinary},
			[]Frame{{Data: []byte("UkZC")}}, EncodingBinary,
		},
		{
			"ForcedBinaryOverHeader",
			"var VNC_frame_encoding = 'base64';\nvar VNC_frame_data = [\n'{0{AQE=',\n'EOF'];\n",
			ReaderOptions{Encoding: EncodingBinary},
			[]Frame{{Data: []byte("AQE=")}}, EncodingBinary,
		},
		{
			// Python 2's repr puts a string holding ' but no " in double
			// quotes and leaves the ' bare.
			"Python2ReprDoubleQuoted",
			"var VNC_frame_encoding = 'binary';\nvar VNC_frame_data = [\n\"}12}it's\\n\",\n'}13}both \\' and \"',\n'EOF'];\n",
			ReaderOptions{},
			[]Frame{
				{FromClient: true, Time: 12 * time.Millisecond, Data: []byte("it's\n")},
				{FromClient: true, Time: 13 * time.Millisecond, Data: []byte(`both ' and "`)},
			},
			EncodingBinary,
		},
		{
			"CRLFBlankLinesAndSpaces",
			"var VNC_frame_data = [\r\n\r\n  '{1{a', \r\n\t'}2}\\xFF',\r\n\r\n'EOF'];\r\n",
			ReaderOptions{},
			[]Frame{
				{Time: time.Millisecond, Data: []byte("a")},
				{FromClient: true, Time: 2 * time.Millisecond, Data: []byte{0xff}},
			},
			EncodingBinary,
		},
		{
			"NegativeTime",
			"var VNC_frame_data = [\n'{-20{a',\n'EOF'];\n",
			ReaderOptions{},
			[]Frame{{Time: -20 * time.Millisecond, Data: []byte("a")}},
			EncodingBinary,
		},
		{
			"NoFrames",
			"var VNC_frame_data = [\n'EOF'];\n",
			ReaderOptions{}, nil, EncodingAuto,
		},
		{
			"TrailerWithoutNewline",
			"var VNC_frame_data = [\n'{1{a',\n'EOF'];",
			ReaderOptions{},
			[]Frame{{Time: time.Millisecond, Data: []byte("a")}},
			EncodingBinary,
		},
		{
			"IgnoresAfterTrailer",
			"var VNC_frame_data = [\n'{1{a',\n'EOF'];\nnot read\x00\xff",
			ReaderOptions{},
			[]Frame{{Time: time.Millisecond, Data: []byte("a")}},
			EncodingBinary,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewReader(strings.NewReader(tt.file), tt.opts)
			got, err := readAll(r)
			if err != io.EOF {
				t.Fatalf("got error %v, want io.EOF", err)
			}
			assertFrames(t, got, tt.want)
			if r.Encoding() != tt.encoding {
				t.Errorf("Encoding() = %v, want %v", r.Encoding(), tt.encoding)
			}
		})
	}
}

// TestReaderTruncated cuts a recording at every byte: the Reader must return
// the frames whose lines are whole, then ErrTruncated, unless the cut leaves
// the whole trailer.
func TestReaderTruncated(t *testing.T) {
	t.Parallel()
	want := []Frame{
		{Time: 1 * time.Millisecond, Data: []byte("RFB 003.008\n")},
		{FromClient: true, Time: 2 * time.Millisecond, Data: []byte(`it's \ "x"`)},
		{Time: 3 * time.Millisecond, Data: []byte{0, 0xff, '\t'}},
		{FromClient: true, Time: 40 * time.Millisecond},
	}
	file := writeAll(t, want)
	trailer := bytes.LastIndex(file, []byte("'EOF']"))
	lineEnds := []int{} // offsets just past each frame's "',"
	for i := range len(file) - 1 {
		if file[i] == ',' && file[i+1] == '\n' {
			lineEnds = append(lineEnds, i+1)
		}
	}
	if len(lineEnds) != len(want) {
		t.Fatalf("found %d frame lines, want %d", len(lineEnds), len(want))
	}
	for cut := range len(file) + 1 {
		frames, err := readAll(NewReader(bytes.NewReader(file[:cut]), ReaderOptions{}))
		if cut >= trailer+len("'EOF']") {
			if err != io.EOF {
				t.Errorf("cut at %d of %d: got error %v, want io.EOF", cut, len(file), err)
			}
			assertFrames(t, frames, want)
			continue
		}
		if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d of %d: got error %v, want ErrTruncated", cut, len(file), err)
		}
		whole := 0
		for _, end := range lineEnds {
			if cut >= end {
				whole++
			}
		}
		assertFrames(t, frames, want[:whole])
	}
}

func TestReaderErrors(t *testing.T) {
	t.Parallel()
	const header = "var VNC_frame_data = [\n"
	tests := []struct {
		name    string
		file    string
		opts    ReaderOptions
		frames  int    // frames returned before the error
		line    int    // SyntaxError.Line; 0 for other errors
		wantErr error  // matched with errors.Is if line is 0
		msg     string // substring of the error message
	}{
		{"ErrTruncatedEmpty", "", ReaderOptions{}, 0, 0, ErrTruncated, "after line 0"},
		{"ErrTruncatedHeaderOnly", header, ReaderOptions{}, 0, 0, ErrTruncated, "after line 1"},
		{"ErrTruncatedMidHeader", "var VNC_fr", ReaderOptions{}, 0, 0, ErrTruncated, "after line 1"},
		{"ErrTruncatedMidEncoding", "var VNC_frame_encoding = 'bin", ReaderOptions{}, 0, 0, ErrTruncated, ""},
		{"ErrTruncatedAfterEncoding", "var VNC_frame_encoding = 'binary';\n", ReaderOptions{}, 0, 0, ErrTruncated, ""},
		{"ErrTruncatedMidEscape", header + "'{1{a',\n'{2{\\x4", ReaderOptions{}, 1, 0, ErrTruncated, "after line 3"},
		{"ErrNotRecording", "<html>\n", ReaderOptions{}, 0, 1, nil, "not a websockify recording"},
		{"ErrNotRecordingNoNewline", "hello", ReaderOptions{}, 0, 1, nil, "not a websockify recording"},
		{"ErrBadEncoding", "var VNC_frame_encoding = 'utf8';\n" + header, ReaderOptions{}, 0, 1, nil, "unknown VNC_frame_encoding"},
		{"ErrEncodingWithoutData", "var VNC_frame_encoding = 'binary';\nvar x = 1;\n", ReaderOptions{}, 0, 2, nil, "not a websockify recording"},
		{"ErrNotString", header + "{1{a},\n", ReaderOptions{}, 0, 2, nil, "want a quoted string"},
		{"ErrNoComma", header + "'{1{a'\n'EOF'];\n", ReaderOptions{}, 0, 2, nil, "at the end of the line"},
		{"ErrMismatchedQuotes", header + "'{1{a\",\n", ReaderOptions{}, 0, 2, nil, "at the end of the line"},
		{"ErrNoDirection", header + "'1{a',\n", ReaderOptions{}, 0, 2, nil, "want { or }"},
		{"ErrNoTime", header + "'{{a',\n", ReaderOptions{}, 0, 2, nil, "want a time"},
		{"ErrMixedDirection", header + "'{1}a',\n", ReaderOptions{}, 0, 2, nil, "want { after the time"},
		{"ErrTimeOverflow", header + "'{99999999999999999999{a',\n", ReaderOptions{}, 0, 2, nil, "time out of range"},
		{"ErrBadEscape", header + "'{1{ok',\n'{2{\\q',\n", ReaderOptions{}, 1, 3, nil, `unsupported escape \q`},
		{"ErrBareQuote", header + "'{1{it's',\n", ReaderOptions{}, 0, 2, nil, "unescaped quote"},
		{"ErrBadBase64", "var VNC_frame_encoding = 'base64';\n" + header + "'{1{U!ZC',\n", ReaderOptions{}, 0, 3, nil, "base64 payload"},
		{"ErrGarbageLastLine", header + "'{1{a',\nxyz", ReaderOptions{}, 1, 3, nil, "want a quoted string"},
		{"ErrLineTooLong", header + "'{1{" + strings.Repeat("a", 100) + "',\n", ReaderOptions{MaxLineSize: 100}, 0, 0, ErrLineTooLong, "line 2"},
		{"ErrHeaderTooLong", header, ReaderOptions{MaxLineSize: 10}, 0, 0, ErrLineTooLong, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewReader(strings.NewReader(tt.file), tt.opts)
			frames, err := readAll(r)
			if len(frames) != tt.frames {
				t.Errorf("got %d frames before the error, want %d", len(frames), tt.frames)
			}
			if tt.line != 0 {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("got %v, want *SyntaxError", err)
				}
				if se.Line != tt.line {
					t.Errorf("got line %d, want %d (%v)", se.Line, tt.line, err)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %q, want it to contain %q", err, tt.msg)
			}
			if _, again := r.Next(); again != err {
				t.Errorf("Next after error: got %v, want the same %v", again, err)
			}
		})
	}
}

func TestReaderLineLimit(t *testing.T) {
	t.Parallel()
	// A line of exactly MaxLineSize bytes is accepted, over several reads
	// of the Reader's buffer.
	data := bytes.Repeat([]byte("x"), 200<<10)
	file := writeAll(t, []Frame{{Data: data}})
	size := len("'{0{',") + len(data)
	got, err := readAll(NewReader(bytes.NewReader(file), ReaderOptions{MaxLineSize: size}))
	if err != io.EOF {
		t.Fatalf("limit %d: got %v, want io.EOF", size, err)
	}
	assertFrames(t, got, []Frame{{Data: data}})

	_, err = readAll(NewReader(bytes.NewReader(file), ReaderOptions{MaxLineSize: size - 1}))
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("limit %d: got %v, want ErrLineTooLong", size-1, err)
	}
}

func TestReaderReadError(t *testing.T) {
	t.Parallel()
	errNet := errors.New("connection reset")
	in := io.MultiReader(strings.NewReader("var VNC_frame_data = [\n'{1{a',\n'{2"), iotest.ErrReader(errNet))
	frames, err := readAll(NewReader(in, ReaderOptions{}))
	if !errors.Is(err, errNet) {
		t.Fatalf("got %v, want %v", err, errNet)
	}
	if len(frames) != 1 {
		t.Errorf("got %d frames, want 1", len(frames))
	}
}

func TestReaderDataIsCallers(t *testing.T) {
	t.Parallel()
	file := writeAll(t, []Frame{{Data: []byte("first")}, {Data: []byte("second")}})
	r := NewReader(bytes.NewReader(file), ReaderOptions{})
	f1, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if string(f1.Data) != "first" {
		t.Errorf("first frame's Data changed to %q by the next Next", f1.Data)
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		want   bool
	}{
		{"var VNC_frame_data = [\n'{1{", true},
		{"var VNC_frame_data = [", true},
		{"var VNC_frame_encoding = 'base64';\n", true},
		{"var VNC_frame_encoding = '", true},
		{"var VNC_frame", false},
		{"", false},
		{"WSREC\x00\x01", false},
		{" var VNC_frame_data = [", false},
	}
	for _, tt := range tests {
		if got := Detect([]byte(tt.prefix)); got != tt.want {
			t.Errorf("Detect(%q) = %v, want %v", tt.prefix, got, tt.want)
		}
	}
}

func TestEncodingString(t *testing.T) {
	t.Parallel()
	for e, want := range map[Encoding]string{
		EncodingAuto: "auto", EncodingBinary: "binary", EncodingBase64: "base64", Encoding(9): "Encoding(9)",
	} {
		if got := e.String(); got != want {
			t.Errorf("Encoding(%d).String() = %q, want %q", int(e), got, want)
		}
	}
}

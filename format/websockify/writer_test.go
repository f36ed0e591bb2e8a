package websockify

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeAll writes frames and closes, failing t on any error.
func writeAll(t testing.TB, frames []Frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for i, f := range frames {
		if err := w.Write(f); err != nil {
			t.Fatalf("Write frame %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

func TestWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		frames []Frame
		want   string
	}{
		{"Empty", nil, "var VNC_frame_data = [\n'EOF'];\n"},
		{
			"RFBHandshake",
			[]Frame{
				{Time: 2 * time.Millisecond, Data: []byte("RFB 003.008\n")},
				{FromClient: true, Time: 4 * time.Millisecond, Data: []byte("RFB 003.008\n")},
				{Time: 4 * time.Millisecond, Data: []byte{1, 1}},
				{FromClient: true, Time: 4 * time.Millisecond, Data: []byte{1}},
			},
			"var VNC_frame_data = [\n" +
				`'{2{RFB 003.008\n',` + "\n" +
				`'}4}RFB 003.008\n',` + "\n" +
				`'{4{\x01\x01',` + "\n" +
				`'}4}\x01',` + "\n" +
				"'EOF'];\n",
		},
		{
			"EmptyPayload",
			[]Frame{{FromClient: true, Time: 0}},
			"var VNC_frame_data = [\n'}0}',\n'EOF'];\n",
		},
		{
			"Quotes",
			[]Frame{{Time: time.Second, Data: []byte(`it's "x" \`)}},
			"var VNC_frame_data = [\n" + `'{1000{it\'s "x" \\',` + "\n'EOF'];\n",
		},
		{
			"TimeTruncatedToMillis",
			[]Frame{{Time: 1999999 * time.Microsecond}},
			"var VNC_frame_data = [\n'{1999{',\n'EOF'];\n",
		},
		{
			"NegativeTime",
			[]Frame{{Time: -5 * time.Millisecond, Data: []byte("a")}},
			"var VNC_frame_data = [\n'{-5{a',\n'EOF'];\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(writeAll(t, tt.frames)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestWriterLargePayload(t *testing.T) {
	t.Parallel()
	// Several chunks and flushes, every byte value, escapes across chunk
	// boundaries.
	data := bytes.Repeat(allBytes(), 1000)
	got := string(writeAll(t, []Frame{{Time: time.Millisecond, Data: data}}))
	want := "var VNC_frame_data = [\n'{1{" + strings.Repeat(allBytesEscaped, 1000) + "',\n'EOF'];\n"
	if got != want {
		t.Errorf("output differs from websockify's escaping (len %d, want %d)", len(got), len(want))
	}
}

func TestWriterClose(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Write(Frame{Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	if err := w.Write(Frame{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: got %v, want ErrClosed", err)
	}
	if got, want := buf.String(), "var VNC_frame_data = [\n'{0{a',\n'EOF'];\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct {
	n   int
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterError(t *testing.T) {
	t.Parallel()
	errDisk := errors.New("disk full")
	w := NewWriter(&failWriter{n: 31, err: errDisk}) // the header and the first line
	if err := w.Write(Frame{Data: []byte("a")}); err != nil {
		t.Fatalf("first Write: %v", err)
	}
	if err := w.Write(Frame{Data: []byte("0123456789")}); !errors.Is(err, errDisk) {
		t.Fatalf("second Write: got %v, want %v", err, errDisk)
	}
	if err := w.Write(Frame{}); !errors.Is(err, errDisk) {
		t.Errorf("Write after error: got %v, want %v", err, errDisk)
	}
	if err := w.Close(); !errors.Is(err, errDisk) {
		t.Errorf("Close after error: got %v, want %v", err, errDisk)
	}
	if err := w.Close(); !errors.Is(err, errDisk) {
		t.Errorf("second Close: got %v, want %v", err, errDisk)
	}
}

// TestWriterMatchesPython runs websockify's own escaping expression over
// random payloads and compares its lines with the Writer's.
func TestWriterMatchesPython(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	frames := randomFrames(rng, 200)

	// The program reads hex payloads, one a line, prefixed with the
	// direction and time, and writes what websockify 0.10.0 would.
	const program = `
import sys
sys.stdout.write("var VNC_frame_data = [\n")
for line in sys.stdin:
    d, ms, hexdata = line.split()
    buf = bytes.fromhex(hexdata[1:])
    bufstr = buf.decode('latin1').encode('unicode_escape').decode('ascii').replace("'", "\\'")
    if d == "{":
        sys.stdout.write("'{{{0}{{{1}',\n".format(ms, bufstr))
    else:
        sys.stdout.write("'}}{0}}}{1}',\n".format(ms, bufstr))
sys.stdout.write("'EOF'];\n")
`
	var in strings.Builder
	for _, f := range frames {
		d := "{"
		if f.FromClient {
			d = "}"
		}
		in.WriteString(d + " " + strconv.FormatInt(f.Time.Milliseconds(), 10) + " x")
		for _, c := range f.Data {
			in.WriteString(string(hexDigits[c>>4]) + string(hexDigits[c&0xf]))
		}
		in.WriteString("\n")
	}
	cmd := exec.CommandContext(t.Context(), python, "-c", program)
	cmd.Stdin = strings.NewReader(in.String())
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	if got := writeAll(t, frames); !bytes.Equal(got, want) {
		t.Errorf("Writer output differs from websockify's expression\ngot  %.300q\nwant %.300q", got, want)
	}
}

package websockify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// noVNCLoader loads a recording the way noVNC's playback page does
// (tests/playback-ui.js: loadFile runs it as a script, enableUI converts
// VNC_frame_data), and prints the frames as JSON. The conversion follows
// enableUI step by step: the encoding comes from VNC_frame_encoding if set,
// else from whether the first frame's data starts with "UkZC"; conversion
// stops at "EOF"; the data starts after the first '{' from index 1; the
// time is parseInt of what lies between; fromClient is whether the frame
// starts with '}'. noVNC only plays the frames from the server, and its
// data offset is wrong for client frames holding no '{', so the script
// also prints each frame's data split at its own delimiter ("exact").
const noVNCLoader = `
const fs = require('fs');
const vm = require('vm');
const ctx = {};
vm.runInNewContext(fs.readFileSync(process.argv[1], 'latin1'), ctx);
const frames = ctx.VNC_frame_data;
let encoding = ctx.VNC_frame_encoding;
if (!encoding) {
    const start = frames[0].indexOf('{', 1) + 1;
    encoding = frames[0].slice(start, start + 4) === 'UkZC' ? 'base64' : 'binary';
}
const hex = (s) => {
    let out = '';
    for (let j = 0; j < s.length; j++) {
        const c = s.charCodeAt(j);
        if (c > 255) throw new Error('char code ' + c);
        out += c.toString(16).padStart(2, '0');
    }
    return out;
};
const out = [];
for (const frame of frames) {
    if (frame === 'EOF') break;
    const dataIdx = frame.indexOf('{', 1) + 1;
    const timestamp = parseInt(frame.slice(1, dataIdx - 1));
    const data = encoding === 'base64'
        ? Buffer.from(frame.slice(dataIdx), 'base64').toString('hex')
        : hex(frame.slice(dataIdx));
    out.push({fromClient: frame[0] === '}', timestamp, encoding, data,
              exact: hex(frame.slice(frame.indexOf(frame[0], 1) + 1))});
}
process.stdout.write(JSON.stringify(out));
`

type noVNCFrame struct {
	FromClient bool   `json:"fromClient"`
	Timestamp  int64  `json:"timestamp"`
	Encoding   string `json:"encoding"`
	Data       string `json:"data"`
	Exact      string `json:"exact"`
}

// TestNoVNCParse checks that noVNC's playback loader, run by Node, reads
// the Writer's output, the websockify fixture and the older forms as the
// same frames as the Reader does.
func TestNoVNCParse(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found")
	}
	fixture, err := os.ReadFile(fixtureRecording)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	random := randomFrames(rng, 100)
	random[0] = Frame{Data: []byte("RFB 003.008\n")} // noVNC guesses from the first frame
	tests := []struct {
		name     string
		file     []byte
		encoding string
	}{
		{"Writer", writeAll(t, random), "binary"},
		{"Fixture", fixture, "binary"},
		{
			"Python2Repr0.9",
			[]byte("var VNC_frame_encoding = 'binary';\nvar VNC_frame_data = [\n'{0{RFB 003.008\\n',\n\"}12}it's\\n\",\n'}13}\\' \" \\\\ \\xfF',\n'EOF'];\n"),
			"binary",
		},
		{
			"Base64_0.9",
			[]byte("var VNC_frame_encoding = 'base64';\nvar VNC_frame_data = [\n'{0{UkZCIDAwMy4wMDgK',\n'}5}UkZCIDAwMy4wMDgK',\n'{7{AQE=',\n'EOF'];\n"),
			"base64",
		},
		{
			"Base64_0.2",
			[]byte("var VNC_frame_data = [\n'{0{UkZCIDAwMy4wMDgK',\n'}5}UkZCIDAwMy4wMDgK',\n'{7{AQE=',\n'EOF']\n"),
			"base64",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, err := readAll(NewReader(bytes.NewReader(tt.file), ReaderOptions{}))
			if err != io.EOF {
				t.Fatalf("Reader: got %v, want io.EOF", err)
			}
			path := filepath.Join(t.TempDir(), "recording.js")
			if err := os.WriteFile(path, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(t.Context(), node, "-e", noVNCLoader, path)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, stderr.Bytes())
			}
			var got []noVNCFrame
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("node output: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("noVNC read %d frames, want %d", len(got), len(want))
			}
			for i, g := range got {
				w := want[i]
				wantHex := hex.EncodeToString(w.Data)
				switch {
				case g.Encoding != tt.encoding:
					t.Fatalf("frame %d: noVNC used encoding %q, want %s", i, g.Encoding, tt.encoding)
				case g.FromClient != w.FromClient:
					t.Errorf("frame %d: noVNC fromClient %v, want %v", i, g.FromClient, w.FromClient)
				case time.Duration(g.Timestamp)*time.Millisecond != w.Time:
					t.Errorf("frame %d: noVNC timestamp %d, want %v", i, g.Timestamp, w.Time)
				case g.Encoding == "binary" && g.Exact != wantHex:
					t.Errorf("frame %d: JavaScript string holds %.80s, want %.80s", i, g.Exact, wantHex)
				case !w.FromClient && g.Data != wantHex:
					t.Errorf("frame %d: noVNC data %.80s, want %.80s", i, g.Data, wantHex)
				}
			}
		})
	}
}

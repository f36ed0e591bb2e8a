package recfile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/websockify"
)

// A websockify recording whose writer was killed: no 'EOF'] trailer.
const killed = `var VNC_frame_data = [
'{2{RFB 003.008\n',
'}4}RFB 003.008\n',
'{4{\x01\x01',
`

func Example() {
	// recfile.Open(name, ...) in real use.
	f, err := recfile.New(strings.NewReader(killed), int64(len(killed)), recfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Println("format:", f.Format())
	for {
		rec, err := f.Next()
		if err == io.EOF {
			break
		}
		if inc, ok := errors.AsType[*recfile.IncompleteError](err); ok {
			fmt.Printf("ends early at offset %d, %d bytes lost\n", inc.Offset, inc.Lost)
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%v %s %q\n", rec.Time, rec.Dir, rec.Payload)
	}
	// Output:
	// format: websockify
	// 2ms target "RFB 003.008\n"
	// 4ms client "RFB 003.008\n"
	// 4ms target "\x01\x01"
	// ends early at offset 78, 0 bytes lost
}

func ExampleImport() {
	const recording = "var VNC_frame_data = [\n'{2{RFB 003.008\\n',\n'}1}RFB 003.008\\n',\n'EOF'];\n"
	src, err := recfile.New(strings.NewReader(recording), int64(len(recording)), recfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	var wsrec bytes.Buffer // an *os.File in real use
	w, err := format.NewWriter(&wsrec, format.Header{
		Meta: map[string]string{format.MetaSource: "websockify recording rec.1"},
	}, format.WriterOptions{})
	if err != nil {
		log.Fatal(err)
	}
	st, err := recfile.Import(context.Background(), w, src)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil { // seals the import
		log.Fatal(err)
	}
	fmt.Printf("records: %d, clamped: %d\n", st.Records, st.Clamped)

	// And back: the same file, byte for byte.
	imported, err := recfile.New(bytes.NewReader(wsrec.Bytes()), int64(wsrec.Len()), recfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer imported.Close()
	var out strings.Builder
	ws := websockify.NewWriter(&out)
	if _, err := recfile.Export(context.Background(), ws, imported); err != nil {
		log.Fatal(err)
	}
	if err := ws.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.String() == recording)
	fmt.Print(out.String())
	// Output:
	// records: 3, clamped: 1
	// true
	// var VNC_frame_data = [
	// '{2{RFB 003.008\n',
	// '}1}RFB 003.008\n',
	// 'EOF'];
}

func ExampleSummarize() {
	// recfile.Open(name, ...) in real use.
	f, err := recfile.New(strings.NewReader(killed), int64(len(killed)), recfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s, err := recfile.Summarize(context.Background(), f, recfile.SummaryOptions{})
	if err != nil {
		log.Fatal(err) // only when the context ends
	}
	fmt.Printf("%s %s: %d messages from the client, %d from the target, over %v\n",
		s.Format, s.Status, s.ClientMessages, s.TargetMessages, s.Duration)
	fmt.Println("whole:", s.Status.Whole(), "clean:", s.Status.Clean())
	fmt.Println(s.Err)
	// Output:
	// websockify incomplete: 1 messages from the client, 2 from the target, over 4ms
	// whole: false clean: true
	// recfile: websockify recording without its 'EOF'] trailer: it ends at offset 78
}

func ExampleStatusOf() {
	_, err := recfile.New(strings.NewReader("hello\n"), 6, recfile.Options{})
	fmt.Println(recfile.StatusOf(recfile.Unknown, err))
	fmt.Println(recfile.StatusOf(recfile.WSRec, io.EOF))
	// Output:
	// unreadable
	// sealed
}

func ExampleFilter() {
	const rec = `var VNC_frame_data = [
'{2{RFB 003.008\n',
'}4}RFB 003.008\n',
'{5{\x01\x01',
'}6}\x01',
'EOF'];
`
	f, err := recfile.New(strings.NewReader(rec), int64(len(rec)), recfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	// The client's messages from 3 ms on: frames --dir client --from 3ms.
	flt := recfile.Filter{From: 3 * time.Millisecond, Dir: new(format.ClientToTarget)}
	if _, err := flt.Seek(f); err != nil {
		log.Fatal(err)
	}
	for {
		r, err := f.Next()
		if err == io.EOF || err == nil && flt.Past(&r) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if flt.Match(&r) {
			fmt.Printf("%v %q\n", r.Time, r.Payload)
		}
	}
	// Output:
	// 4ms "RFB 003.008\n"
	// 6ms "\x01"
}

package websockify_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/format/websockify"
)

func ExampleWriter() {
	w := websockify.NewWriter(os.Stdout)
	frames := []websockify.Frame{
		{Time: 2 * time.Millisecond, Data: []byte("RFB 003.008\n")},
		{FromClient: true, Time: 4 * time.Millisecond, Data: []byte("RFB 003.008\n")},
		{Time: 4 * time.Millisecond, Data: []byte{1, 1}},
	}
	for _, f := range frames {
		if err := w.Write(f); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// var VNC_frame_data = [
	// '{2{RFB 003.008\n',
	// '}4}RFB 003.008\n',
	// '{4{\x01\x01',
	// 'EOF'];
}

func ExampleReader() {
	const recording = `var VNC_frame_data = [
'{2{RFB 003.008\n',
'}4}RFB 003.008\n',
'{4{\x01\x01',
'EOF'];
`
	r := websockify.NewReader(strings.NewReader(recording), websockify.ReaderOptions{})
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, websockify.ErrTruncated) {
			fmt.Println("websockify did not finish the recording")
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%6v fromClient=%-5v %q\n", f.Time, f.FromClient, f.Data)
	}
	// Output:
	//    2ms fromClient=false "RFB 003.008\n"
	//    4ms fromClient=true  "RFB 003.008\n"
	//    4ms fromClient=false "\x01\x01"
}

func ExampleDetect() {
	f, err := os.Open("../../testdata/recordings/websockify-vnc-session.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	prefix := make([]byte, 64)
	n, _ := io.ReadFull(f, prefix)
	fmt.Println(websockify.Detect(prefix[:n]))
	// Output: true
}

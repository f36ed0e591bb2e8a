package rfbfile_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/format/rfb/rfbfile"
)

func ExampleDecode() {
	// A websockify recording of the start of an RFB handshake; the
	// server's frames are the lines that start with '{'.
	const rec = `var VNC_frame_data = [
'{2{RFB 003.008\n',
'}4}RFB 003.008\n',
'{5{\x01\x01',
'}6}\x01',
'EOF'];
`
	// recfile.Open(name, ...) in real use.
	f, err := recfile.New(strings.NewReader(rec), int64(len(rec)), recfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	res, err := rfbfile.Decode(context.Background(), f, rfbfile.Options{}, func(e rfb.Event, _ func() rfb.Session) {
		fmt.Println(e) // or to an rfb.KeyTracker, a timeline, a screen
	})
	if errors.Is(err, rfbfile.ErrNotRFB) {
		log.Fatal("not a VNC session: ", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("security:", res.Session.Security)
	// Output:
	// 0.002s server version 3.8
	// 0.004s client version 3.8
	// 0.005s server security-types None
	// 0.006s client security None
	// security: None
}

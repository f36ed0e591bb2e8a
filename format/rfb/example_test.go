package rfb_test

import (
	"fmt"
	"io"
	"log"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb"
)

func Example() {
	const (
		client = format.ClientToTarget
		server = format.TargetToClient
	)
	key := func(down byte, keysym byte) []byte { return []byte{4, down, 0, 0, 0, 0, 0, keysym} }
	records := []struct {
		dir format.Direction
		p   []byte
	}{
		{server, []byte("RFB 003.008\n")},
		{client, []byte("RFB 003.008\n")},
		{server, []byte{1, 1}},    // one security type: None
		{client, []byte{1}},       // None
		{server, []byte{0, 0, 0}}, // SecurityResult, split across records
		{server, []byte{0}},
		{client, []byte{1}}, // ClientInit: shared
		{server, append([]byte{1, 64, 0, 240, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0, 0, 0, 0, 4}, "demo"...)},
		{client, append(append(key(1, 'h'), key(0, 'h')...), key(1, 'i')...)}, // several messages in one record
		{client, append(key(0, 'i'), 4, 1, 0, 0, 0, 0, 0xff, 0x0d)},           // Return
	}
	d := rfb.NewDecoder(rfb.DecoderOptions{})
	var keys rfb.KeyTracker
	for i, r := range records {
		err := d.Feed(r.dir, time.Duration(i)*time.Millisecond, r.p, func(e rfb.Event) {
			fmt.Println(e)
			if line, ok := keys.Add(e); ok {
				fmt.Printf("typed %q\n", line.Text)
			}
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// 0.000s server version 3.8
	// 0.001s client version 3.8
	// 0.002s server security-types None
	// 0.003s client security None
	// 0.005s server security-result ok
	// 0.006s client client-init shared
	// 0.007s server server-init 320x240 "demo" 32bpp depth 24 little-endian true-colour r255<<16 g255<<8 b255<<0
	// 0.008s client key down h
	// 0.008s client key up h
	// 0.008s client key down i
	// 0.009s client key up i
	// 0.009s client key down Return
	// typed "hi"
}

// ExampleDecoder_FeedRecord decodes a recording made with TigerVNC's Xvnc.
func ExampleDecoder_FeedRecord() {
	r, err := format.Open("../../testdata/rfb/xvnc-vncauth-ok.wsrec", format.ReaderOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	d := rfb.NewDecoder(rfb.DecoderOptions{})
	var keys rfb.KeyTracker
	updates := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		err = d.FeedRecord(rec, func(e rfb.Event) {
			switch e.Kind {
			case rfb.KindUpdate:
				updates++
			case rfb.KindAuth, rfb.KindSecurityResult, rfb.KindServerInit:
				fmt.Println(e.Summary())
			}
			keys.Add(e)
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	s := d.Session()
	fmt.Printf("%s %q %dx%d, auth %s, %d updates or more\n", s.Security, s.Name, s.Width, s.Height, s.Auth, min(updates, 2))
	if line, ok := keys.Flush(); ok {
		fmt.Printf("typed %q\n", line.Text)
	}
	// Output:
	// auth VNC authentication challenge
	// auth VNC authentication response
	// security-result ok
	// server-init 320x240 "wsproxy-test" 32bpp depth 24 little-endian true-colour r255<<16 g255<<8 b255<<0
	// VNCAuth "wsproxy-test" 320x240, auth ok, 2 updates or more
	// typed "x"
}

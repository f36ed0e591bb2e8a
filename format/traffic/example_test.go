package traffic_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/traffic"
)

func ExampleRead() {
	const rec = `var VNC_frame_data = [
'{2{RFB 003.008\n',
'}4}RFB 003.008\n',
'{250{\x01\x01',
'}700}\x00\x00\x00\x00',
'EOF'];
`
	// recfile.Open(name, ...) in real use.
	f, err := recfile.New(strings.NewReader(rec), int64(len(rec)), recfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s, err := traffic.Read(context.Background(), f, traffic.Options{Slots: 4})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v in slots of %v\n", s.Duration, s.Slot)
	fmt.Println("client bytes per slot:", s.Client.Throughput)
	fmt.Println("target bytes per slot:", s.Target.Throughput)
	for _, c := range s.Target.Sizes {
		fmt.Printf("target: %d messages of %d to %d bytes\n", c.Count, c.Min, c.Max)
	}
	// Output:
	// 700ms in slots of 200ms
	// client bytes per slot: [12 0 0 4]
	// target bytes per slot: [12 2 0 0]
	// target: 1 messages of 2 to 3 bytes
	// target: 1 messages of 8 to 15 bytes
}

package format_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

func Example() {
	var file bytes.Buffer // an *os.File in real use

	w, err := format.NewWriter(&file, format.Header{
		Meta: map[string]string{format.MetaTarget: "localhost:5900"},
	}, format.WriterOptions{})
	if err != nil {
		log.Fatal(err)
	}
	w.Write(format.Record{Kind: format.KindOpen})
	w.WriteMessage(2*time.Millisecond, format.TargetToClient, format.Binary, []byte("RFB 003.008\n"))
	w.WriteMessage(5*time.Millisecond, format.ClientToTarget, format.Binary, []byte("RFB 003.008\n"))
	w.WriteMarker(6*time.Millisecond, "handshake done")
	if err := w.Close(); err != nil { // seals the recording
		log.Fatal(err)
	}

	r, err := format.NewReader(bytes.NewReader(file.Bytes()), int64(file.Len()), format.ReaderOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println("target:", r.Header().Meta[format.MetaTarget])
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		switch rec.Kind {
		case format.KindMessage:
			fmt.Printf("%v %s %q\n", rec.Time, rec.Dir, rec.Payload)
		case format.KindMarker:
			fmt.Printf("%v marker %q\n", rec.Time, rec.Label)
		default:
			fmt.Printf("%v %s\n", rec.Time, rec.Kind)
		}
	}
	v, err := r.Verify(format.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verify:", v.Status)
	// Output:
	// target: localhost:5900
	// 0s open
	// 2ms target "RFB 003.008\n"
	// 5ms client "RFB 003.008\n"
	// 6ms marker "handshake done"
	// verify: valid
}

func ExampleParseSigningKey() {
	// A file that openssl genpkey -algorithm ed25519 writes;
	// wsproxy's --record-sign-key names one.
	const signer = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH
-----END PRIVATE KEY-----
`
	key, err := format.ParseSigningKey([]byte(signer))
	if err != nil {
		log.Fatal(err)
	}
	var file bytes.Buffer
	w, err := format.NewWriter(&file, format.Header{}, format.WriterOptions{SignKey: key})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	// The public key, as openssl pkey -pubout writes it.
	const trusted = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=
-----END PUBLIC KEY-----
`
	pub, err := format.ParseVerifyKey([]byte(trusted))
	if err != nil {
		log.Fatal(err)
	}
	r, err := format.NewReader(bytes.NewReader(file.Bytes()), int64(file.Len()), format.ReaderOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	v, err := r.Verify(format.VerifyOptions{PublicKey: pub})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Status, "trusted:", v.Trusted)
	// Output:
	// valid trusted: true
}

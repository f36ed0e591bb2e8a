package upload_test

import (
	"context"
	"log"

	"github.com/wsproxy/wsproxy/internal/objstore"
	"github.com/wsproxy/wsproxy/record"
	"github.com/wsproxy/wsproxy/record/upload"
)

// An Uploader is the spool of a Recorder: started before the first
// session, closed after the Recorder.
func Example() {
	ctx := context.Background()
	st, err := objstore.New(ctx, objstore.Config{Endpoint: "https://minio.example:9000", PathStyle: true}, "recordings")
	if err != nil {
		log.Fatal(err)
	}
	up, err := upload.New(upload.Options{Store: st, Prefix: "fleet/", Dir: "/var/spool/wsproxy", MaxSpool: 20 << 30})
	if err != nil {
		log.Fatal(err)
	}
	if err := up.Start(ctx); err != nil { // checks the bucket and credentials
		log.Fatal(err)
	}
	rec, err := record.New(record.Options{Dir: "/var/spool/wsproxy", Spool: up})
	if err != nil {
		log.Fatal(err)
	}
	// ... rec.Start(header) for each session ...
	rec.Close()
	if err := up.Close(ctx); err != nil {
		log.Print(err) // sent at the next start
	}
}

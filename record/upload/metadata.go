package upload

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/format/recfile"
)

// Metadata keys of a stored recording (S3 user metadata, sent as
// x-amz-meta-KEY headers). A value outside printable ASCII, or a "%", is
// percent-encoded (RFC 3986): metadata travels in HTTP headers. The
// recording's metadata keys that an encrypted recording hides are not
// stored.
const (
	MetaFormat   = "format"      // "wsrec" or "websockify"
	MetaSession  = "session"     // the session ID, hex
	MetaStart    = "start"       // the wall-clock start, RFC 3339 with nanoseconds
	MetaPart     = "part"        // the part number, from 0
	MetaStatus   = "status"      // how it ends, as recfile.Status says: sealed, unsealed, complete, incomplete…; "recording" while it runs
	MetaDuration = "duration-ns" // the time of its last record, in ns
)

// headerKeys are the recording's metadata keys that are stored, with
// their names as object metadata.
var headerKeys = map[string]string{
	"user": "user", "client": "client", "real_client": "real-client", "target": "target",
	"token": "token", "listen": "listen", "hostname": "hostname", "program": "program",
}

// maxMetaValue bounds one stored value (S3 allows 2 KiB of metadata in
// all); a longer one is cut and ends with "...".
const maxMetaValue = 256

// metadata reads the header of the recording in the first size bytes of
// osf, and, when final, how it ends, as object metadata. A size of zero
// means the file as it is now, still being written.
func metadata(osf *os.File, size int64) (map[string]string, error) {
	final := size > 0
	if !final {
		fi, err := osf.Stat()
		if err != nil {
			return nil, err
		}
		size = fi.Size()
	}
	m := map[string]string{}
	f, err := recfile.New(osf, size, recfile.Options{})
	if err != nil {
		if final {
			m[MetaStatus] = recfile.StatusOf(recfile.Unknown, err).String()
		}
		return m, err
	}
	defer f.Close()
	m[MetaFormat] = f.Format().String()
	if f.Format() == recfile.WSRec {
		h := f.Header()
		m[MetaSession] = h.SessionID.String()
		m[MetaStart] = h.Start.UTC().Format(time.RFC3339Nano)
		m[MetaPart] = strconv.FormatUint(uint64(h.Part), 10)
		for k, name := range headerKeys {
			if v, ok := h.Meta[k]; ok {
				m[name] = metaValue(v)
			}
		}
	}
	if !final {
		m[MetaStatus] = "recording"
		return m, nil
	}
	s, err := recfile.Summarize(context.Background(), f, recfile.SummaryOptions{})
	if err != nil {
		return m, err
	}
	m[MetaStatus] = s.Status.String()
	m[MetaDuration] = strconv.FormatInt(int64(s.Duration), 10)
	return m, nil
}

// metaValue percent-encodes what HTTP headers cannot carry, and cuts a
// long value.
func metaValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
		} else {
			b.WriteByte(c)
		}
		if b.Len() >= maxMetaValue {
			return b.String() + "..."
		}
	}
	return b.String()
}

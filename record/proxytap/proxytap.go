package proxytap

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
)

// Options are the parts of each recording's header that come from the
// program rather than from the session. The zero value leaves them out.
type Options struct {
	// Program is the recording program and its version
	// (format.MetaProgram); "" leaves it out.
	Program string
	// Hostname is the machine's name (format.MetaHostname); "" leaves it
	// out.
	Hostname string
}

// New returns a tap factory for proxy.ServerOptions.NewTap that records
// each session with rec. The factory is safe for concurrent use; the
// error it returns is record.Recorder.Start's, which under the strict
// policy refuses the session.
func New(rec *record.Recorder, opts Options) func(context.Context, *proxy.SessionInfo) (proxy.Tap, error) {
	return func(_ context.Context, info *proxy.SessionInfo) (proxy.Tap, error) {
		s, err := rec.Start(Header(info, opts))
		if err != nil {
			return nil, err
		}
		return &tap{s: s}, nil
	}
}

// Header is the recording header for a proxied session: its ID, start and
// the metadata keys of format/SPEC.md that the session and opts give. A
// real client address is kept only when it differs from the peer's.
func Header(info *proxy.SessionInfo, opts Options) format.Header {
	meta := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			meta[k] = v
		}
	}
	if info.LocalAddr != nil {
		set(format.MetaListen, info.LocalAddr.String())
	}
	client := ""
	if info.RemoteAddr != nil {
		client = info.RemoteAddr.String()
	}
	set(format.MetaClient, client)
	if info.ClientAddr != client {
		set(format.MetaRealClient, info.ClientAddr)
	}
	set(format.MetaTarget, info.Target)
	set(format.MetaToken, info.Token)
	set(format.MetaUser, info.User)
	if t := info.TLS; t != nil {
		set(format.MetaTLSVersion, tls.VersionName(t.Version))
		set(format.MetaTLSCipher, tls.CipherSuiteName(t.CipherSuite))
		set(format.MetaTLSClientSubject, t.ClientSubject)
	}
	set(format.MetaSubprotocol, info.Subprotocol)
	set(format.MetaOrigin, info.Origin)
	set(format.MetaUserAgent, info.UserAgent)
	set(format.MetaPath, info.Path)
	set(format.MetaProgram, opts.Program)
	set(format.MetaHostname, opts.Hostname)
	return format.Header{SessionID: format.SessionID(info.ID), Start: info.Start, Meta: meta}
}

// tap adapts a recording session to the proxy's DeliveryTap. A
// target→client message is recorded once it was written to the client, so
// that the recording lists what the close record's byte count counts
// (format/SPEC.md, "Records"); Frame only checks, before it is sent, that
// the recording has not failed, so that under the strict policy nothing
// is sent once it has. A client→target message is recorded when the proxy
// has it, before it is forwarded.
type tap struct {
	s *record.Session

	// The target→client message shown to Frame and not yet delivered;
	// out is valid until Delivered.
	out    []byte
	outTyp format.MessageType
	outAt  time.Duration
}

func (t *tap) Frame(dir proxy.Direction, typ proxy.MessageType, at time.Duration, payload []byte) error {
	mt := format.Binary
	if typ == proxy.MessageText {
		mt = format.Text
	}
	if dir == proxy.TargetToClient {
		if err := t.s.Err(); err != nil {
			return err
		}
		t.out, t.outTyp, t.outAt = payload, mt, at
		return nil
	}
	return t.s.Frame(format.ClientToTarget, mt, at, payload)
}

func (t *tap) Delivered() error {
	p := t.out
	t.out = nil
	return t.s.Frame(format.TargetToClient, t.outTyp, t.outAt, p)
}

func (t *tap) Close(ci proxy.CloseInfo) error {
	t.out = nil // never sent: not recorded
	by := format.ClosedByUnknown
	switch ci.By {
	case proxy.SideClient:
		by = format.ClosedByClient
	case proxy.SideTarget:
		by = format.ClosedByTarget
	case proxy.SideProxy:
		by = format.ClosedByProxy
	}
	return t.s.Close(ci.Duration, format.CloseInfo{
		By: by, Code: uint16(ci.Code), Reason: ci.Reason,
		ClientBytes: uint64(ci.ToTarget), TargetBytes: uint64(ci.ToClient),
	})
}

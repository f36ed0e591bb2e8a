package proxytap_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
	"github.com/wsproxy/wsproxy/record/proxytap"
)

// recordings lists the files under dir.
func recordings(t testing.TB, dir string) []string { return rfbtest.Files(t, dir) }

// readRecording returns the records of a wsrec file and whether it is
// sealed.
func readRecording(t testing.TB, name string) (format.Header, []format.Record, bool) {
	return rfbtest.Open(t, name)
}

func TestHeader(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6080}
	peer := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 40000}
	tests := []struct {
		name string
		info proxy.SessionInfo
		opts proxytap.Options
		want map[string]string
	}{
		{"Empty", proxy.SessionInfo{}, proxytap.Options{}, map[string]string{}},
		{
			"Direct",
			proxy.SessionInfo{LocalAddr: local, RemoteAddr: peer, ClientAddr: peer.String(), Target: "vnc:5900", User: "ann", Path: "/websockify"},
			proxytap.Options{Program: "wsproxy 1.0", Hostname: "node1"},
			map[string]string{
				format.MetaListen: "127.0.0.1:6080", format.MetaClient: "10.0.0.2:40000", format.MetaTarget: "vnc:5900",
				format.MetaUser: "ann", format.MetaPath: "/websockify", format.MetaProgram: "wsproxy 1.0", format.MetaHostname: "node1",
			},
		},
		{
			"RealClientAndTLS",
			proxy.SessionInfo{RemoteAddr: peer, ClientAddr: "203.0.113.9", Token: "t1",
				TLS: &proxy.TLSInfo{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, ClientSubject: "CN=ann"}},
			proxytap.Options{},
			map[string]string{
				format.MetaClient: "10.0.0.2:40000", format.MetaRealClient: "203.0.113.9", format.MetaToken: "t1",
				format.MetaTLSVersion: "TLS 1.3", format.MetaTLSCipher: "TLS_AES_128_GCM_SHA256", format.MetaTLSClientSubject: "CN=ann",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.info.ID, tt.info.Start = proxy.SessionID{1, 2, 3, 15: 16}, start
			h := proxytap.Header(&tt.info, tt.opts)
			if fmt.Sprint(h.Meta) != fmt.Sprint(tt.want) {
				t.Errorf("Meta: got %v, want %v", h.Meta, tt.want)
			}
			if !h.Start.Equal(start) || h.SessionID != format.SessionID(tt.info.ID) {
				t.Errorf("got start %v, session %q", h.Start, h.SessionID)
			}
		})
	}
}

// TestTapDelivered: the recording tap records a target→client message when
// the proxy says it was delivered, drops one that never was, and refuses
// one once the recording cannot take it, before it is sent.
func TestTapDelivered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec, err := record.New(record.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	tp, err := proxytap.New(rec, proxytap.Options{})(context.Background(), &proxy.SessionInfo{})
	if err != nil {
		t.Fatal(err)
	}
	d := tp.(proxy.DeliveryTap)
	steps := []func() error{
		func() error { return d.Frame(proxy.ClientToTarget, proxy.MessageBinary, 1, []byte("up")) },
		func() error { return d.Frame(proxy.TargetToClient, proxy.MessageBinary, 2, []byte("sent")) },
		d.Delivered,
		func() error { return d.Frame(proxy.TargetToClient, proxy.MessageBinary, 3, []byte("lost")) },
		func() error {
			return d.Close(proxy.CloseInfo{By: proxy.SideClient, Code: 1006, ToTarget: 2, ToClient: 4})
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := d.Frame(proxy.TargetToClient, proxy.MessageBinary, 4, []byte("late")); !errors.Is(err, record.ErrSessionClosed) {
		t.Errorf("Frame after Close: %v, want ErrSessionClosed", err)
	}
	_, recs, _ := readRecording(t, recordings(t, dir)[0])
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%v %v %s", r.Kind, r.Dir, r.Payload))
	}
	want := []string{
		fmt.Sprintf("%v %v ", format.KindOpen, format.Direction(0)),
		fmt.Sprintf("%v %v up", format.KindMessage, format.ClientToTarget),
		fmt.Sprintf("%v %v sent", format.KindMessage, format.TargetToClient),
		fmt.Sprintf("%v %v ", format.KindClose, format.Direction(0)),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

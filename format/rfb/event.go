package rfb

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// Kind says what an Event reports. Its value is a short lowercase word,
// stable for JSON consumers.
type Kind string

// Event kinds. The comment names the fields each kind sets besides Time,
// Dir, Offset and Kind.
const (
	// Handshake (RFC 6143 §7.1, §7.2, §7.3).
	KindVersion        Kind = "version"         // Text: "3.8"; "3.889" and "4.1" as given
	KindSecurityTypes  Kind = "security-types"  // Offered; Text for Tight capability lists
	KindSecurity       Kind = "security"        // Security: the chosen type (by the server in 3.3)
	KindAuth           Kind = "auth"            // Text: what happened; User for credentials sent in the clear
	KindSecurityResult Kind = "security-result" // OK; Text: the failure reason; Code: its status
	KindEncrypted      Kind = "encrypted"       // Security; Text. Decoding of both directions stops.
	KindClientInit     Kind = "client-init"     // Shared
	KindServerInit     Kind = "server-init"     // Width, Height, PixelFormat, Text: desktop name

	// Client to server (RFC 6143 §7.5 and extensions).
	KindSetPixelFormat    Kind = "set-pixel-format"   // PixelFormat
	KindSetEncodings      Kind = "set-encodings"      // Encodings
	KindUpdateRequest     Kind = "update-request"     // Incremental, X, Y, Width, Height
	KindKey               Kind = "key"                // Key, Down; Keycode for a QEMU extended key event
	KindPointer           Kind = "pointer"            // X, Y, Buttons, Pressed, Released
	KindClientCutText     Kind = "client-cut-text"    // Text; Extended, Actions, Formats
	KindContinuousUpdates Kind = "continuous-updates" // Enable, X, Y, Width, Height
	KindSetDesktopSize    Kind = "set-desktop-size"   // Width, Height, Screens
	KindAudio             Kind = "audio"              // Code: QEMU audio operation; Bytes (either direction)

	// Server to client (RFC 6143 §7.6 and extensions).
	KindUpdate                 Kind = "update"          // Rects, Bytes
	KindResize                 Kind = "resize"          // Width, Height, Encoding; Reason, Status, Screens (ExtendedDesktopSize); PixelFormat (VMware)
	KindDesktopName            Kind = "desktop-name"    // Text
	KindLEDState               Kind = "led-state"       // Flags: bit 0 Scroll, 1 Num, 2 Caps Lock; Encoding
	KindColourMap              Kind = "colour-map"      // First, Count, Bytes
	KindBell                   Kind = "bell"            //
	KindServerCutText          Kind = "server-cut-text" // Text; Extended, Actions, Formats
	KindEndOfContinuousUpdates Kind = "end-of-continuous-updates"

	// Either direction.
	KindFence Kind = "fence" // Flags, Data
	KindXVP   Kind = "xvp"   // Code: the xvp message code; Text: its name
	KindGII   Kind = "gii"   // Code: sub-type; Bytes

	// KindStop reports that decoding of one direction (Dir), or of both,
	// stopped: an unknown message or encoding, a malformed message, a gap
	// in the recording or a stream that ended mid-message. Text says why.
	KindStop Kind = "stop"
)

// Event is one thing that happened in an RFB session: a handshake step or
// a message, in either direction. Which fields are set depends on Kind (see
// the Kind constants); the others are zero. Events are plain values, safe
// to keep and to share.
type Event struct {
	// Time is the time of the record that completed the message.
	Time time.Duration `json:"time"`
	// Dir is the direction the message travelled: format.ClientToTarget
	// for the VNC client's messages, format.TargetToClient for the
	// server's. In JSON it is "client" or "server".
	Dir format.Direction `json:"dir"`
	// Offset is the position of the message's first byte in its
	// direction's byte stream (for the events of a FramebufferUpdate's
	// rectangles, of the update's first byte).
	Offset int64 `json:"offset"`
	Kind   Kind  `json:"kind"`

	Text string `json:"text,omitempty"`
	// Truncated is set when Text (clipboard text, a desktop name, a reason)
	// was longer than DecoderOptions.MaxText and was cut there.
	Truncated bool `json:"truncated,omitempty"`

	Security SecurityType   `json:"security,omitempty"`
	Offered  []SecurityType `json:"offered,omitempty"`
	OK       bool           `json:"ok,omitempty"`
	User     string         `json:"user,omitempty"`
	Shared   bool           `json:"shared,omitempty"`

	X           int          `json:"x,omitempty"`
	Y           int          `json:"y,omitempty"`
	Width       int          `json:"width,omitempty"`
	Height      int          `json:"height,omitempty"`
	Incremental bool         `json:"incremental,omitempty"`
	Enable      bool         `json:"enable,omitempty"`
	PixelFormat *PixelFormat `json:"pixelFormat,omitempty"`
	Encodings   []Encoding   `json:"encodings,omitempty"`
	Encoding    Encoding     `json:"encoding,omitempty"`

	Key     Keysym `json:"key,omitempty"`
	Down    bool   `json:"down,omitempty"`
	Keycode uint32 `json:"keycode,omitempty"`

	Buttons  Buttons `json:"buttons,omitempty"`
	Pressed  Buttons `json:"pressed,omitempty"`
	Released Buttons `json:"released,omitempty"`

	Extended bool     `json:"extended,omitempty"`
	Actions  []string `json:"actions,omitempty"`
	Formats  []string `json:"formats,omitempty"`

	Rects   []Rect   `json:"rects,omitempty"`
	Bytes   int64    `json:"bytes,omitempty"`
	Screens []Screen `json:"screens,omitempty"`
	Reason  int      `json:"reason,omitempty"`
	Status  int      `json:"status,omitempty"`
	Flags   uint32   `json:"flags,omitempty"`
	Data    []byte   `json:"data,omitempty"`
	Code    int      `json:"code,omitempty"`
	First   int      `json:"first,omitempty"`
	Count   int      `json:"count,omitempty"`
}

// side names the RFB role of a direction.
func side(d format.Direction) string {
	switch d {
	case format.ClientToTarget:
		return "client"
	case format.TargetToClient:
		return "server"
	}
	return d.String()
}

// MarshalJSON writes the event with Dir as "client" or "server" and, for a
// key event, the keysym's name beside its number.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	var keyName string
	if e.Kind == KindKey {
		keyName = e.Key.Name()
	}
	return json.Marshal(struct {
		Dir     string `json:"dir"`
		KeyName string `json:"keyName,omitempty"`
		plain
	}{side(e.Dir), keyName, plain(e)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var v struct {
		Dir string `json:"dir"`
		plain
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = Event(v.plain)
	switch v.Dir {
	case "client":
		e.Dir = format.ClientToTarget
	case "server":
		e.Dir = format.TargetToClient
	default:
		return fmt.Errorf("rfb: event direction %q", v.Dir)
	}
	return nil
}

// String formats the event as one line of a human timeline:
//
//	12.345s client key down a
//	12.400s client pointer 120,48 press left
//	13.002s server update 3 rects 18.4 KiB: Tight 0,0 320x240 (18.2 KiB), ...
func (e Event) String() string {
	return fmt.Sprintf("%.3fs %s %s", e.Time.Seconds(), side(e.Dir), e.Summary())
}

// Summary is String without the time and direction: the kind and its
// details.
func (e Event) Summary() string {
	var b strings.Builder
	b.WriteString(string(e.Kind))
	add := func(format string, args ...any) {
		b.WriteByte(' ')
		fmt.Fprintf(&b, format, args...)
	}
	switch e.Kind {
	case KindVersion, KindAuth, KindEncrypted, KindStop, KindDesktopName:
		if e.Text != "" {
			add("%s", e.Text)
		}
		if e.User != "" {
			add("user %q", e.User)
		}
	case KindSecurityTypes:
		names := make([]string, len(e.Offered))
		for i, t := range e.Offered {
			names[i] = t.String()
		}
		if len(names) == 0 {
			names = append(names, "(none)")
		}
		add("%s", strings.Join(names, ", "))
		if e.Text != "" {
			add("(%s)", e.Text)
		}
	case KindSecurity:
		add("%s", e.Security)
		if e.Text != "" {
			add("(%s)", e.Text)
		}
	case KindSecurityResult:
		if e.OK {
			add("ok")
		} else {
			add("failed")
			if e.Text != "" {
				add("%q", e.Text)
			}
		}
	case KindClientInit:
		if e.Shared {
			add("shared")
		} else {
			add("exclusive")
		}
	case KindServerInit:
		add("%dx%d %q", e.Width, e.Height, e.Text)
		if e.PixelFormat != nil {
			add("%s", e.PixelFormat)
		}
	case KindSetPixelFormat:
		if e.PixelFormat != nil {
			add("%s", e.PixelFormat)
		}
	case KindSetEncodings:
		names := make([]string, len(e.Encodings))
		for i, enc := range e.Encodings {
			names[i] = enc.String()
		}
		add("%s", strings.Join(names, ", "))
	case KindUpdateRequest:
		if e.Incremental {
			add("incremental")
		}
		add("%d,%d %dx%d", e.X, e.Y, e.Width, e.Height)
	case KindKey:
		if e.Down {
			add("down")
		} else {
			add("up")
		}
		add("%s", e.Key.Name())
		if e.Keycode != 0 {
			add("(keycode %#x)", e.Keycode)
		}
	case KindPointer:
		add("%d,%d", e.X, e.Y)
		if e.Pressed != 0 {
			add("press %s", e.Pressed)
		}
		if e.Released != 0 {
			add("release %s", e.Released)
		}
		if e.Pressed == 0 && e.Released == 0 {
			add("move")
			if e.Buttons != 0 {
				add("holding %s", e.Buttons)
			}
		}
	case KindClientCutText, KindServerCutText:
		if e.Extended {
			add("extended %s", strings.Join(e.Actions, "+"))
			if len(e.Formats) > 0 {
				add("%s", strings.Join(e.Formats, ","))
			}
		}
		if e.Text != "" || !e.Extended {
			add("%q", e.Text)
		}
		if e.Truncated {
			add("(truncated)")
		}
	case KindContinuousUpdates:
		if e.Enable {
			add("enable %d,%d %dx%d", e.X, e.Y, e.Width, e.Height)
		} else {
			add("disable")
		}
	case KindSetDesktopSize:
		add("%dx%d, %d screens", e.Width, e.Height, len(e.Screens))
	case KindUpdate:
		add("%d rects %s", len(e.Rects), byteSize(e.Bytes))
		for i, r := range e.Rects {
			if i == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte(',')
			}
			add("%s %d,%d %dx%d", r.Encoding, r.X, r.Y, r.Width, r.Height)
			if r.Bytes > 0 {
				add("(%s)", byteSize(r.Bytes))
			}
			if i == 7 && len(e.Rects) > 9 {
				add("... %d more", len(e.Rects)-8)
				break
			}
		}
	case KindResize:
		add("%dx%d (%s)", e.Width, e.Height, e.Encoding)
		if e.Encoding == PseudoExtendedDesktopSize {
			add("reason %d status %d, %d screens", e.Reason, e.Status, len(e.Screens))
		}
	case KindLEDState:
		var on []string
		for i, name := range []string{"scroll-lock", "num-lock", "caps-lock"} {
			if e.Flags&(1<<i) != 0 {
				on = append(on, name)
			}
		}
		if len(on) == 0 {
			on = append(on, "all off")
		}
		add("%s", strings.Join(on, " "))
	case KindColourMap:
		add("first %d count %d", e.First, e.Count)
	case KindFence:
		add("flags %#x", e.Flags)
		if len(e.Data) > 0 {
			add("payload %d bytes", len(e.Data))
		}
	case KindXVP:
		add("%s", e.Text)
	case KindGII, KindAudio:
		add("code %d %s", e.Code, byteSize(e.Bytes))
	}
	return b.String()
}

// byteSize formats n bytes for people: "980 B", "18.4 KiB", "3.1 MiB".
func byteSize(n int64) string {
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

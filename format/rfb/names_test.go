package rfb

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

func TestEncodingNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    Encoding
		name string
	}{
		{EncodingRaw, "Raw"}, {EncodingTight, "Tight"}, {EncodingTightPNG, "TightPNG"}, {EncodingH264, "OpenH264"},
		{PseudoQualityLevel0, "JPEGQuality0"}, {-23, "JPEGQuality9"}, {-247, "CompressLevel9"},
		{PseudoFineQualityLevel0 + 100, "JPEGFineQuality100"}, {PseudoSubsamp1X + 2, "JPEGSubsampling2"},
		{PseudoExtendedClipboard, "ExtendedClipboard"}, {PseudoVMwareCursor, "VMwareCursor"}, {-1234, "-1234"}, {99, "99"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.name {
			t.Errorf("%d: String() = %q, want %q", int32(tt.e), got, tt.name)
		}
		var back Encoding
		if err := back.UnmarshalText([]byte(tt.name)); err != nil || back != tt.e {
			t.Errorf("UnmarshalText(%q) = %d, %v; want %d", tt.name, back, err, tt.e)
		}
	}
	if got := setEncodings(PseudoExtendedClipboard)[4:]; string(got) != "\xc0\xa1\xe5\xce" {
		t.Errorf("ExtendedClipboard on the wire: % x", got)
	}
	var e Encoding
	if err := e.UnmarshalText([]byte("NoSuchEncoding")); err == nil {
		t.Error("UnmarshalText accepted an unknown name")
	}
}

func TestSecurityTypeNames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		t    SecurityType
		name string
	}{{SecurityNone, "None"}, {SecurityVNCAuth, "VNCAuth"}, {SecurityVeNCrypt, "VeNCrypt"}, {SecurityX509Plain, "X509Plain"},
		{SecurityTightUnixLogin, "TightUnixLogin"}, {SecurityDH, "DH"}, {200, "200"}} {
		if got := tt.t.String(); got != tt.name {
			t.Errorf("%d: String() = %q, want %q", tt.t, got, tt.name)
		}
		var back SecurityType
		if err := back.UnmarshalText([]byte(tt.name)); err != nil || back != tt.t {
			t.Errorf("UnmarshalText(%q) = %d, %v", tt.name, back, err)
		}
	}
}

func TestButtons(t *testing.T) {
	t.Parallel()
	for b, want := range map[Buttons]string{0: "none", ButtonLeft: "left", ButtonLeft | ButtonRight: "left+right",
		ButtonWheelUp: "wheel-up", ButtonForward: "forward", 1 << 12: "0x1000"} {
		if got := b.String(); got != want {
			t.Errorf("%#x: %q, want %q", uint16(b), got, want)
		}
		var back Buttons
		if err := back.UnmarshalText([]byte(want)); err != nil || back != b {
			t.Errorf("UnmarshalText(%q) = %#x, %v", want, uint16(back), err)
		}
	}
}

func TestKeysym(t *testing.T) {
	t.Parallel()
	tests := []struct {
		k     Keysym
		name  string
		r     rune
		print bool
	}{
		{'a', "a", 'a', true}, {' ', "space", ' ', true}, {0xe9, "eacute", 'é', true},
		{KeyReturn, "Return", 0, false}, {KeyBackSpace, "BackSpace", 0, false}, {KeyTab, "Tab", 0, false},
		{0xff51, "Left", 0, false}, {0xffbe, "F1", 0, false}, {KeyShiftL, "Shift_L", 0, false},
		{0xffb7, "KP_7", '7', true}, {0xffab, "KP_Add", '+', true}, {KeyKPEnter, "KP_Enter", 0, false},
		{KeyLevel3Shift, "ISO_Level3_Shift", 0, false}, {0x1008ff12, "XF86AudioMute", 0, false},
		{0x6c1, "0x6c1", 'а', true}, {0x20ac, "0x20ac", '€', true}, {0x10020ac, "U20AC", '€', true},
		{0x1000007, "U0007", 0, false}, {0x12345678, "0x12345678", 0, false},
	}
	for _, tt := range tests {
		if got := tt.k.Name(); got != tt.name {
			t.Errorf("%#x: Name() = %q, want %q", uint32(tt.k), got, tt.name)
		}
		r, ok := tt.k.Rune()
		if ok != tt.print || r != tt.r {
			t.Errorf("%#x: Rune() = %q, %v; want %q, %v", uint32(tt.k), r, ok, tt.r, tt.print)
		}
	}
}

func TestPixelFormat(t *testing.T) {
	t.Parallel()
	if !testFormat.is888() || noVNCFormat.bytesPerPixel() != 4 || !noVNCFormat.is888() {
		t.Error("32-bit formats")
	}
	if rgb565.is888() || rgb565.bytesPerPixel() != 2 || rgbaFormat.is888() {
		t.Error("other formats")
	}
	if (PixelFormat{BitsPerPixel: 12}).bytesPerPixel() != 0 {
		t.Error("12 bits per pixel")
	}
	cm := PixelFormat{BitsPerPixel: 8, Depth: 8}
	if got, want := cm.String(), "8bpp depth 8 little-endian colour-map"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEventJSON(t *testing.T) {
	t.Parallel()
	events := []Event{
		{Time: 1500 * time.Millisecond, Dir: format.ClientToTarget, Offset: 42, Kind: KindKey, Down: true, Key: 'a'},
		{Time: 2 * time.Second, Dir: format.TargetToClient, Offset: 100, Kind: KindUpdate, Bytes: 36,
			Rects: []Rect{{X: 1, Y: 2, Width: 3, Height: 4, Encoding: EncodingTight, Bytes: 4}}},
		{Dir: format.ClientToTarget, Kind: KindSetEncodings, Encodings: []Encoding{EncodingTight, PseudoQualityLevel0 + 6}},
		{Dir: format.TargetToClient, Kind: KindSecurityTypes, Offered: []SecurityType{SecurityNone, SecurityVNCAuth}},
		{Dir: format.ClientToTarget, Kind: KindPointer, X: 5, Y: 6, Buttons: ButtonLeft, Pressed: ButtonLeft},
	}
	for _, e := range events {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back Event
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatalf("%s: %v", j, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Errorf("round trip of %s gave %+v", j, back)
		}
	}
	j, _ := json.Marshal(events[0])
	if want := `{"dir":"client","keyName":"a","time":1500000000,"offset":42,"kind":"key","key":97,"down":true}`; string(j) != want {
		t.Errorf("got %s\nwant %s", j, want)
	}
	j, _ = json.Marshal(events[4])
	if !strings.Contains(string(j), `"buttons":"left","pressed":"left"`) {
		t.Errorf("buttons by name: %s", j)
	}
	j, _ = json.Marshal(events[2])
	if !strings.Contains(string(j), `"encodings":["Tight","JPEGQuality6"]`) {
		t.Errorf("encodings by name: %s", j)
	}
	if err := json.Unmarshal([]byte(`{"dir":"sideways"}`), new(Event)); err == nil {
		t.Error("accepted a bad direction")
	}
}

func TestEventString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    Event
		want string
	}{
		{Event{Time: 12345 * time.Millisecond, Dir: format.ClientToTarget, Kind: KindKey, Down: true, Key: 'a'},
			"12.345s client key down a"},
		{Event{Dir: format.TargetToClient, Kind: KindUpdate, Bytes: 3 << 20, Rects: make([]Rect, 12)},
			"0.000s server update 12 rects 3.0 MiB: Raw 0,0 0x0, Raw 0,0 0x0, Raw 0,0 0x0, Raw 0,0 0x0, " +
				"Raw 0,0 0x0, Raw 0,0 0x0, Raw 0,0 0x0, Raw 0,0 0x0 ... 4 more"},
		{Event{Dir: format.TargetToClient, Kind: KindSecurityResult, Text: "no"}, `0.000s server security-result failed "no"`},
		{Event{Dir: format.ClientToTarget, Kind: KindClientInit}, "0.000s client client-init exclusive"},
		{Event{Dir: format.TargetToClient, Kind: KindServerCutText, Text: "x", Truncated: true},
			`0.000s server server-cut-text "x" (truncated)`},
		{Event{Dir: format.TargetToClient, Kind: KindLEDState}, "0.000s server led-state all off"},
		{Event{Dir: format.ClientToTarget, Kind: KindPointer, X: 1, Y: 2, Buttons: ButtonLeft}, "0.000s client pointer 1,2 move holding left"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

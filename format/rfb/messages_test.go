package rfb

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// handshake is a 3.8 session with security None up to ServerInit, with the
// server's format testFormat (32 bits per pixel, Tight TPIXEL 3 bytes).
var handshake = []chunk{server(version("003.008")), client(version("003.008")), server(u8(1, 1)), client(u8(1)),
	server(u32(0)), client(u8(1)), server(serverInit(320, 240, testFormat, "desk"))}

const handshakeEvents = 7

// afterHandshake decodes chunks after the handshake and returns the
// summaries of the events that follow it.
func afterHandshake(t *testing.T, chunks ...chunk) []string {
	t.Helper()
	return summaries(decode(t, append(slices.Clone(handshake), chunks...)...)[handshakeEvents:])
}

var (
	rgb565 = PixelFormat{BitsPerPixel: 16, Depth: 16, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5}
	zeros  = func(n int) []byte { return make([]byte, n) }
)

type messageTest struct {
	name   string
	chunks []chunk
	want   []string
}

var clientTests = []messageTest{{
	name:   "SetPixelFormat",
	chunks: []chunk{client(setPixelFormat(noVNCFormat))},
	want:   []string{"client set-pixel-format 32bpp depth 24 little-endian true-colour r255<<0 g255<<8 b255<<16"},
}, {
	name:   "SetEncodings",
	chunks: []chunk{client(setEncodings(noVNCEncodings...))},
	want: []string{"client set-encodings CopyRect, Tight, TightPNG, ZRLE, JPEG, Hextile, RRE, Zlib, Raw, JPEGQuality6, CompressLevel2, " +
		"DesktopSize, LastRect, QEMUExtendedKeyEvent, QEMULEDState, ExtendedDesktopSize, xvp, Fence, ContinuousUpdates, " +
		"DesktopName, ExtendedClipboard, ExtendedMouseButtons, VMwareCursor, Cursor"},
}, {
	name:   "FramebufferUpdateRequest",
	chunks: []chunk{client(updateRequest(false, 0, 0, 320, 240), updateRequest(true, 10, 20, 30, 40))},
	want:   []string{"client update-request 0,0 320x240", "client update-request incremental 10,20 30x40"},
}, {
	name:   "KeyEvent",
	chunks: []chunk{client(keyEvent(true, KeyShiftL), keyEvent(true, 'A'), keyEvent(false, 'A'), keyEvent(false, KeyShiftL))},
	want:   []string{"client key down Shift_L", "client key down A", "client key up A", "client key up Shift_L"},
}, {
	name: "PointerEvent",
	chunks: []chunk{client(pointerEvent(0, 10, 20), pointerEvent(ButtonLeft, 10, 20), pointerEvent(ButtonLeft, 30, 40),
		pointerEvent(ButtonLeft|ButtonRight, 30, 40), pointerEvent(0, 30, 40), pointerEvent(ButtonWheelDown, 5, 5), pointerEvent(0, 5, 5),
		pointerEvent(ButtonBack, 1, 1))},
	want: []string{"client pointer 10,20 move", "client pointer 10,20 press left", "client pointer 30,40 move holding left",
		"client pointer 30,40 press right", "client pointer 30,40 release left+right", "client pointer 5,5 press wheel-down",
		"client pointer 5,5 release wheel-down", "client pointer 1,1 press back"},
}, {
	name:   "ClientCutText",
	chunks: []chunk{client(cutText(msgClientCutText, "Grüße\nzwei"))},
	want:   []string{`client client-cut-text "Grüße\nzwei"`},
}, {
	name: "ExtendedClipboard",
	chunks: []chunk{client(extendedCutText(msgClientCutText, clipCaps|clipRequest|clipNotify|clipProvide|clipText|1<<1, u32(0, 0)),
		extendedCutText(msgClientCutText, clipNotify|clipText, nil),
		extendedCutText(msgClientCutText, clipProvide|clipText, clipboardProvide("naïve ✓\nline")))},
	want: []string{"client client-cut-text extended caps+request+notify+provide text,rtf", "client client-cut-text extended notify text",
		`client client-cut-text extended provide text "naïve ✓\nline"`},
}, {
	name:   "EnableContinuousUpdates",
	chunks: []chunk{client(enableContinuousUpdates(true, 0, 0, 320, 240), enableContinuousUpdates(false, 0, 0, 0, 0))},
	want:   []string{"client continuous-updates enable 0,0 320x240", "client continuous-updates disable"},
}, {
	name:   "ClientFence",
	chunks: []chunk{client(fenceMsg(1<<31|3, []byte("abc")))},
	want:   []string{"client fence flags 0x80000003 payload 3 bytes"},
}, {
	name:   "XVP",
	chunks: []chunk{client(u8(250, 0, 1, 3))},
	want:   []string{"client xvp reboot (version 1)"},
}, {
	name:   "SetDesktopSize",
	chunks: []chunk{client(setDesktopSize(1024, 768, Screen{ID: 7, Width: 1024, Height: 768}))},
	want:   []string{"client set-desktop-size 1024x768, 1 screens"},
}, {
	name:   "QEMUExtendedKeyEvent",
	chunks: []chunk{client(qemuKeyEvent(true, 'q', 0x10), qemuKeyEvent(false, 'q', 0x10), qemuKeyEvent(true, 0, 0xcd))},
	want:   []string{"client key down q (keycode 0x10)", "client key up q (keycode 0x10)", "client key down 0x0 (keycode 0xcd)"},
}, {
	name:   "QEMUAudio",
	chunks: []chunk{client(u8(255, 1), u16(2), u8(3, 2), u32(44100), u8(255, 1), u16(0))},
	want:   []string{"client audio code 2 10 B", "client audio code 0 4 B"},
}, {
	name:   "GII",
	chunks: []chunk{client(u8(253, 1, 2, 0), u16(1), u8(253, 0x81), u16(2), u16(1))},
	want:   []string{"client gii code 1 6 B", "client gii code 1 6 B"},
}, {
	name:   "UnknownMessage",
	chunks: []chunk{client(keyEvent(true, 'a'), u8(7, 1, 2, 3), keyEvent(false, 'a')), server(u8(2)), client(keyEvent(true, 'b'))},
	want:   []string{"client key down a", "client stop unknown client message 7: decoding of the client stream stops", "server bell"},
}}

var serverTests = []messageTest{{
	name:   "Raw",
	chunks: []chunk{server(updateHeader(1), rectHeader(0, 0, 2, 2, EncodingRaw), zeros(16))},
	want:   []string{"server update 1 rects 32 B: Raw 0,0 2x2 (16 B)"},
}, {
	name: "RawClientFormat",
	chunks: []chunk{client(setPixelFormat(rgb565)), server(updateHeader(2), rectHeader(0, 0, 3, 3, EncodingRaw), zeros(18),
		rectHeader(0, 0, 0, 0, EncodingRaw))},
	want: []string{"client set-pixel-format 16bpp depth 16 little-endian true-colour r31<<11 g63<<5 b31<<0",
		"server update 2 rects 46 B: Raw 0,0 3x3 (18 B), Raw 0,0 0x0"},
}, {
	name:   "EmptyUpdate",
	chunks: []chunk{server(updateHeader(0))},
	want:   []string{"server update 0 rects 4 B"},
}, {
	name:   "CopyRect",
	chunks: []chunk{server(updateHeader(1), rectHeader(10, 10, 50, 50, EncodingCopyRect), u16(5, 6))},
	want:   []string{"server update 1 rects 20 B: CopyRect 10,10 50x50 (4 B)"},
}, {
	name: "RRE",
	chunks: []chunk{server(updateHeader(2), rectHeader(0, 0, 9, 9, EncodingRRE), u32(2), zeros(4), zeros(2*12),
		rectHeader(0, 0, 9, 9, EncodingCoRRE), u32(1), zeros(4), zeros(8))},
	want: []string{"server update 2 rects 76 B: RRE 0,0 9x9 (32 B), CoRRE 0,0 9x9 (16 B)"},
}, {
	name: "Hextile",
	chunks: []chunk{server(updateHeader(1), rectHeader(0, 0, 20, 18, EncodingHextile),
		u8(1), zeros(16*16*4), // raw 16x16 tile
		u8(2|4|8), zeros(8), u8(2), zeros(4), // background, foreground, 2 subrects
		u8(2|8|16), zeros(4), u8(1), zeros(6), // background, 1 coloured subrect
		u8(0))}, // 4x2 tile like the last
	want: []string{"server update 1 rects 1.0 KiB: Hextile 0,0 20x18 (1.0 KiB)"},
}, {
	name:   "HextileInvalid",
	chunks: []chunk{server(updateHeader(1), rectHeader(0, 0, 16, 16, EncodingHextile), u8(0x20), zeros(10)), server(u8(2))},
	want: []string{"server stop Hextile subencoding 0x20 in tile 0 in FramebufferUpdate rectangle 1 (Hextile 0,0 16x16): " +
		"decoding of the server stream stops"},
}, {
	name: "ZRLEZlib",
	chunks: []chunk{server(updateHeader(3), rectHeader(0, 0, 64, 64, EncodingZRLE), u32(3), zeros(3),
		rectHeader(0, 0, 0, 0, EncodingZlib), rectHeader(0, 0, 2, 2, EncodingZlib), u32(2), zeros(2))},
	want: []string{"server update 3 rects 53 B: ZRLE 0,0 64x64 (7 B), Zlib 0,0 0x0, Zlib 0,0 2x2 (6 B)"},
}, {
	name: "Tight",
	chunks: []chunk{server(updateHeader(11),
		rectHeader(0, 0, 9, 9, EncodingTight), u8(0x80), zeros(3), // fill
		rectHeader(0, 0, 9, 9, EncodingTight), u8(0x8f), zeros(3), // fill, resetting the zlib streams
		rectHeader(0, 0, 9, 9, EncodingTight), u8(0x90, 0xc8, 0x01), zeros(200), // jpeg, 2-byte length
		rectHeader(0, 0, 1, 3, EncodingTight), u8(0x00), zeros(9), // copy, 9 bytes < 12: not compressed
		rectHeader(0, 0, 4, 4, EncodingTight), u8(0x10, 0xa0, 0x9c, 0x01), zeros(20000), // copy, stream 1, 3-byte length
		rectHeader(0, 0, 10, 3, EncodingTight), u8(0x40, 1, 1), zeros(6), zeros(6), // 2-colour palette, 6 bytes of bits
		rectHeader(0, 0, 8, 8, EncodingTight), u8(0x60, 1, 15), zeros(48), u8(30), zeros(30), // 16 colours, stream 2
		rectHeader(0, 0, 4, 4, EncodingTight), u8(0x40, 2, 10), zeros(10), // gradient
		rectHeader(0, 0, 2, 2, EncodingTight), u8(0xa0), zeros(12), // without zlib
		rectHeader(0, 0, 2, 2, EncodingTight), u8(0xe0, 1, 1), zeros(6), zeros(2), // without zlib, palette
		rectHeader(0, 0, 0, 0, EncodingTight), u8(0x00))}, // empty
	want: []string{"server update 11 rects 20.0 KiB: Tight 0,0 9x9 (4 B), Tight 0,0 9x9 (4 B), Tight 0,0 9x9 (203 B), " +
		"Tight 0,0 1x3 (10 B), Tight 0,0 4x4 (19.5 KiB), Tight 0,0 10x3 (15 B), Tight 0,0 8x8 (82 B), Tight 0,0 4x4 (13 B) ... 3 more"},
}, {
	name: "Tight16bpp",
	chunks: []chunk{client(setPixelFormat(rgb565)), server(updateHeader(2),
		rectHeader(0, 0, 9, 9, EncodingTight), u8(0x80), zeros(2),
		rectHeader(0, 0, 2, 2, EncodingTight), u8(0x00), zeros(8))},
	want: []string{"client set-pixel-format 16bpp depth 16 little-endian true-colour r31<<11 g63<<5 b31<<0",
		"server update 2 rects 40 B: Tight 0,0 9x9 (3 B), Tight 0,0 2x2 (9 B)"},
}, {
	name:   "TightInvalid",
	chunks: []chunk{server(updateHeader(1), rectHeader(0, 0, 9, 9, EncodingTight), u8(0xb0), zeros(9))},
	want: []string{"server stop Tight compression control 0xb0 in FramebufferUpdate rectangle 1 (Tight 0,0 9x9): " +
		"decoding of the server stream stops"},
}, {
	name: "TightPNG",
	chunks: []chunk{server(updateHeader(3), rectHeader(0, 0, 9, 9, EncodingTightPNG), u8(0xa0, 5), zeros(5),
		rectHeader(0, 0, 9, 9, EncodingTightPNG), u8(0x80), zeros(3),
		rectHeader(0, 0, 9, 9, EncodingTightPNG), u8(0x00), zeros(50))},
	want: []string{"server stop TightPNG compression control 0x0 in FramebufferUpdate rectangle 3 (TightPNG 0,0 9x9): " +
		"decoding of the server stream stops"},
}, {
	name: "JPEG",
	chunks: []chunk{server(updateHeader(2), rectHeader(0, 0, 8, 8, EncodingJPEG),
		u8(0xff, 0xd8), u8(0xff, 0xe0, 0, 4, 1, 2), u8(0xff, 0xda, 0, 4, 1, 2),
		u8(0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56), u8(0xff, 0xd9),
		rectHeader(0, 0, 1, 1, EncodingRaw), zeros(4))},
	want: []string{"server update 2 rects 55 B: JPEG 0,0 8x8 (23 B), Raw 0,0 1x1 (4 B)"},
}, {
	name:   "H264",
	chunks: []chunk{server(updateHeader(1), rectHeader(0, 0, 64, 64, EncodingH264), u32(5, 1), zeros(5))},
	want:   []string{"server update 1 rects 29 B: OpenH264 0,0 64x64 (13 B)"},
}, {
	name: "Cursors",
	chunks: []chunk{server(updateHeader(7),
		rectHeader(1, 1, 3, 2, PseudoCursor), zeros(24), zeros(2),
		rectHeader(0, 0, 0, 0, PseudoXCursor),
		rectHeader(0, 0, 9, 2, PseudoXCursor), zeros(6), zeros(8),
		rectHeader(0, 0, 2, 1, PseudoCursorWithAlpha), u32(0), zeros(8),
		rectHeader(0, 0, 2, 2, PseudoVMwareCursor), u8(0, 0), zeros(32),
		rectHeader(0, 0, 2, 2, PseudoVMwareCursor), u8(1, 0), zeros(16),
		rectHeader(5, 5, 0, 0, PseudoVMwareCursorPosition))},
	want: []string{"server update 7 rects 192 B: Cursor 1,1 3x2 (26 B), XCursor 0,0 0x0, XCursor 0,0 9x2 (14 B), " +
		"CursorWithAlpha 0,0 2x1 (12 B), VMwareCursor 0,0 2x2 (34 B), VMwareCursor 0,0 2x2 (18 B), VMwareCursorPosition 5,5 0x0"},
}, {
	name:   "CursorWithAlphaPseudo",
	chunks: []chunk{server(updateHeader(1), rectHeader(0, 0, 2, 1, PseudoCursorWithAlpha), u32(int64(PseudoCursor)))},
	want: []string{"server stop CursorWithAlpha in encoding Cursor in FramebufferUpdate rectangle 1 (CursorWithAlpha 0,0 2x1): " +
		"decoding of the server stream stops"},
}, {
	name: "Resize",
	chunks: []chunk{server(updateHeader(4), rectHeader(0, 0, 800, 600, PseudoDesktopSize),
		rectHeader(1, 0, 1024, 768, PseudoExtendedDesktopSize), u8(1, 0, 0, 0), u32(7), u16(0, 0, 1024, 768), u32(0),
		rectHeader(1, 3, 10, 10, PseudoExtendedDesktopSize), u8(0, 0, 0, 0),
		rectHeader(0, 0, 0, 0, PseudoDesktopName), str32("new name"))},
	want: []string{"server resize 800x600 (DesktopSize)", "server resize 1024x768 (ExtendedDesktopSize) reason 1 status 0, 1 screens",
		"server resize 10x10 (ExtendedDesktopSize) reason 1 status 3, 0 screens", "server desktop-name new name",
		"server update 4 rects 88 B: DesktopSize 0,0 800x600, ExtendedDesktopSize 1,0 1024x768 (20 B), " +
			"ExtendedDesktopSize 1,3 10x10 (4 B), DesktopName 0,0 0x0 (12 B)"},
}, {
	name: "LastRect",
	chunks: []chunk{server(updateHeader(0xffff), rectHeader(0, 0, 1, 1, EncodingRaw), zeros(4),
		rectHeader(0, 0, 0, 0, PseudoLastRect), u8(2))},
	want: []string{"server update 2 rects 32 B: Raw 0,0 1x1 (4 B), LastRect 0,0 0x0", "server bell"},
}, {
	name: "LEDs",
	chunks: []chunk{server(updateHeader(2), rectHeader(0, 0, 0, 0, PseudoQEMULEDState), u8(4),
		rectHeader(0, 0, 0, 0, PseudoVMwareLEDState), u32(3))},
	want: []string{"server led-state caps-lock", "server led-state scroll-lock num-lock",
		"server update 2 rects 33 B: QEMULEDState 0,0 0x0 (1 B), VMwareLEDState 0,0 0x0 (4 B)"},
}, {
	name: "VMware",
	chunks: []chunk{server(updateHeader(4), rectHeader(0, 0, 0, 0, PseudoVMwareCursorState), u16(3),
		rectHeader(0, 0, 0, 0, PseudoVMwareKeyRepeat), u16(1), u32(30, 500),
		rectHeader(0, 0, 0, 0, PseudoVMwareVMState), u16(0),
		rectHeader(0, 0, 640, 480, PseudoVMwareDisplayMode), pixelFormat(rgb565)),
		server(updateHeader(1), rectHeader(0, 0, 2, 1, EncodingRaw), zeros(4))},
	want: []string{"server resize 640x480 (VMwareDisplayModeChange)",
		"server update 4 rects 82 B: VMwareCursorState 0,0 0x0 (2 B), VMwareKeyRepeat 0,0 0x0 (10 B), " +
			"VMwareVirtualMachineState 0,0 0x0 (2 B), VMwareDisplayModeChange 0,0 640x480 (16 B)",
		"server update 1 rects 20 B: Raw 0,0 2x1 (4 B)"},
}, {
	name: "ExtendedMouseButtons",
	chunks: []chunk{client(u8(5, 0x80), u16(1, 2)), // before the server agrees: bit 7 is back, no extra byte
		server(updateHeader(1), rectHeader(0, 0, 0, 0, PseudoExtendedMouseButtons)),
		client(u8(5, 0x81), u16(3, 4), u8(2), u8(5, 0x01), u16(3, 4))},
	want: []string{"client pointer 1,2 press back", "server update 1 rects 16 B: ExtendedMouseButtons 0,0 0x0",
		"client pointer 3,4 press left+forward release back", "client pointer 3,4 release forward"},
}, {
	name: "UnsupportedEncoding",
	chunks: []chunk{server(updateHeader(1), rectHeader(0, 0, 16, 16, EncodingTRLE), u8(1), zeros(4)), server(u8(2)),
		client(keyEvent(true, 'x'))},
	want: []string{"server stop unsupported encoding TRLE in FramebufferUpdate rectangle 1 (TRLE 0,0 16x16): " +
		"decoding of the server stream stops", "client key down x"},
}, {
	name:   "SetColourMapEntries",
	chunks: []chunk{server(u8(1, 0), u16(16, 2), zeros(12), u8(2))},
	want:   []string{"server colour-map first 16 count 2", "server bell"},
}, {
	name:   "ServerCutText",
	chunks: []chunk{server(cutText(msgServerCutText, "café"))},
	want:   []string{`server server-cut-text "café"`},
}, {
	name: "ServerExtendedClipboard",
	chunks: []chunk{server(extendedCutText(msgServerCutText, clipCaps|clipRequest|clipPeek|clipNotify|clipProvide|clipText|1<<1|1<<2, u32(20<<20, 0, 0)),
		extendedCutText(msgServerCutText, clipRequest|clipText, nil),
		extendedCutText(msgServerCutText, clipProvide|clipText|1<<2, clipboardProvide("from the server")))},
	want: []string{"server server-cut-text extended caps+request+peek+notify+provide text,rtf,html",
		"server server-cut-text extended request text", `server server-cut-text extended provide text,html "from the server"`},
}, {
	name:   "ContinuousUpdatesFenceXVP",
	chunks: []chunk{server(u8(150), fenceMsg(1<<31, []byte{7}), u8(250, 0, 1, 1))},
	want: []string{"server end-of-continuous-updates", "server fence flags 0x80000000 payload 1 bytes",
		"server xvp XVP_INIT (version 1)"},
}, {
	name:   "QEMUAudio",
	chunks: []chunk{server(u8(255, 1), u16(1), u8(255, 1), u16(2), u32(4), zeros(4), u8(255, 1), u16(0))},
	want:   []string{"server audio code 1 4 B", "server audio code 2 12 B", "server audio code 0 4 B"},
}, {
	name:   "UnknownMessage",
	chunks: []chunk{server(u8(2), u8(99), u8(2)), client(keyEvent(true, 'x'))},
	want:   []string{"server bell", "server stop unknown server message 99: decoding of the server stream stops", "client key down x"},
}}

func TestClientMessages(t *testing.T) { runMessageTests(t, clientTests) }
func TestServerMessages(t *testing.T) { runMessageTests(t, serverTests) }

func runMessageTests(t *testing.T, tests []messageTest) {
	t.Parallel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := afterHandshake(t, tt.chunks...); !slices.Equal(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestSplitAnywhere checks that the events do not depend on how the
// streams are cut into records: each record of each test is cut in two at
// every position, and everything is also fed one byte at a time.
func TestSplitAnywhere(t *testing.T) {
	t.Parallel()
	var tests []messageTest
	tests = append(tests, messageTest{name: "Handshake", chunks: handshake})
	tests = append(tests, clientTests...)
	tests = append(tests, serverTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chunks := append(slices.Clone(handshake), tt.chunks...)
			if tt.name == "Handshake" {
				chunks = handshake
			}
			want := feedAll(t, chunks, nil)
			for i, c := range chunks {
				if len(c.b) > 4096 {
					continue // every position of a large record is slow and adds nothing
				}
				for p := 1; p < len(c.b); p++ {
					got := feedAll(t, chunks, func(j int) []int {
						if j == i {
							return []int{p}
						}
						return nil
					})
					if !equalEvents(got, want) {
						t.Fatalf("record %d cut at %d:\ngot\n\t%s\nwant\n\t%s", i, p,
							strings.Join(summaries(got), "\n\t"), strings.Join(summaries(want), "\n\t"))
					}
				}
			}
			got := feedAll(t, chunks, func(j int) []int {
				cuts := make([]int, len(chunks[j].b))
				for k := range cuts {
					cuts[k] = k
				}
				return cuts
			})
			if !equalEvents(got, want) {
				t.Fatalf("byte by byte:\ngot\n\t%s\nwant\n\t%s", strings.Join(summaries(got), "\n\t"), strings.Join(summaries(want), "\n\t"))
			}
		})
	}
}

// feedAll feeds chunk j at time j seconds, cut at the positions cuts(j)
// returns, and returns the events.
func feedAll(t *testing.T, chunks []chunk, cuts func(j int) []int) []Event {
	t.Helper()
	d := NewDecoder(DecoderOptions{})
	var evs []Event
	add := func(dir format.Direction, at time.Duration, p []byte) {
		evs = append(evs, feed(t, d, dir, at, p)...)
	}
	for j, c := range chunks {
		at := time.Duration(j) * time.Second
		prev := 0
		if cuts != nil {
			for _, p := range cuts(j) {
				add(c.dir, at, c.b[prev:p])
				prev = p
			}
		}
		add(c.dir, at, c.b[prev:])
	}
	return append(evs, end(d, time.Hour)...)
}

func equalEvents(a, b []Event) bool {
	return slices.EqualFunc(a, b, func(x, y Event) bool {
		return x.Time == y.Time && x.Offset == y.Offset && x.String() == y.String() &&
			x.Text == y.Text && bytes.Equal(x.Data, y.Data)
	})
}

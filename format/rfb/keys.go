package rfb

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Line is one line of what the user typed.
type Line struct {
	// Time is the time of the line's first key, End the time of its last
	// (the Return that ended it, if any).
	Time time.Duration `json:"time"`
	End  time.Duration `json:"end"`
	// Text is the typed characters, with keys that type nothing written
	// as their names in angle brackets: "<Tab>", "<Left>", "<Ctrl+c>".
	Text string `json:"text"`
	// Return says the line was ended by Return or keypad Enter rather
	// than by the end of the recording.
	Return bool `json:"return"`
}

// String formats the line for a human audit trail: "12.345s hello".
func (l Line) String() string {
	return fmt.Sprintf("%.3fs %s", l.Time.Seconds(), l.Text)
}

// KeyTracker turns the key events of a session, in order, into lines of
// text. A key press (a KeyEvent or QEMU extended key event with the
// down flag) types its keysym's character; presses without releases are
// auto-repeat and type again. Return or keypad Enter ends the line.
// BackSpace deletes the character before it on the line, or is written
// as "<BackSpace>" when there is none or a named key came last (the cursor
// may have moved). Keys that type nothing are written by name, with the
// Ctrl, Alt, Super, Meta and Hyper modifiers held ("<Ctrl+c>",
// "<Shift+Tab>"); Shift, Caps Lock and the other modifiers alone type
// nothing.
//
// Keysyms name the character typed: RFB clients such as noVNC send "A",
// not "a" with Shift (RFC 6143 §7.5.4), so the tracker uses Shift and Caps
// Lock only to upper-case a lower-case letter sent while exactly one of
// them is in effect, as a client sending unshifted keysyms would intend.
// A printable character other than a letter or digit sent with exactly
// Ctrl and Alt held is taken as typed with AltGr (Windows reports AltGr as
// Ctrl+Alt). Caps Lock is assumed off at the start.
//
// The zero value is ready to use. A KeyTracker is not safe for concurrent
// use.
type KeyTracker struct {
	items   []keyItem
	started bool
	start   time.Duration
	last    time.Duration
	held    map[Keysym]bool
	caps    bool
}

// keyItem is a typed character or a named key on the current line.
type keyItem struct {
	s    string
	char bool
}

// Modifier keysyms by the chord name they contribute; "" for modifiers
// that only shift.
var modifierNames = map[Keysym]string{
	KeyShiftL: "Shift", KeyShiftR: "Shift",
	KeyControlL: "Ctrl", KeyControlR: "Ctrl",
	KeyAltL: "Alt", KeyAltR: "Alt",
	KeyMetaL: "Meta", KeyMetaR: "Meta",
	KeySuperL: "Super", KeySuperR: "Super",
	KeyHyperL: "Hyper", KeyHyperR: "Hyper",
	KeyLevel3Shift: "", KeyModeSwitch: "",
	KeyNumLock: "", KeyScrollLock: "",
}

// chordOrder is the order modifiers are written in a chord.
var chordOrder = []string{"Ctrl", "Alt", "Super", "Meta", "Hyper", "Shift"}

// Add takes the next event of the session. Events other than key events
// are ignored. It returns the line a Return completed, if any.
func (k *KeyTracker) Add(e Event) (Line, bool) {
	if e.Kind != KindKey {
		return Line{}, false
	}
	if k.held == nil {
		k.held = make(map[Keysym]bool)
	}
	sym := e.Key
	if !e.Down {
		delete(k.held, sym)
		return Line{}, false
	}
	repeat := k.held[sym]
	k.held[sym] = true
	if _, ok := modifierNames[sym]; ok {
		return Line{}, false
	}
	if sym == KeyCapsLock || sym == KeyShiftLock {
		if !repeat {
			k.caps = !k.caps
		}
		return Line{}, false
	}
	if !k.started {
		k.started, k.start = true, e.Time
	}
	k.last = e.Time
	mods := k.modifiers()
	if sym == KeyReturn || sym == KeyKPEnter {
		return k.line(true)
	}
	if sym == 0 && e.Keycode != 0 { // a QEMU key event without a keysym
		k.items = append(k.items, keyItem{s: fmt.Sprintf("<%skeycode %#x>", chordPrefix(mods), e.Keycode)})
		return Line{}, false
	}
	r, printable := sym.Rune()
	shift := mods["Shift"]
	delete(mods, "Shift")
	switch {
	case sym == KeyBackSpace && len(mods) == 0:
		if n := len(k.items); n > 0 && k.items[n-1].char {
			k.items = k.items[:n-1]
		} else {
			k.items = append(k.items, keyItem{s: "<BackSpace>"})
		}
	case printable && (len(mods) == 0 || altGr(mods, r)):
		if unicode.IsLower(r) && shift != k.caps {
			r = unicode.ToUpper(r)
		}
		k.items = append(k.items, keyItem{s: string(r), char: true})
	default:
		name := sym.Name()
		if printable && r != ' ' {
			name = string(r)
		}
		if shift && (len(mods) > 0 || !printable) {
			mods["Shift"] = true
		}
		k.items = append(k.items, keyItem{s: "<" + chordPrefix(mods) + name + ">"})
	}
	return Line{}, false
}

// Flush returns the line typed so far, if any key was typed on it, and
// starts a new one. Call it at the end of the session.
func (k *KeyTracker) Flush() (Line, bool) { return k.line(false) }

func (k *KeyTracker) line(ret bool) (Line, bool) {
	if !k.started {
		return Line{}, false
	}
	var b strings.Builder
	for _, it := range k.items {
		b.WriteString(it.s)
	}
	l := Line{Time: k.start, End: k.last, Text: b.String(), Return: ret}
	k.items, k.started = k.items[:0], false
	return l, true
}

// modifiers returns the chord modifiers held.
func (k *KeyTracker) modifiers() map[string]bool {
	mods := make(map[string]bool)
	for sym := range k.held {
		if name := modifierNames[sym]; name != "" {
			mods[name] = true
		}
	}
	return mods
}

// altGr reports whether printable r sent with mods held was typed with
// AltGr reported as Ctrl+Alt.
func altGr(mods map[string]bool, r rune) bool {
	return len(mods) == 2 && mods["Ctrl"] && mods["Alt"] && r > ' ' && !(r < unicode.MaxASCII &&
		(unicode.IsLetter(r) || unicode.IsDigit(r)))
}

func chordPrefix(mods map[string]bool) string {
	var b strings.Builder
	for _, m := range chordOrder {
		if mods[m] {
			b.WriteString(m)
			b.WriteByte('+')
		}
	}
	return b.String()
}

// TypedText returns the lines typed in events, a session's events in
// order, as a KeyTracker reconstructs them, including an unfinished last
// line.
func TypedText(events []Event) []Line {
	var k KeyTracker
	var lines []Line
	for _, e := range events {
		if l, ok := k.Add(e); ok {
			lines = append(lines, l)
		}
	}
	if l, ok := k.Flush(); ok {
		lines = append(lines, l)
	}
	return lines
}

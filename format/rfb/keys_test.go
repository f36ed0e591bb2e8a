package rfb

import (
	"slices"
	"testing"
	"time"
)

// keys builds key events, one a second: a positive keysym presses the key,
// a negative one releases it.
func keys(syms ...int) []Event {
	evs := make([]Event, len(syms))
	for i, s := range syms {
		evs[i] = Event{Kind: KindKey, Time: time.Duration(i) * time.Second, Down: s > 0, Key: Keysym(max(s, -s))}
	}
	return evs
}

// typed returns the keys to type s: a press and release per character.
func typed(s string) []int {
	var out []int
	for _, r := range s {
		out = append(out, int(r), -int(r))
	}
	return out
}

func seq(parts ...[]int) []int { return slices.Concat(parts...) }

func one(k int) []int { return []int{k, -k} }

func held(mod int, inner ...[]int) []int {
	return slices.Concat([]int{mod}, slices.Concat(inner...), []int{-mod})
}

const (
	shift    = int(KeyShiftL)
	ctrl     = int(KeyControlL)
	alt      = int(KeyAltL)
	caps     = int(KeyCapsLock)
	ret      = int(KeyReturn)
	bs       = int(KeyBackSpace)
	tab      = int(KeyTab)
	left     = 0xff51
	altGrKey = int(KeyLevel3Shift)
)

func TestTypedText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys []int
		want []string // "|" after a line ended by Return
	}{
		{"Plain", seq(typed("hello"), one(ret)), []string{"hello|"}},
		{"ShiftSendsUpperKeysym", seq(held(shift, typed("W")), typed("orld")), []string{"World"}},
		{"ShiftWithLowerKeysym", seq(held(shift, typed("w")), typed("orld")), []string{"World"}},
		{"ShiftedSymbol", held(shift, typed("!")), []string{"!"}},
		{"CapsLockLowerKeysym", seq(one(caps), typed("ab"), one(caps), typed("c")), []string{"ABc"}},
		{"CapsLockUpperKeysym", seq(one(caps), typed("AB"), one(caps), typed("c")), []string{"ABc"}},
		{"CapsLockAndShift", seq(one(caps), held(shift, typed("a")), one(caps)), []string{"a"}},
		{"CapsLockRepeatTogglesOnce", seq([]int{caps, caps, caps, -caps}, typed("a")), []string{"A"}},
		{"BackSpace", seq(typed("ls -lx"), one(bs), one(ret)), []string{"ls -l|"}},
		{"BackSpaceEmptyLine", seq(one(bs), typed("a")), []string{"<BackSpace>a"}},
		{"BackSpaceAfterNamedKey", seq(typed("ab"), one(left), one(bs)), []string{"ab<Left><BackSpace>"}},
		{"AutoRepeat", seq([]int{'z', 'z', 'z', -'z'}, []int{bs, bs, -bs}), []string{"z"}},
		{"NamedKeys", seq(one(tab), one(left), one(int(KeyEscape)), one(0xffc2), one(int(KeyDelete))),
			[]string{"<Tab><Left><Escape><F5><Delete>"}},
		{"Chords", seq(held(ctrl, typed("c")), held(alt, one(tab)), held(ctrl, held(shift, typed("T"))), held(ctrl, typed(" "))),
			[]string{"<Ctrl+c><Alt+Tab><Ctrl+Shift+T><Ctrl+space>"}},
		{"ShiftTab", held(shift, one(tab)), []string{"<Shift+Tab>"}},
		{"CtrlAltDelete", held(ctrl, held(alt, one(int(KeyDelete)))), []string{"<Ctrl+Alt+Delete>"}},
		{"AltGrAsCtrlAlt", held(ctrl, held(alt, typed("@t"))), []string{"@<Ctrl+Alt+t>"}},
		{"AltGr", held(altGrKey, typed("€")), []string{"€"}},
		{"EmptyLines", seq(one(ret), one(int(KeyKPEnter))), []string{"|", "|"}},
		{"Keypad", seq(one(0xffb1), one(0xffab), one(0xffb2), one(int(KeyKPEnter))), []string{"1+2|"}},
		{"UnicodeAndLegacyKeysyms", seq(one(0x1000000+'ж'), one(0x6c1), one(0x20ac)), []string{"жа€"}},
		{"ModifiersAloneTypeNothing", seq(one(shift), one(ctrl), one(caps), one(caps)), nil},
		{"UnfinishedLine", seq(typed("one"), one(ret), typed("two")), []string{"one|", "two"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, l := range TypedText(keys(tt.keys...)) {
				s := l.Text
				if l.Return {
					s += "|"
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyTrackerTimes(t *testing.T) {
	t.Parallel()
	evs := keys(seq(one(shift), typed("ab"), one(ret))...)
	evs = append(evs, Event{Kind: KindPointer, Time: time.Hour}) // ignored
	lines := TypedText(evs)
	want := []Line{{Time: 2 * time.Second, End: 6 * time.Second, Text: "ab", Return: true}}
	if !slices.Equal(lines, want) {
		t.Errorf("got %+v, want %+v", lines, want)
	}
	if got, want := lines[0].String(), "2.000s ab"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestKeyTrackerQEMUKeycode(t *testing.T) {
	t.Parallel()
	evs := []Event{
		{Kind: KindKey, Down: true, Key: 'o', Keycode: 0x18}, {Kind: KindKey, Key: 'o', Keycode: 0x18},
		{Kind: KindKey, Down: true, Keycode: 0x1e}, {Kind: KindKey, Keycode: 0x1e},
	}
	if lines := TypedText(evs); len(lines) != 1 || lines[0].Text != "o<keycode 0x1e>" {
		t.Errorf("got %+v", lines)
	}
}

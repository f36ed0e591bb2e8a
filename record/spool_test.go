package record_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/record"
)

// fakeSpool records what a Recorder tells its Spool.
type fakeSpool struct {
	mu     sync.Mutex
	events []string
	refuse error
}

func (s *fakeSpool) Admit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refuse
}

func (s *fakeSpool) Created(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, "created "+name)
}

func (s *fakeSpool) Closed(name string, sealed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, fmt.Sprintf("closed %s sealed=%v", name, sealed))
}

func TestSpool(t *testing.T) {
	errFull := errors.New("full")
	t.Run("Events", func(t *testing.T) {
		sp := &fakeSpool{}
		r := newRecorder(t, record.Options{Dir: t.TempDir(), Name: "{user}/{session}.wsrec", Spool: sp, MaxSize: 70 << 10})
		s, err := r.Start(header())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range randomMessages(200, 3) {
			s.Frame(m.dir, m.typ, m.at, m.data)
		}
		s.Close(0, format.CloseInfo{})
		id := header().SessionID.String()
		want := []string{"created alice/" + id + ".wsrec", "closed alice/" + id + ".wsrec sealed=true", "created alice/" + id + ".part1.wsrec"}
		if len(sp.events) < 4 || fmt.Sprint(sp.events[:3]) != fmt.Sprint(want) || len(sp.events)%2 != 0 {
			t.Errorf("events = %q, want them to start with %q, in pairs", sp.events, want)
		}
	})
	t.Run("ErrRefusedStrict", func(t *testing.T) {
		sp := &fakeSpool{refuse: errFull}
		r := newRecorder(t, record.Options{Dir: t.TempDir(), Spool: sp})
		if _, err := r.Start(header()); !errors.Is(err, errFull) {
			t.Errorf("Start = %v, want the spool's refusal", err)
		}
	})
	t.Run("RefusedBestEffort", func(t *testing.T) {
		sp := &fakeSpool{refuse: errFull}
		r := newRecorder(t, record.Options{Dir: t.TempDir(), Spool: sp, Policy: record.BestEffort})
		s, err := r.Start(header())
		if err != nil {
			t.Fatalf("best-effort Start = %v, want the session to go on", err)
		}
		s.Close(0, format.CloseInfo{})
		if len(sp.events) != 0 {
			t.Errorf("events = %q, want none", sp.events)
		}
	})
	t.Run("ErrNoDir", func(t *testing.T) {
		if _, err := record.New(record.Options{File: "x", Spool: &fakeSpool{}}); err == nil {
			t.Error("a spool without a directory: no error")
		}
	})
}

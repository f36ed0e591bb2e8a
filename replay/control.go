package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/format/recfile"
)

// replayID is what a viewer may choose as its replay's ID: ?replay=ID.
var replayID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ErrReplayID is matched by the error for a ?replay= ID that is malformed
// or already in use.
var ErrReplayID = errors.New("replay: unusable replay ID")

// newID returns a random replay ID.
func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// register adds p under its ID, or a new random one if it has none.
func (s *Server) register(p *player) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.players == nil {
		s.players = make(map[string]*player)
	}
	if p.id == "" {
		p.id = newID()
	} else if _, ok := s.players[p.id]; ok {
		return fmt.Errorf("%w: %q is in use", ErrReplayID, p.id)
	}
	s.players[p.id] = p
	p.state.ID, p.state.Recording = p.id, p.name
	return nil
}

func (s *Server) unregister(p *player) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.players[p.id] == p {
		delete(s.players, p.id)
	}
}

// Replays returns the state of the render-mode replays being served,
// sorted by ID.
func (s *Server) Replays() []State {
	s.mu.Lock()
	ps := make([]*player, 0, len(s.players))
	for _, p := range s.players {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	states := make([]State, len(ps))
	for i, p := range ps {
		states[i] = p.snapshot()
	}
	slices.SortFunc(states, func(a, b State) int { return strings.Compare(a.ID, b.ID) })
	return states
}

// Command is a request of the control API: a JSON message on the
// control WebSocket /replays/{id}/control.
type Command struct {
	// Action is "pause", "resume", "seek" or "speed".
	Action string `json:"action"`
	// To is the time to seek to, as the start option takes it: seconds
	// ("90", "1.5") or a Go duration ("1m30s").
	To string `json:"to,omitempty"`
	// Speed is the new speed, as the speed option takes it: "2", "0.5x",
	// "max".
	Speed string `json:"speed,omitempty"`
}

// Control runs a command on the render-mode replay with ID id and returns
// its state after it. It returns an error matching ErrNotFound for an
// unknown ID, ErrNotStarted while the replay's viewer is in its RFB
// handshake, and ErrOption for a bad command.
func (s *Server) Control(ctx context.Context, id string, cmd Command) (State, error) {
	s.mu.Lock()
	p := s.players[id]
	s.mu.Unlock()
	if p == nil {
		return State{}, fmt.Errorf("%w: no replay with ID %q", ErrNotFound, id)
	}
	c := control{action: cmd.Action}
	var err error
	switch cmd.Action {
	case "pause", "resume":
	case "seek":
		c.to, err = parseDuration(cmd.To, 0)
	case "speed":
		c.speed, err = parseSpeed(cmd.Speed, 0)
	default:
		err = fmt.Errorf("unknown action %q: want pause, resume, seek or speed", cmd.Action)
	}
	if err != nil {
		return State{}, fmt.Errorf("%w: %w", ErrOption, err)
	}
	if err := p.do(ctx, c); err != nil {
		return State{}, err
	}
	return p.snapshot(), nil
}

// serveReplays serves GET /replays and GET /replays/{id}.
func (s *Server) serveReplays(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/replays"), "/")
	if id == "" {
		writeJSON(w, http.StatusOK, struct {
			Replays []State `json:"replays"`
		}{s.Replays()})
		return
	}
	for _, st := range s.Replays() {
		if st.ID == id {
			writeJSON(w, http.StatusOK, st)
			return
		}
	}
	http.Error(w, "no such replay", http.StatusNotFound)
}

// controlPath returns the replay ID of a control WebSocket's path,
// /replays/{id}/control.
func controlPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/replays/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/control")
	return id, ok && replayID.MatchString(id)
}

// serveControl answers the commands of a control WebSocket, read as a
// stream of JSON Commands from conn, each with the replay's State, or
// {"error": "..."}, as one message.
func (s *Server) serveControl(conn net.Conn, id string) {
	defer conn.Close()
	dec := json.NewDecoder(io.LimitReader(conn, 1<<20))
	dec.DisallowUnknownFields()
	enc := json.NewEncoder(conn)
	for {
		var cmd Command
		if err := dec.Decode(&cmd); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
				enc.Encode(map[string]string{"error": "want JSON commands such as {\"action\":\"seek\",\"to\":\"90s\"}: " + err.Error()})
			}
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		st, err := s.Control(ctx, id, cmd)
		cancel()
		if err != nil {
			if enc.Encode(map[string]string{"error": strings.TrimPrefix(err.Error(), "replay: ")}) != nil {
				return
			}
			continue
		}
		if enc.Encode(st) != nil {
			return
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// maxUnsent is the most that the kernel holds unsent for a viewer of
// ServeRFB (see limitUnsent).
const maxUnsent = 64 << 10

// RFBOptions configure Server.ServeRFB.
type RFBOptions struct {
	// Recording is the name of the recording every viewer gets. Empty
	// means the Server's single recording file, or else the most
	// recently modified recording.
	Recording string
}

// ServeRFB serves render-mode replays over plain RFB (TCP, no WebSocket)
// to the viewers that connect to ln, such as TigerVNC's vncviewer, until
// ln fails, ctx is done or the server closes. Each gets the playback
// options of ServerOptions.Playback; a replay ID is made for each, which
// GET /replays lists. It returns nil after ctx is done or Close.
func (s *Server) ServeRFB(ctx context.Context, ln net.Listener, opts RFBOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	s.mu.Lock()
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || s.closed.Load() {
				return nil
			}
			return err
		}
		s.wg.Add(1)
		go s.serveRFBConn(ctx, c, opts)
	}
}

func (s *Server) serveRFBConn(ctx context.Context, c net.Conn, opts RFBOptions) {
	defer s.wg.Done()
	limitUnsent(c, maxUnsent)
	name := opts.Recording
	if name == "" && !s.cat.single() {
		recs, err := s.cat.list()
		if err == nil && len(recs) > 0 {
			latest := slices.MaxFunc(recs, func(a, b Recording) int { return a.Modified.Compare(b.Modified) })
			name = latest.Name
		}
	}
	e, err := s.cat.lookup(name)
	if err != nil {
		s.log.Warn("rfb viewer refused", "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	opts2 := s.playback
	opts2.Mode = ModeRender
	if err := s.play(ctx, c, e, opts2, "", s.log.With("remote", c.RemoteAddr().String())); err != nil {
		s.log.Warn("rfb replay ended", "recording", e.name, "err", err)
	}
}

// play runs a render-mode replay of e on conn, which it closes.
func (s *Server) play(ctx context.Context, conn net.Conn, e entry, opts Options, id string, log *slog.Logger) error {
	f, osf, err := s.cat.open(e)
	if err != nil {
		conn.Close()
		return err
	}
	return s.playFile(ctx, conn, e, f, osf, opts, id, log)
}

// playFile runs a render-mode replay of e, open as f and osf, on conn;
// it closes all three.
func (s *Server) playFile(ctx context.Context, conn net.Conn, e entry, f *recfile.File, osf recFile, opts Options, id string, log *slog.Logger) error {
	defer osf.Close()
	defer f.Close()
	p := &player{id: id, name: e.name, e: e, file: f, osf: osf, opts: opts, clock: s.clock, log: log, idx: &s.idx,
		auth: s.password, ctrl: make(chan control)}
	if err := s.register(p); err != nil {
		conn.Close()
		return err
	}
	defer s.unregister(p)
	if f.Reader() != nil {
		s.wg.Add(1)
		go s.warmIndex(e)
	}
	p.log = log.With("replay", p.id)
	p.log.Info("replay start", append([]any{"recording", e.name, "format", f.Format().String()}, opts.logAttrs()...)...)
	return p.run(ctx, conn)
}

// warmIndex makes the seek index of e ready in the background when a
// render-mode replay starts, so that the viewer's first seek finds it
// (building it takes about 10 ms per minute of a busy session) instead
// of waiting for it. It reads a handle of its own, closed when the
// Server closes, which ends the build early. A seek while it runs waits
// for the same build.
func (s *Server) warmIndex(e entry) {
	defer s.wg.Done()
	f, osf, err := s.cat.open(e)
	if err != nil {
		return
	}
	defer f.Close()
	stop := context.AfterFunc(s.ctx, func() { osf.Close() })
	defer stop()
	defer osf.Close()
	s.idx.get(e, osf)
}

package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/proxy"
)

// ServerOptions configures a Server. The zero value of every field means
// the default named in its comment.
type ServerOptions struct {
	// Proxy configures the WebSocket server that the replays are served
	// through: TLS, logging, timeouts, subprotocols are all the proxy's.
	// Its Resolver must be nil: the Server chooses each connection's
	// recording. Its Handler, if not nil, serves the GET and HEAD requests
	// for other paths than /recordings and /replays (wsreplay's --web);
	// nil means those are answered 404. Its Authenticator, if not nil,
	// guards the replays and the control WebSockets, and GET /recordings
	// and /replays too (the static files of Handler are not guarded).
	// Its ClientMaxUnsent, when zero, is set to 64 KiB: a slow viewer of
	// a render-mode replay then gets merged, recent updates rather than
	// frames queued seconds ago in the kernel.
	Proxy proxy.ServerOptions

	// Playback are the options of every replay; the query parameters of
	// a connection change them for that connection (Options.WithQuery).
	// The zero value plays each recording once at its recorded times.
	Playback Options

	// Clock times the replays. nil means the system clock.
	Clock Clock

	// Reader limits what the recording readers allocate. The zero value
	// means the readers' defaults.
	Reader recfile.Options

	// Password, if not empty, makes render-mode replays ask their viewers
	// for VNC authentication with it (only its first 8 bytes count, as for
	// every VNC server); empty means security None.
	Password string
	// Stores are further collections of recordings, such as object
	// storage prefixes, listed after the paths. Their summaries are read
	// from each recording's index (a sealed one's header and trailer) and
	// list no markers.
	Stores []Store
}

// Server serves recordings to WebSocket clients as if they came from the
// live target. It is a proxy.Server whose targets are recordings: every
// connection gets its own playback of the recording it chose, and GET
// /recordings lists the recordings as JSON.
//
// Create it with NewServer. Its methods are safe for concurrent use; Serve
// may be called for several listeners. After Shutdown or Close it cannot be
// reused.
type Server struct {
	proxy    *proxy.Server
	cat      *catalog
	playback Options
	clock    Clock
	web      http.Handler
	auth     proxy.Authenticator // of the upgrades, for the JSON API too
	log      *slog.Logger
	close    sync.Once
	password string
	idx      indexes

	// Render-mode replays.
	ctx       context.Context // ends with Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closed    atomic.Bool
	mu        sync.Mutex
	players   map[string]*player
	listeners []net.Listener
}

// NewServer returns a server of the recordings at paths: files, or
// directories whose files (searched recursively, but for names starting
// with ".") are the recordings. With a single file, every connection gets
// it; otherwise a connection chooses one by name with ?token=NAME or its
// URL path, /NAME. Directories are searched when a recording is looked
// for, so files added later are served too.
//
// NewServer returns an error if a path cannot be read, if a file is not a
// recording (one matching recfile.ErrUnknownFormat), or if opts are
// unusable: a Resolver in opts.Proxy, Playback options out of range (an
// error matching ErrOption), or the errors of proxy.NewServer.
func NewServer(paths []string, opts ServerOptions) (*Server, error) {
	if opts.Proxy.Resolver != nil {
		return nil, errors.New("replay: ServerOptions.Proxy.Resolver must be nil: the Server resolves connections to recordings")
	}
	playback, err := opts.Playback.normalized()
	if err != nil {
		return nil, err
	}
	cat, err := newCatalog(paths, opts.Stores, opts.Reader)
	if err != nil {
		return nil, err
	}
	s := &Server{cat: cat, playback: playback, clock: opts.Clock, web: opts.Proxy.Handler, log: opts.Proxy.Logger,
		password: opts.Password, auth: opts.Proxy.Authenticator}
	s.idx.identities = opts.Reader.Format.Identities
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.clock == nil {
		s.clock = systemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	popts := opts.Proxy
	popts.Resolver = proxy.ResolverFunc(s.resolve)
	popts.Handler = http.HandlerFunc(s.serveHTTP)
	if popts.ClientMaxUnsent == 0 {
		popts.ClientMaxUnsent = maxUnsent
	}
	if s.proxy, err = proxy.NewServer(popts); err != nil {
		cat.close()
		return nil, err
	}
	return s, nil
}

// Serve accepts connections on ln until it fails, the server shuts down
// or ctx is done, as proxy.Server.Serve does, and returns its errors
// (proxy.ErrServerClosed after Shutdown or Close).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.proxy.Serve(ctx, ln)
}

// Shutdown stops accepting connections, lets the replays go on until ctx
// is done, then closes those left with 1001 "Going away", as
// proxy.Server.Shutdown does, and releases the recordings' directories.
// It returns nil if every replay ended in time, ctx.Err() otherwise.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeRFB()
	err := s.proxy.Shutdown(ctx)
	if err != nil {
		s.cancel()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
		err = ctx.Err()
	}
	s.cancel()
	s.close.Do(s.cat.close)
	return err
}

// closeRFB stops the ServeRFB listeners.
func (s *Server) closeRFB() {
	s.closed.Store(true)
	s.mu.Lock()
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
}

// Close closes the listeners and every replay at once, and waits for them
// to end. It returns nil.
func (s *Server) Close() error {
	s.closeRFB()
	s.cancel()
	s.proxy.Close()
	s.wg.Wait()
	s.close.Do(s.cat.close)
	return nil
}

// Active returns the number of connections being served a replay.
func (s *Server) Active() int { return s.proxy.Active() }

// Recordings returns the recordings the server serves, sorted by name, as
// GET /recordings lists them. Each is read through once to be described,
// then remembered until its file changes.
func (s *Server) Recordings() ([]Recording, error) { return s.cat.list() }

// resolve chooses the recording and the playback options of a connection.
func (s *Server) resolve(ctx context.Context, r *proxy.Request) (proxy.Target, error) {
	if id, ok := controlPath(r.HTTP.URL.Path); ok {
		return proxy.Target{Address: "control " + id, Dialer: func(ctx context.Context) (net.Conn, error) {
			ours, theirs := net.Pipe()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serveControl(ours, id)
			}()
			return theirs, nil
		}}, nil
	}
	q := r.HTTP.URL.Query()
	token := q.Get("token")
	name := token
	if name == "" {
		name = strings.TrimPrefix(r.HTTP.URL.Path, "/")
	}
	e, err := s.cat.lookup(name)
	if err != nil {
		reason := fmt.Sprintf("no recording named %q", name)
		if name == "" {
			reason = "no recording chosen"
		}
		return proxy.Target{}, &proxy.HTTPError{
			Status: http.StatusNotFound,
			Reason: reason + ": choose one with ?token=NAME or the URL path /NAME; GET /recordings lists them",
			Err:    err,
		}
	}
	opts, err := s.playback.WithQuery(q)
	if err == nil {
		opts, err = opts.normalized()
	}
	if err != nil {
		return proxy.Target{}, &proxy.HTTPError{Status: http.StatusBadRequest, Reason: strings.TrimPrefix(err.Error(), "replay: "), Err: err}
	}
	id := q.Get("replay")
	if id != "" && !replayID.MatchString(id) {
		return proxy.Target{}, &proxy.HTTPError{Status: http.StatusBadRequest,
			Reason: "replay: want 1 to 64 letters, digits, _ or -", Err: ErrReplayID}
	}
	log := s.log.With("session", r.Session)
	return proxy.Target{
		Address: e.name,
		Token:   token,
		Dialer: func(ctx context.Context) (net.Conn, error) {
			f, osf, err := s.cat.open(e)
			if err != nil {
				return nil, err
			}
			if opts.Mode == ModeBytes || opts.Mode == ModeAuto && !isRFB(f) {
				log.Info("replay start", append([]any{"recording", e.name, "format", f.Format().String()}, opts.logAttrs()...)...)
				return newConn(e.name, f, osf, opts, s.clock, log), nil
			}
			// Render mode: the player speaks RFB on one end of a pipe,
			// the proxy carries the other end's bytes over the WebSocket.
			ours, theirs := net.Pipe()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if err := s.playFile(s.ctx, ours, e, f, osf, opts, id, log); err != nil {
					log.Warn("render replay ended", "recording", e.name, "err", err)
				}
			}()
			return theirs, nil
		},
	}, nil
}

// serveHTTP serves the requests that are not WebSocket upgrades.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/recordings" {
		if s.authorized(w, r) {
			s.serveList(w, r)
		}
		return
	}
	if r.URL.Path == "/replays" || strings.HasPrefix(r.URL.Path, "/replays/") {
		if s.authorized(w, r) {
			s.serveReplays(w, r)
		}
		return
	}
	if s.web != nil {
		s.web.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// authorized runs the Authenticator of ServerOptions.Proxy, which guards
// the WebSocket upgrades (the replays and the control WebSockets), on a
// request of the JSON API, which lists the recordings and the IDs that
// control the replays: what may not watch or control a replay may not
// list them either. It answers a refused request and returns false.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.auth == nil {
		return true
	}
	req := &proxy.Request{HTTP: r, ClientAddr: r.RemoteAddr}
	if addr, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		req.RemoteAddr = addr
	}
	_, err := s.auth.Authenticate(r.Context(), req)
	if err == nil {
		return true
	}
	var he *proxy.HTTPError
	if !errors.As(err, &he) {
		s.log.Error("authenticate", "path", r.URL.Path, "err", err)
		http.Error(w, "authentication failed", http.StatusInternalServerError)
		return false
	}
	for k, vs := range he.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	s.log.Info("request refused", "path", r.URL.Path, "status", he.Status, "reason", he.Reason)
	http.Error(w, he.Reason, he.Status)
	return false
}

// recordingsJSON is the body of GET /recordings.
type recordingsJSON struct {
	Recordings []Recording `json:"recordings"`
	Next       string      `json:"next,omitempty"` // after= of the next page (page.go)
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request) {
	recs, err := s.cat.list()
	if err != nil {
		s.log.Error("listing recordings", "err", err)
		http.Error(w, "cannot list the recordings", http.StatusInternalServerError)
		return
	}
	recs, next, err := page(recs, r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b, err := json.Marshal(recordingsJSON{Recordings: recs, Next: next})
	if err != nil {
		s.log.Error("listing recordings", "err", err)
		http.Error(w, "cannot list the recordings", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

// Package feed serves stream clients, over WebSocket and SSE: where a client resumes, the replay of
// what it missed from the log ahead of the live events of the hub, and each transport's writing
// side (WebSocket frames written by a small writer pool, SSE framing and ids). Routing, access
// control, limits and the JSON form of errors are the caller's (httpapi): it parses the request,
// narrows it to what the client may read and hands it over.
package feed

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
	"github.com/tiktok-live-server/tiktok-live-server/internal/wsserver"
)

// Config wires a Server. Every field but Store and Logger is required.
type Config struct {
	Hub *hub.Hub
	// Store is the log resumes replay from; without it no resume is recovered (reason no_store).
	Store  *store.Store
	Logger *slog.Logger
	// WriteTimeout bounds one write to a client; a client slower than that is closed (4002).
	WriteTimeout time.Duration
	// SSEPing is the interval of SSE keep-alive comments.
	SSEPing time.Duration
	// Admit is asked before a client is subscribed: it takes a slot for it, freed by release when
	// the client's stream ends, or answers the refusal itself (ok false).
	Admit func(w http.ResponseWriter, r *http.Request) (release func(), ok bool)
	// Refuse answers a request the feed will not serve (the hub is closed, a bad handshake), in the
	// caller's form of errors.
	Refuse func(w http.ResponseWriter, status int, code, message string)
	// Writers is how many goroutines at most write the WebSocket clients' backlogs; 0 means one
	// per CPU (GOMAXPROCS).
	Writers int
	// ResumeCatchUp is how long a resume past the end of this node's log (or in an epoch it has
	// not seen yet) waits for the log to get there, once per request, before it answers
	// recovered:false. 0 on a single node, where the log is the source; in cluster mode a node's
	// log is archived from the cluster's stream and trails it by milliseconds, so a client that
	// moves to another node can be ahead of it.
	ResumeCatchUp time.Duration
}

// Server serves stream clients. Create it with New.
type Server struct {
	cfg    Config
	log    *slog.Logger
	poller *wsserver.Poller // reads every WebSocket client's side
	// writers writes the WebSocket clients' backlogs; slowHandoffs counts the writes it handed to
	// a goroutine of the client's own because the socket was full.
	writers      *writerPool
	slowHandoffs atomic.Uint64
}

// pollInterval is how often the WebSocket clients' sides are read: a ping waits up to this for
// its pong, a vanished client is noticed this late.
const pollInterval = 250 * time.Millisecond

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: cfg.Logger, poller: wsserver.NewPoller(pollInterval), writers: newWriterPool(cfg.Writers)}
}

// Request is what a stream client asks for: the events it wants (Filter, already narrowed to what
// it may read) and, per room, where it resumes (none: live events only). The same filter selects
// the live events and the replayed ones.
type Request struct {
	Filter hub.Filter
	Resume []Point
}

// Point is where a client left a room's stream: the last seq it has, in an epoch.
type Point struct {
	Room  string
	Since event.Position
}

// subscribe registers a stream client with the hub, or answers why not (then sub is nil). done
// unsubscribes and releases the client's slot. With ready set, the subscriber is told of messages
// (hub.SubscribeFunc) rather than waiting.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, transport string, f hub.Filter, ready func()) (sub *hub.Subscription, done func()) {
	release, ok := s.cfg.Admit(w, r)
	if !ok {
		return nil, nil
	}
	info := hub.ClientInfo{Transport: transport, Remote: r.RemoteAddr}
	var err error
	if ready != nil {
		sub, err = s.cfg.Hub.SubscribeFunc(f, info, ready)
	} else {
		sub, err = s.cfg.Hub.Subscribe(f, info)
	}
	if err != nil {
		release()
		s.cfg.Refuse(w, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
		return nil, nil
	}
	return sub, func() { sub.Close(); release() }
}

// writeFailed ends a stream client whose write failed. Past the write deadline it is a slow
// consumer: ended with ErrWriteTimeout (close 4002 on a WebSocket), counted, logged. Any other
// error (connection reset, broken pipe, EOF) means the client went away: that is not slowness,
// so it is only unsubscribed, like any client that leaves.
func (s *Server) writeFailed(sub *hub.Subscription, transport, remote string, err error) {
	if isTimeout(err) {
		sub.Fail(hub.ErrWriteTimeout)
		s.log.Info("stream client too slow, closed", "transport", transport, "remote", remote)
		return
	}
	sub.Close()
	s.log.Debug("stream client gone while written to", "transport", transport, "remote", remote, "err", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

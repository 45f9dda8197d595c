// Package httpapi is the HTTP face of the server: the original Node server's routes kept exactly
// (/health, /test, /connect, /status, /shutdown and the WebSocket at /), the versioned /v1 API, the
// WebSocket and SSE event streams, and the operations routes (/healthz, /readyz, /metrics,
// /openapi.json). Every error is a JSON object with a stable code.
package httpapi

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiktok-live-server/tiktok-live-server/internal/auth"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/feed"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webhook"
)

// Resolver answers GET /test: who the user is and whether they are live, without signing.
type Resolver interface {
	Resolve(ctx context.Context, username string) (webcast.RoomInfo, error)
}

// Rooms runs rooms: a *room.Manager on one node, the cluster's view in cluster mode.
type Rooms interface {
	Current() (room.Status, bool)
	List() []room.Status
	Running(username string) bool
	Status(username string) (room.Status, bool)
	Start(username string, opts room.StartOptions) (room.Status, bool, error)
	Settled(ctx context.Context, username string) (room.Status, error)
	Stop(username, reason string) (room.Status, error)
	Unwatch(username string) bool
	Inject(username string, e event.Event) error
	Quota() *room.Quota
}

// Cluster is the node's cluster membership (nil on a single node).
type Cluster interface {
	// Ready reports whether the node has NATS and has caught up with the event stream.
	Ready() (bool, string)
	// Info is what GET /v1/cluster shows: nodes, owners, this node.
	Info(ctx context.Context) any
	// Drain hands this node's rooms to others and stops it claiming more.
	Drain(ctx context.Context) error
	// WebhooksNode is the node that sends the webhooks ("" when none does), named to clients of
	// a node without the role.
	WebhooksNode(ctx context.Context) string
}

// Config wires a Server.
type Config struct {
	Rooms Rooms
	// Manager is this node's rooms, for metrics; nil when Rooms is the manager itself.
	Manager  *room.Manager
	Cluster  Cluster
	Hub      *hub.Hub
	Resolver Resolver
	Logger   *slog.Logger
	// Shutdown is called (once, from its own goroutine) by POST /shutdown.
	Shutdown func()
	// WriteTimeout bounds one write to a stream client; a client slower than that is closed
	// (close code 4002). 0 = DefaultWriteTimeout.
	WriteTimeout time.Duration
	// ResponseWriteTimeout bounds writing an answer that is not a stream: all of a small one, each
	// chunk (512 events or capture lines) of an export. A client that stops reading for this long
	// is cut off, so it cannot hold the handler (and what it holds) forever. 0 =
	// DefaultResponseWriteTimeout.
	ResponseWriteTimeout time.Duration
	// ResumeCatchUp: how long a resume ahead of this node's log waits for it (cluster mode, where
	// the log is archived from the cluster's stream); 0 on a single node. See feed.Config.
	ResumeCatchUp time.Duration
	// ConnectWait bounds how long POST /connect waits for the first outcome; 0 = DefaultConnectWait.
	ConnectWait time.Duration
	// Version is the build's version, shown by /health and /healthz.
	Version string
	// SSEPing is the interval of SSE keep-alive comments; 0 = DefaultSSEPing.
	SSEPing time.Duration
	// Web, if set, serves the dashboard (GET / without a WebSocket upgrade) and everything under
	// /assets/ and /overlay/. Without it, GET / answers a short plain page.
	Web http.Handler
	// Store is the event log behind resume, history, sessions, summaries and captures. Without it
	// those answer 503 no_store and streams do not resume.
	Store *store.Store
	// Webhooks is the outbound webhook side behind /v1/webhooks and the webhook metrics. Without
	// it those routes answer 503 no_webhooks.
	Webhooks *webhook.Service
	// Demo marks a --demo server: simulate is allowed without the admin token.
	Demo bool
	// Security is access control and limits; the zero value leaves everything open.
	Security Security
}

// Defaults.
const (
	DefaultWriteTimeout         = 10 * time.Second
	DefaultResponseWriteTimeout = 30 * time.Second
	DefaultConnectWait          = 30 * time.Second
	DefaultSSEPing              = 15 * time.Second
)

// Server serves the API. Create it with New; Handler is its http.Handler.
type Server struct {
	cfg      Config
	log      *slog.Logger
	started  time.Time
	handler  http.Handler
	routes   []Route
	registry *prometheus.Registry

	limiter *auth.Limiter
	conns   *auth.ConnCap
	feed    *feed.Server // the WebSocket and SSE clients
	origins []string
	maxBody int64

	shuttingDown atomic.Bool
	shutdownOnce sync.Once
	streams      sync.WaitGroup // stream handlers (WebSocket, SSE) still running
}

// Route is one registered method and path pattern (net/http syntax), as the OpenAPI document names
// it, with the access it declared (see public, read and admin).
type Route struct {
	Method  string
	Pattern string
	access  access
	flags   routeFlag
	handler http.HandlerFunc
}

// legacyPath reports whether a pattern is one of the original server's, where a wrong method is a
// 404 not_found, as it was there.
func legacyPath(p string) bool {
	return !strings.HasPrefix(p, "/v1/") && p != "/v1" && p != "/healthz" && p != "/readyz" && p != "/metrics" && p != "/openapi.json"
}

// New builds a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.ResponseWriteTimeout <= 0 {
		cfg.ResponseWriteTimeout = DefaultResponseWriteTimeout
	}
	if cfg.ConnectWait <= 0 {
		cfg.ConnectWait = DefaultConnectWait
	}
	if cfg.SSEPing <= 0 {
		cfg.SSEPing = DefaultSSEPing
	}
	s := &Server{cfg: cfg, log: cfg.Logger, started: time.Now(), maxBody: cfg.Security.MaxBodyBytes}
	s.feed = feed.New(feed.Config{Hub: cfg.Hub, Store: cfg.Store, Logger: cfg.Logger, WriteTimeout: cfg.WriteTimeout,
		SSEPing: cfg.SSEPing, Admit: s.admitStream, Refuse: writeError, ResumeCatchUp: cfg.ResumeCatchUp})
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	sec := cfg.Security
	if sec.RatePerSec > 0 {
		s.limiter = auth.NewLimiter(sec.RatePerSec, max(sec.RateBurst, 1), maxLimiterKeys)
	}
	if sec.MaxStreams > 0 || sec.MaxStreamsPerIP > 0 {
		s.conns = auth.NewConnCap(sec.MaxStreams, sec.MaxStreamsPerIP)
	}
	s.origins = append(append([]string(nil), DefaultAllowedOrigins...), sec.AllowedOrigins...)
	local := cfg.Manager
	if m, ok := cfg.Rooms.(*room.Manager); ok && local == nil {
		local = m
	}
	s.registry = newRegistry(local, cfg.Rooms, cfg.Hub, cfg.Store, cfg.Webhooks)
	// Each route declares its access here: public, read (a room token: its own room) or admin.
	s.routes = []Route{
		// The original server's routes.
		read("GET /health", s.health, everyRoom),
		read("GET /test/{username}", s.testUser),
		admin("POST /connect/{username}", s.connect),
		admin("DELETE /connect/{username}", s.disconnect),
		read("GET /status/{username}", s.userStatus),
		read("GET /status", s.currentStatus, everyRoom),
		admin("POST /shutdown", s.shutdown),
		read("GET /", s.root, pageUnlessUpgrade), // the WebSocket, or the dashboard page
		// Versioned API.
		read("GET /v1/rooms", s.listRooms, everyRoom),
		admin("PUT /v1/rooms/{username}", s.putRoom),
		read("GET /v1/rooms/{username}", s.getRoom),
		admin("DELETE /v1/rooms/{username}", s.deleteRoom),
		read("GET /v1/ws", s.v1WebSocket),
		read("GET /v1/events", s.sse, sameOriginStream),
		read("GET /v1/rooms/{username}/events", s.needStore(s.roomEvents)),
		read("GET /v1/rooms/{username}/sessions", s.needStore(s.roomSessions)),
		read("GET /v1/rooms/{username}/leaderboard", s.needStore(s.roomLeaderboard)),
		read("GET /v1/sessions/{id}", s.needStore(s.getSession)),
		read("GET /v1/sessions/{id}/events", s.needStore(s.sessionEvents)),
		read("GET /v1/sessions/{id}/summary", s.needStore(s.sessionSummary)),
		read("GET /v1/sessions/{id}/leaderboard", s.needStore(s.sessionLeaderboard)),
		read("GET /v1/sessions/{id}/capture", s.needStore(s.sessionCapture)),
		admin("POST /v1/rooms/{username}/simulate", s.simulate, openInDemo),
		// Outbound webhooks: admin only, as an endpoint's URL may hold its receiver's token.
		admin("POST /v1/webhooks", s.needWebhooks(s.createWebhook)),
		admin("GET /v1/webhooks", s.needWebhooks(s.listWebhooks)),
		admin("GET /v1/webhooks/{id}", s.needWebhooks(s.getWebhook)),
		admin("PATCH /v1/webhooks/{id}", s.needWebhooks(s.updateWebhook)),
		admin("DELETE /v1/webhooks/{id}", s.needWebhooks(s.deleteWebhook)),
		admin("POST /v1/webhooks/{id}/test", s.needWebhooks(s.testWebhook)),
		admin("POST /v1/webhooks/{id}/rotate", s.needWebhooks(s.rotateWebhook)),
		admin("GET /v1/webhooks/{id}/deliveries", s.needWebhooks(s.webhookDeliveries)),
		admin("POST /v1/webhooks/{id}/deliveries/{did}/resend", s.needWebhooks(s.resendWebhook)),
		admin("POST /v1/webhooks/{id}/recover", s.needWebhooks(s.recoverWebhook)),
		// Cluster mode (503 not_clustered on a single node).
		read("GET /v1/cluster", s.needCluster(s.clusterInfo), everyRoom),
		admin("POST /v1/cluster/drain", s.needCluster(s.clusterDrain)),
		// Operations.
		public("GET /healthz", s.healthz),
		public("GET /readyz", s.readyz),
		read("GET /metrics", s.metrics, everyRoom),
		public("GET /openapi.json", s.openapi),
	}
	s.handler = s.buildMux()
	return s
}

func (s *Server) needStore(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Store == nil {
			writeError(w, http.StatusServiceUnavailable, "no_store", "this server runs without an event log")
			return
		}
		h(w, r)
	}
}

// Routes lists the registered routes.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// buildMux groups the routes by path, so a known path with another method gets a JSON 405 and an
// unknown path a JSON 404 (ServeMux's own answers are plain text).
func (s *Server) buildMux() http.Handler {
	mux := http.NewServeMux()
	byPath := map[string]map[string]http.HandlerFunc{}
	var order []string
	for _, r := range s.routes {
		if byPath[r.Pattern] == nil {
			byPath[r.Pattern] = map[string]http.HandlerFunc{}
			order = append(order, r.Pattern)
		}
		if r.access == accessUndeclared {
			s.log.Error("route declares no access level; it refuses every request", "route", r.Method+" "+r.Pattern)
		}
		byPath[r.Pattern][r.Method] = s.guard(r)
	}
	for _, p := range order {
		p := p
		methods := byPath[p]
		allowHeader := strings.Join(slices.Sorted(maps.Keys(methods)), ", ")
		pattern := p
		if p == "/" {
			pattern = "/{$}"
		}
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			h, ok := methods[r.Method]
			if !ok && r.Method == http.MethodHead {
				h, ok = methods[http.MethodGet]
			}
			if !ok && legacyPath(p) {
				writeError(w, http.StatusNotFound, "not_found", "no route for "+r.Method+" "+r.URL.Path)
				return
			}
			if !ok {
				w.Header().Set("Allow", allowHeader)
				writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+allowHeader)
				return
			}
			h(w, r)
		})
	}
	if s.cfg.Web != nil {
		mux.Handle("GET /assets/", s.cfg.Web)
		mux.Handle("GET /overlay/", s.cfg.Web)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no route for "+r.Method+" "+r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w, done := s.writeDeadline(w, r)
		defer done()
		if s.cors(w, r) {
			return
		}
		// "." and ".." segments are refused rather than redirected (ServeMux answers them with an
		// HTML redirect): nothing here is a file tree.
		if p := r.URL.Path; p != "/" && path.Clean(p) != strings.TrimSuffix(p, "/") {
			writeError(w, http.StatusBadRequest, "bad_path", "the path has empty, \".\" or \"..\" segments")
			return
		}
		// The original accepted a trailing slash (/health/); so do we.
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.TrimRight(p, "/")
			if r2.URL.Path == "" {
				r2.URL.Path = "/"
			}
			r2.URL.RawPath = ""
			r = r2
		}
		mux.ServeHTTP(w, r)
	})
}

// isStream reports whether r asks for a stream (WebSocket, SSE): those set a deadline for each
// write themselves and must not get one for the whole answer.
func isStream(r *http.Request) bool {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return true
	}
	p := strings.TrimRight(r.URL.Path, "/")
	return p == "/v1/ws" || p == "/v1/events"
}

// writeDeadline bounds writing the answer to r, unless it is a stream: a client that stops
// reading is cut off after ResponseWriteTimeout instead of holding its handler (and what that
// holds) for as long as it likes. done must run when the handler returns.
func (s *Server) writeDeadline(w http.ResponseWriter, r *http.Request) (_ http.ResponseWriter, done func()) {
	rc := http.NewResponseController(w)
	// Without a server-wide WriteTimeout, net/http keeps a deadline set for an earlier answer on a
	// kept-alive connection: clear it, so it cannot cut this one short.
	rc.SetWriteDeadline(time.Time{})
	if isStream(r) {
		return w, func() {}
	}
	dw := &deadlineWriter{ResponseWriter: w, rc: rc, timeout: s.cfg.ResponseWriteTimeout}
	return dw, dw.arm // armed at the end too: net/http writes what the handler left unwritten
}

// deadlineWriter arms the write deadline when the answer starts rather than when the request
// arrives, as some handlers wait first (POST /connect waits for the room's first outcome).
// Exports extend it per chunk through http.ResponseController, which reaches the connection
// through Unwrap.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	armed   bool
}

func (w *deadlineWriter) arm() {
	if !w.armed {
		w.armed = true
		w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

func (w *deadlineWriter) WriteHeader(code int) {
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines, Flush).
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// BeginShutdown marks the server as shutting down: /readyz answers 503 and new stream clients are
// refused. It does not close anything; the program closes the rooms and the hub.
func (s *Server) BeginShutdown() { s.shuttingDown.Store(true) }

// WaitStreams waits until every WebSocket and SSE handler has returned, or ctx ends.
func (s *Server) WaitStreams(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.streams.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) triggerShutdown() {
	s.shutdownOnce.Do(func() {
		if s.cfg.Shutdown != nil {
			go s.cfg.Shutdown()
		}
	})
}

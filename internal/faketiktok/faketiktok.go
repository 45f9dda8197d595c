// Package faketiktok is a fake TikTok upstream that speaks TikTok's real wire protocol: the web pages
// and JSON routes a client resolves a user with, an Euler-style sign server, and the push WebSocket
// with gzip'd protobuf frames (../shared/spec/tiktok-protocol.md), all on one port. Every room runs
// one timeline (synthetic traffic, a capture replay, or injected messages) shared by all its
// sockets, and faults can be queued per user. The real Node client library is the judge of its
// fidelity (see TestNodeConformance).
//
// Users not configured are live with the default stream, except names starting with "offline",
// "notfound", "restricted" (age-restricted) or "blocked" (captcha page). Room ids derive from the
// name (DeriveRoomID). A sign call or socket finds a room by id only once the user was looked up
// by name (any route, RoomID, SetUser or Options.Users).
package faketiktok

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// UserKind says how TikTok answers for a user.
type UserKind string

// User kinds. Names not configured take their kind from their prefix (see kindOf).
const (
	KindLive       UserKind = "live"
	KindOffline    UserKind = "offline"
	KindNotFound   UserKind = "notfound"
	KindRestricted UserKind = "restricted" // age-restricted: room info carries a login prompt
	KindBlocked    UserKind = "blocked"    // the web host answers with a captcha page
)

func (k UserKind) valid() bool {
	switch k {
	case KindLive, KindOffline, KindNotFound, KindRestricted, KindBlocked:
		return true
	}
	return false
}

// StreamConfig describes what a room's timeline sends.
type StreamConfig struct {
	Rate        float64        // synthetic messages per second; 0 = no synthetic traffic (only Inject / capture)
	Capture     []capture.Line // if non-empty, replay these (honouring DelayMs) instead of the synthetic stream
	Loop        bool           // replay the capture forever
	HistorySize int            // recent messages in the sign answer's first batch (0 = default 10; -1 = none)
	Seed        int64          // synthetic randomness seed (0 = fixed default, so runs are reproducible)
	// EndAfter ends the broadcast after this many messages (backlog excluded): WebcastControlMessage
	// action 3, then the sockets close. The user stays live, so the next sign starts a new broadcast
	// in the same room; call SetLive(false) to model a host that went offline. 0 = never.
	EndAfter int
}

// UserConfig configures one user.
type UserConfig struct {
	Kind   UserKind
	RoomID int64 // 0: derived from the name
	Stream StreamConfig
}

// Options configures Start.
type Options struct {
	Addr    string // default "127.0.0.1:0"
	Users   map[string]UserConfig
	Default StreamConfig // stream for users not in Users
	APIKey  string       // if set, the sign routes answer 401 without X-Api-Key equal to it
	Logger  *slog.Logger // nil = discard
	// MaxEmitted bounds the log of emitted messages per room (Emitted) to about the newest this
	// many, for a fake that runs for days (the demo); 0 keeps everything, as tests compare with it.
	MaxEmitted int
}

// URLs are the base URLs a client is pointed at (all the same server).
type URLs struct {
	Web     string // www.tiktok.com: /@user/live, /api-live/user/room/
	Webcast string // webcast.tiktok.com: /webcast/room/info/, /webcast/gift/list/
	Sign    string // the Euler sign server
}

// Emitted is one message a room sent, on sockets or in a history batch.
type Emitted struct {
	MsgID  int64
	Method string
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	log        *slog.Logger
	apiKey     string
	dflt       StreamConfig
	maxEmitted int
	ln         net.Listener
	http       *http.Server
	hostPort   string

	ctx    context.Context // cancelled by Close: ends timelines and sockets
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine and socket handler the server owns

	logID atomic.Int64 // frame log ids, rising across the server

	mu      sync.Mutex
	closed  bool
	users   map[string]UserConfig // configured users (Options.Users, SetUser)
	rooms   map[string]*room      // by user name
	byID    map[int64]*room       // by room id
	closeMu sync.Once
	errc    chan error
}

// Start listens on o.Addr and serves until Close. ctx bounds only the start-up; call Close to stop.
func Start(ctx context.Context, o Options) (*Server, error) {
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faketiktok: listen %s: %w", addr, err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		log:        log,
		apiKey:     o.APIKey,
		dflt:       o.Default,
		maxEmitted: o.MaxEmitted,
		ln:         ln,
		users:      make(map[string]UserConfig),
		rooms:      make(map[string]*room),
		byID:       make(map[int64]*room),
		errc:       make(chan error, 1),
	}
	for name, c := range o.Users {
		s.users[name] = c
	}
	for name := range o.Users {
		s.room(name) // so a sign call by room id finds configured users
	}
	s.hostPort = loopbackHostPort(ln.Addr())
	s.logID.Store(time.Now().UnixMilli() * 1000)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	s.wg.Go(func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	})
	log.Info("fake tiktok listening", "addr", s.hostPort)
	return s, nil
}

// loopbackHostPort turns a wildcard listen address into one a local client can dial.
func loopbackHostPort(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// URLs returns the base URLs, all "http://HOST:PORT".
func (s *Server) URLs() URLs {
	u := "http://" + s.hostPort
	return URLs{Web: u, Webcast: u, Sign: u}
}

// HostPort returns "127.0.0.1:PORT" (the Node client's --web/--webcast form).
func (s *Server) HostPort() string { return s.hostPort }

// Close closes every socket, stops every goroutine and waits for them.
func (s *Server) Close() error {
	var err error
	s.closeMu.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if e := s.http.Shutdown(shutCtx); e != nil {
			_ = s.http.Close()
			err = fmt.Errorf("faketiktok: shutdown: %w", e)
		}
		s.wg.Wait()
		select {
		case e := <-s.errc:
			if err == nil {
				err = fmt.Errorf("faketiktok: serve: %w", e)
			}
		default:
		}
	})
	return err
}

// track registers a goroutine or handler with the server; false once Close began.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// kindOf gives the kind of an unconfigured name from its prefix.
func kindOf(name string) UserKind {
	for _, k := range []UserKind{KindOffline, KindNotFound, KindRestricted, KindBlocked} {
		if strings.HasPrefix(name, string(k)) {
			return k
		}
	}
	return KindLive
}

// DeriveRoomID is the room id an unconfigured user gets: stable for a name across runs.
func DeriveRoomID(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return 7400000000000000000 + int64(h.Sum64()%1_000_000_000_000_000)
}

// configFor returns the effective config of a user; s.mu must be held.
func (s *Server) configForLocked(name string) UserConfig {
	c, ok := s.users[name]
	if !ok {
		c = UserConfig{Kind: kindOf(name), Stream: s.dflt}
	}
	if c.Kind == "" {
		c.Kind = KindLive
	}
	if c.RoomID == 0 {
		c.RoomID = DeriveRoomID(name)
	}
	return c
}

// room returns the room of a user, creating it on first use.
func (s *Server) room(name string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rooms[name]; ok {
		return r
	}
	r := newRoom(s, name, s.configForLocked(name))
	s.rooms[name] = r
	s.byID[r.id] = r
	return r
}

// roomByID finds a room by id among the rooms created so far.
func (s *Server) roomByID(id int64) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byID[id]
}

// SetUser (re)configures a user. A running broadcast restarts with the new stream.
func (s *Server) SetUser(name string, c UserConfig) {
	s.mu.Lock()
	s.users[name] = c
	eff := s.configForLocked(name)
	r, ok := s.rooms[name]
	if !ok {
		r = newRoom(s, name, eff)
		s.rooms[name] = r
	}
	for id, x := range s.byID { // r.id belongs to r.mu; find the old entry by value
		if x == r {
			delete(s.byID, id)
		}
	}
	s.byID[eff.RoomID] = r
	s.mu.Unlock()
	if ok {
		r.reconfigure(eff)
	}
}

// SetLive flips a user between live and offline; the room keeps its id. Going offline ends the
// broadcast on every open socket (WebcastControlMessage action 3).
func (s *Server) SetLive(name string, live bool) { s.room(name).setLive(live) }

// AddFault queues a fault for a user.
func (s *Server) AddFault(name string, f Fault) { s.room(name).addFault(f) }

// Inject pushes one message into the room's stream now. It fills common.msg_id, room_id,
// create_time_ms and method where they are zero, and returns the message id.
func (s *Server) Inject(name, method string, msg proto.Message) int64 {
	return s.room(name).inject(method, msg)
}

// InjectRaw pushes raw payload bytes, sent unchanged, with a fresh message id (or msgID if non-zero).
func (s *Server) InjectRaw(name, method string, payload []byte, msgID int64) int64 {
	return s.room(name).injectRaw(method, payload, msgID)
}

// RoomID returns the room id of a user.
func (s *Server) RoomID(name string) int64 { return s.room(name).snapshot().id }

// Record returns a deep copy of what clients did for a user.
func (s *Server) Record(name string) Record { return s.room(name).record() }

// Emitted returns every message the room sent, in order.
func (s *Server) Emitted(name string) []Emitted { return s.room(name).emittedCopy() }

// nextLogID returns a fresh frame log id.
func (s *Server) nextLogID() int64 { return s.logID.Add(1) }

// parseRoomID reads a decimal room id; 0 if absent or malformed.
func parseRoomID(v string) int64 {
	id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// cloneValues deep-copies a url.Values (http.Header has Clone; url.Values does not).
func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// wireOf builds the wire message for a payload.
func wireOf(method string, payload []byte, id int64) *pb.WireMessage {
	return &pb.WireMessage{Method: method, Payload: payload, MsgId: id}
}

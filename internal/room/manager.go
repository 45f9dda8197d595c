package room

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
)

// Errors callers branch on.
var (
	ErrNotFound     = errors.New("room: not monitored")
	ErrRoomLimit    = errors.New("room: --max-rooms reached")
	ErrShuttingDown = errors.New("room: server is shutting down")
)

// Reasons of connection_closed.
const (
	ReasonRequested = "requested"
	ReasonReplaced  = "replaced"
	ReasonShutdown  = "shutdown"
)

// maxStoppedKept bounds the stopped rooms (and their streams) kept for status; the oldest go first.
const maxStoppedKept = 256

// maxSimulatedKept bounds the streams the simulator made for rooms never started: in demo mode
// anyone on the machine may simulate, for any name. Past it, the stream simulated into least
// recently is closed and forgotten (its stored position stays in the log, so simulating into it
// again continues its seq).
const maxSimulatedKept = 64

// Manager owns every room's supervisor and stream. With MaxRooms 1 (single-user mode, the original
// server's) starting a room replaces the current one.
type Manager struct {
	cfg        Config
	maxRooms   int
	pub        stream.Publisher
	streamOpts stream.Options
	ctx        context.Context
	signs      signCounter

	op sync.Mutex // serialises Start, Stop and Close (each may wait for a supervisor to end)

	mu      sync.Mutex
	rooms   map[string]*entry
	streams map[string]*stream.Room
	order   uint64
	closed  bool
	// simulated holds the keys of streams that have no room (only the simulator made them), with
	// when they were last simulated into (simTick order).
	simulated map[string]uint64
	simTick   uint64
}

type entry struct {
	sup     *Supervisor
	cancel  context.CancelFunc
	started uint64 // Start order: the latest running room is the "current user"
	reason  string // why it was stopped on purpose
}

// NewManager returns a manager whose supervisors run until ctx ends or Close.
func NewManager(ctx context.Context, cfg Config, maxRooms int, pub stream.Publisher, streamOpts stream.Options) *Manager {
	cfg.defaults()
	if maxRooms < 1 {
		maxRooms = 1
	}
	return &Manager{cfg: cfg, maxRooms: maxRooms, pub: pub, streamOpts: streamOpts, ctx: ctx,
		rooms: map[string]*entry{}, streams: map[string]*stream.Room{}, simulated: map[string]uint64{}}
}

// Key is the map key of a username: TikTok handles are case-insensitive.
func Key(username string) string { return strings.ToLower(username) }

// MaxRooms is the configured room limit.
func (m *Manager) MaxRooms() int { return m.maxRooms }

// Quota is the shared sign budget.
func (m *Manager) Quota() *Quota { return m.cfg.Quota }

// SignStats returns sign calls made, rate-limit answers and other failures.
func (m *Manager) SignStats() (calls, rateLimited, failed int64) {
	m.signs.mu.Lock()
	defer m.signs.mu.Unlock()
	return m.signs.calls, m.signs.rateLimited, m.signs.fails
}

// StartOptions change how one room is supervised.
type StartOptions struct {
	// GiveUpOffline stops the room when the host is not live, instead of waiting for them: the
	// original server's POST /connect.
	GiveUpOffline bool
}

// Start begins monitoring username (already normalised). It returns the room's status and whether it
// was started now (false: it was already running). In single-user mode another running room is
// stopped first with reason "replaced".
func (m *Manager) Start(username string, opts StartOptions) (Status, bool, error) {
	m.op.Lock()
	defer m.op.Unlock()
	key := Key(username)
	m.mu.Lock()
	if m.closed || m.ctx.Err() != nil {
		m.mu.Unlock()
		return Status{}, false, ErrShuttingDown
	}
	if e, ok := m.rooms[key]; ok && !e.stopped() {
		m.mu.Unlock()
		return e.sup.Status(), false, nil
	}
	var others []string
	for k, e := range m.rooms {
		if k != key && !e.stopped() {
			others = append(others, k)
		}
	}
	m.mu.Unlock()
	if m.maxRooms == 1 {
		for _, k := range others {
			m.stopLocked(k, ReasonReplaced)
		}
	} else if len(others) >= m.maxRooms {
		return Status{}, false, fmt.Errorf("%w: %d rooms are running; stop one or raise --max-rooms", ErrRoomLimit, len(others))
	}

	var s *stream.Room
	for {
		var err error
		if s, err = m.stream(key, false); err != nil {
			return Status{}, false, err
		}
		m.mu.Lock()
		if m.streams[key] == s {
			break // still the room's stream, and from here on it is a started room's
		}
		m.mu.Unlock() // the simulator's bound closed it meanwhile: take the next one
	}
	defer m.mu.Unlock()
	delete(m.simulated, key)
	ctx, cancel := context.WithCancel(m.ctx)
	m.order++
	sup := newSupervisor(&m.cfg, key, s, &m.signs)
	sup.giveUpOffline = opts.GiveUpOffline
	m.rooms[key] = &entry{sup: sup, cancel: cancel, started: m.order}
	m.pruneLocked()
	go sup.run(ctx)
	return sup.Status(), true, nil
}

func (e *entry) stopped() bool {
	select {
	case <-e.sup.done:
		return true
	default:
		return e.reason != ""
	}
}

// Settled waits until the room's first attempt has an outcome (connected, waiting, retrying or
// stopped) and returns its status.
func (m *Manager) Settled(ctx context.Context, username string) (Status, error) {
	m.mu.Lock()
	e, ok := m.rooms[Key(username)]
	m.mu.Unlock()
	if !ok {
		return Status{}, ErrNotFound
	}
	select {
	case <-e.sup.settled:
	case <-e.sup.done:
	case <-ctx.Done():
		return e.sup.Status(), ctx.Err()
	}
	return m.status(e), nil
}

// Stop ends monitoring of username and waits for its supervisor to finish. With a reason, clients
// get connection_closed with it; an empty reason stops silently (a connect that failed for good).
func (m *Manager) Stop(username, reason string) (Status, error) {
	m.op.Lock()
	defer m.op.Unlock()
	return m.stopLocked(Key(username), reason)
}

func (m *Manager) stopLocked(key, reason string) (Status, error) {
	m.mu.Lock()
	e, ok := m.rooms[key]
	if !ok || e.stopped() {
		m.mu.Unlock() // unknown, or stopped already (on purpose or by a final error): keep its reason
		if ok {
			return m.status(e), nil
		}
		return Status{}, ErrNotFound
	}
	if reason == "" {
		e.reason = "failed"
	} else {
		e.reason = reason
	}
	s := m.streams[key]
	m.mu.Unlock()
	e.cancel()
	<-e.sup.done
	s.FinalizeStreaks()
	e.sup.update(func(st *Status) {
		st.State, st.StopReason, st.ConnectedSince, st.NextRetryAt = StateStopped, e.reason, time.Time{}, time.Time{}
	})
	if reason != "" {
		s.Publish(event.Lifecycle(event.TypeConnectionClosed, e.sup.room(), time.Now(), event.ConnectionClosedData{Reason: reason}))
	}
	m.cfg.Logger.Info("room stopped", "room", key, "reason", e.reason)
	return m.status(e), nil
}

// Status returns the status of a room (running or stopped).
func (m *Manager) Status(username string) (Status, bool) {
	m.mu.Lock()
	e, ok := m.rooms[Key(username)]
	m.mu.Unlock()
	if !ok {
		return Status{}, false
	}
	return m.status(e), true
}

// status is e's status. m.mu must not be held; e.reason is read under it, as stopLocked writes it
// while other goroutines (HTTP handlers) ask for statuses.
func (m *Manager) status(e *entry) Status {
	// Whether it stopped is read first: a supervisor that ends after this still has a status of its
	// own, and one that ended before has its final one (with its stop reason) by now.
	m.mu.Lock()
	stopped, reason := e.stopped(), e.reason
	m.mu.Unlock()
	st := e.sup.Status()
	if stopped {
		st.State = StateStopped
		if st.StopReason == "" {
			st.StopReason = reason
		}
	}
	return st
}

// List returns every known room, running first, then by name.
func (m *Manager) List() []Status {
	m.mu.Lock()
	entries := make([]*entry, 0, len(m.rooms))
	for _, e := range m.rooms {
		entries = append(entries, e)
	}
	m.mu.Unlock()
	out := make([]Status, 0, len(entries))
	for _, e := range entries {
		out = append(out, m.status(e))
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := out[i].State == StateStopped, out[j].State == StateStopped
		if si != sj {
			return !si
		}
		return out[i].Username < out[j].Username
	})
	return out
}

// Current is the most recently started room that is still running: the original server's
// "current user".
func (m *Manager) Current() (Status, bool) {
	m.mu.Lock()
	var cur *entry
	for _, e := range m.rooms {
		if !e.stopped() && (cur == nil || e.started > cur.started) {
			cur = e
		}
	}
	m.mu.Unlock()
	if cur == nil {
		return Status{}, false
	}
	return m.status(cur), true
}

// Running reports whether username is monitored and not stopped.
func (m *Manager) Running(username string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.rooms[Key(username)]
	return ok && !e.stopped()
}

// Close stops every running room with reason shutdown (clients get connection_closed) and waits for
// the supervisors. Later Start calls fail with ErrShuttingDown.
func (m *Manager) Close() {
	m.op.Lock()
	defer m.op.Unlock()
	m.mu.Lock()
	m.closed = true
	var keys []string
	for k, e := range m.rooms {
		if !e.stopped() {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() { m.stopLocked(k, ReasonShutdown) })
	}
	wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.streams {
		s.Close()
	}
}

// Inject publishes a made-up event (the simulator) into the room's stream, creating the stream when
// the room was never started, so overlay makers can test without a live room. The event is marked
// simulated; it gets the stream's next seq like any other.
//
// Streams only the simulator made are bounded (maxSimulatedKept): past that, the one simulated
// into least recently is closed and forgotten. Simulating never fails for want of room, so a
// flood of made-up names cannot lock an overlay maker out of testing their own.
func (m *Manager) Inject(username string, e event.Event) error {
	key := Key(username)
	// A stream fetched here may be evicted before the event is in it (another 64 names simulated
	// meanwhile): then the event goes into the room's next stream.
	for range 3 {
		s, err := m.stream(key, true)
		if err != nil {
			return err
		}
		m.mu.Lock()
		en := m.rooms[key]
		m.mu.Unlock()
		var roomID string
		if en != nil {
			roomID = en.sup.Status().RoomID
		}
		e.Username, e.RoomID, e.Simulated = key, roomID, true
		if s.Publish(e) {
			return nil
		}
		m.mu.Lock()
		cur, closed := m.streams[key], m.closed
		m.mu.Unlock()
		if closed {
			return ErrShuttingDown
		}
		if cur == s {
			return nil // not closed: a msgId the stream had passed on already, dropped as always
		}
	}
	return fmt.Errorf("room: inject into %s: its stream kept being replaced", key)
}

// stream returns the room's stream, creating it if there is none; simulated marks a use by the
// simulator. A new stream asks the log where the room's stream continues, which may wait for
// the store (up to stream.New's timeout): that is done without m.mu, so status, metrics and
// other rooms never wait for it. Of two callers creating one at once the first to insert it wins
// and the other's is dropped: a stream that has published nothing holds nothing (no goroutine,
// no timer) and closing it publishes nothing.
func (m *Manager) stream(key string, simulated bool) (*stream.Room, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrShuttingDown
	}
	if s, ok := m.streams[key]; ok {
		if simulated {
			m.touchSimulatedLocked(key)
		}
		m.mu.Unlock()
		return s, nil
	}
	m.mu.Unlock()

	fresh := stream.New(key, m.pub, m.streamOpts)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		fresh.Close()
		return nil, ErrShuttingDown
	}
	s, ok := m.streams[key]
	if ok {
		fresh.Close() // another caller's came first
	} else {
		s = fresh
		m.streams[key] = s
	}
	if simulated {
		m.touchSimulatedLocked(key)
		m.evictSimulatedLocked(key)
	}
	return s, nil
}

// touchSimulatedLocked records a use of key's stream by the simulator, when no room owns it.
func (m *Manager) touchSimulatedLocked(key string) {
	if _, ok := m.rooms[key]; ok {
		return // a started room's stream is bounded with the rooms (maxStoppedKept)
	}
	m.simTick++
	m.simulated[key] = m.simTick
}

// evictSimulatedLocked closes and forgets the simulator's streams simulated into least recently
// beyond maxSimulatedKept, keeping keep (the one in use now).
func (m *Manager) evictSimulatedLocked(keep string) {
	for len(m.simulated) > maxSimulatedKept {
		oldest, at := "", uint64(0)
		for k, t := range m.simulated {
			if k != keep && (oldest == "" || t < at) {
				oldest, at = k, t
			}
		}
		if s, ok := m.streams[oldest]; ok {
			s.Close()
			delete(m.streams, oldest)
		}
		delete(m.simulated, oldest)
	}
}

// Streams returns a snapshot of every room's stream (for metrics).
func (m *Manager) Streams() []stream.Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]stream.Snapshot, 0, len(m.streams))
	for _, s := range m.streams {
		out = append(out, s.Snapshot())
	}
	return out
}

// pruneLocked forgets the oldest stopped rooms beyond maxStoppedKept.
func (m *Manager) pruneLocked() {
	var stopped []string
	for k, e := range m.rooms {
		if e.stopped() {
			stopped = append(stopped, k)
		}
	}
	if len(stopped) <= maxStoppedKept {
		return
	}
	sort.Slice(stopped, func(i, j int) bool { return m.rooms[stopped[i]].started < m.rooms[stopped[j]].started })
	for _, k := range stopped[:len(stopped)-maxStoppedKept] {
		delete(m.rooms, k)
		if s, ok := m.streams[k]; ok {
			s.Close()
			delete(m.streams, k)
		}
	}
}

package room

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// Errors callers branch on.
var (
	ErrNotFound     = errors.New("room: not monitored")
	ErrRoomLimit    = errors.New("room: --max-rooms reached")
	ErrShuttingDown = errors.New("room: server is shutting down")
	ErrUnsupported  = errors.New("room: not supported here")
)

// Reasons of connection_closed.
const (
	ReasonRequested = "requested"
	ReasonReplaced  = "replaced"
	ReasonShutdown  = "shutdown"
)

// The manager forgets rooms that are not running, the least recently used first, past a bound for
// each kind (pruneLocked):
//
//   - maxStoppedKept stopped rooms (and their streams), kept for status; used = started.
//   - maxSimulatedKept streams the simulator made for rooms never started: in demo mode anyone on
//     the machine may simulate, for any name; used = simulated into. A forgotten one's stored
//     position stays in the log, so simulating into it again continues its seq.
const (
	maxStoppedKept   = 256
	maxSimulatedKept = 64
)

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

	mu     sync.Mutex
	rooms  map[string]*entry
	order  uint64 // Start order
	tick   uint64 // simulation order
	closed bool
}

// entry is everything the manager keeps for one room: its stream and, once started, its
// supervision (run). An entry with no run is a stream only the simulator made.
type entry struct {
	stream    *stream.Room
	run       *supervision
	simulated uint64 // while run is nil: when it was last simulated into (Manager.tick order)
}

// supervision is one Start of a room. A new Start makes a new one, so a status read holding the
// old one sees the old supervisor to the end.
type supervision struct {
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
		rooms: map[string]*entry{}}
}

// Key is the manager's key of a username: webcast.ParseUsername's (name, @name or a profile URL;
// lower-cased, as TikTok handles are case-insensitive). The error, for a string that names no
// TikTok user, is a *webcast.UsernameError.
func Key(username string) (string, error) { return webcast.ParseUsername(username) }

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
	// Watch are the room's options. nil keeps those it has (a running room, or one stopped and
	// started again), or the defaults for a new one. Given for a running room, they replace its
	// options (the watch list too) and the room goes on.
	Watch *WatchOptions

	resume  *Watched  // Resume: the room as the watch list had it (already listed)
	startAt time.Time // Resume: the first attempt waits until then
}

// Start begins monitoring username (read by Key; a string that names no TikTok user is refused with
// its *webcast.UsernameError). It returns the room's status and whether it
// was started now (false: it was already running). In single-user mode another running room is
// stopped first with reason "replaced" (and leaves the watch list). A started room is kept in the
// watch list with its options.
func (m *Manager) Start(username string, opts StartOptions) (Status, bool, error) {
	key, err := Key(username)
	if err != nil {
		return Status{}, false, err
	}
	m.op.Lock()
	defer m.op.Unlock()
	m.mu.Lock()
	if m.closed || m.ctx.Err() != nil {
		m.mu.Unlock()
		return Status{}, false, ErrShuttingDown
	}
	if r := m.runLocked(key); r != nil && !r.stopped() {
		m.mu.Unlock()
		if opts.Watch != nil && *opts.Watch != r.sup.Status().Options {
			r.sup.update(func(st *Status) { st.Options = *opts.Watch })
			m.saveWatch(r.sup)
		}
		return r.sup.Status(), false, nil
	}
	var others []string
	for k, e := range m.rooms {
		if k != key && e.run != nil && !e.run.stopped() {
			others = append(others, k)
		}
	}
	m.mu.Unlock()
	if m.maxRooms == 1 {
		for _, k := range others {
			m.stopLocked(k, ReasonReplaced)
			m.unwatch(k) // single-user mode keeps the one current room
		}
	} else if len(others) >= m.maxRooms {
		return Status{}, false, fmt.Errorf("%w: %d rooms are running; stop one or raise --max-rooms", ErrRoomLimit, len(others))
	}

	e, err := m.entry(key)
	if err != nil {
		return Status{}, false, err
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.order++
	sup := newSupervisor(&m.cfg, key, e.stream, &m.signs)
	sup.giveUpOffline, sup.startAt = opts.GiveUpOffline, opts.startAt
	switch {
	case opts.resume != nil:
		sup.setState(opts.resume.State)
		if b := opts.resume.State.Live; b != nil {
			e.stream.ResumeSession(b.Totals) // a fresh stream: the broadcast's figures so far
		}
	case e.run != nil:
		// Started again in this process: the broadcast it announced, and its options, go on.
		sup.setState(e.run.sup.watchState())
		sup.st.Options = e.run.sup.Status().Options
	}
	if opts.Watch != nil {
		sup.st.Options = *opts.Watch
	}
	e.run, e.simulated = &supervision{sup: sup, cancel: cancel, started: m.order}, 0
	m.pruneLocked(key)
	m.mu.Unlock()
	if opts.resume == nil {
		m.saveWatch(sup) // before it runs: its state changes update the listed row
	}
	go sup.run(ctx)
	return sup.Status(), true, nil
}

// entry returns the room's entry, with a stream, creating both if needed. It returns with m.mu
// held (unless it fails), so the entry cannot be pruned before the caller has used it.
func (m *Manager) entry(key string) (*entry, error) {
	for {
		s, err := m.stream(key, false)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		if e := m.rooms[key]; e != nil && e.stream == s {
			return e, nil // still the room's stream, and from here on it is a started room's
		}
		m.mu.Unlock() // the simulator's bound closed it meanwhile: take the next one
	}
}

// runOf is the latest supervision of the room username names, nil if there is none (or the name is
// not a TikTok username).
func (m *Manager) runOf(username string) *supervision {
	key, err := Key(username)
	if err != nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runLocked(key)
}

// runLocked is the room's latest supervision, nil if it was never started (or was forgotten).
func (m *Manager) runLocked(key string) *supervision {
	if e := m.rooms[key]; e != nil {
		return e.run
	}
	return nil
}

func (r *supervision) stopped() bool {
	select {
	case <-r.sup.done:
		return true
	default:
		return r.reason != ""
	}
}

// Settled waits until the room's first attempt has an outcome (connected, waiting, retrying or
// stopped) and returns its status.
func (m *Manager) Settled(ctx context.Context, username string) (Status, error) {
	r := m.runOf(username)
	if r == nil {
		return Status{}, ErrNotFound
	}
	select {
	case <-r.sup.settled:
	case <-r.sup.done:
	case <-ctx.Done():
		return r.sup.Status(), ctx.Err()
	}
	return m.status(r), nil
}

// Stop ends monitoring of username and waits for its supervisor to finish. With a reason, clients
// get connection_closed with it; an empty reason stops silently (a connect that failed for good).
//
// ReasonRequested also removes the room from the watch list, even one that already stopped (or
// is only listed: a room not resumed for --max-rooms); then the status is that of a stopped room.
func (m *Manager) Stop(username, reason string) (Status, error) {
	key, err := Key(username)
	if err != nil {
		return Status{}, ErrNotFound // no room has a name TikTok would refuse
	}
	m.op.Lock()
	defer m.op.Unlock()
	st, err := m.stopLocked(key, reason)
	if reason != ReasonRequested {
		return st, err
	}
	if m.unwatch(key) && errors.Is(err, ErrNotFound) {
		return Status{Username: key, State: StateStopped, StopReason: ReasonRequested}, nil
	}
	return st, err
}

func (m *Manager) stopLocked(key, reason string) (Status, error) {
	m.mu.Lock()
	r := m.runLocked(key)
	if r == nil || r.stopped() {
		m.mu.Unlock() // unknown, or stopped already (on purpose or by a final error): keep its reason
		if r != nil {
			return m.status(r), nil
		}
		return Status{}, ErrNotFound
	}
	if reason == "" {
		r.reason = "failed"
	} else {
		r.reason = reason
	}
	s := m.rooms[key].stream
	m.mu.Unlock()
	r.cancel()
	<-r.sup.done
	s.FinalizeStreaks()
	r.sup.update(func(st *Status) {
		st.State, st.StopReason, st.ConnectedSince, st.NextRetryAt = StateStopped, r.reason, time.Time{}, time.Time{}
	})
	if reason != "" {
		s.Publish(event.Lifecycle(event.TypeConnectionClosed, r.sup.room(), time.Now(), event.ConnectionClosedData{Reason: reason}))
	}
	m.cfg.Logger.Info("room stopped", "room", key, "reason", r.reason)
	return m.status(r), nil
}

// Status returns the status of a room (running or stopped).
func (m *Manager) Status(username string) (Status, bool) {
	r := m.runOf(username)
	if r == nil {
		return Status{}, false
	}
	return m.status(r), true
}

// status is r's status. m.mu must not be held; r.reason is read under it, as stopLocked writes it
// while other goroutines (HTTP handlers) ask for statuses.
func (m *Manager) status(r *supervision) Status {
	// Whether it stopped is read first: a supervisor that ends after this still has a status of its
	// own, and one that ended before has its final one (with its stop reason) by now.
	m.mu.Lock()
	stopped, reason := r.stopped(), r.reason
	m.mu.Unlock()
	st := r.sup.Status()
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
	runs := make([]*supervision, 0, len(m.rooms))
	for _, e := range m.rooms {
		if e.run != nil {
			runs = append(runs, e.run)
		}
	}
	m.mu.Unlock()
	out := make([]Status, 0, len(runs))
	for _, r := range runs {
		out = append(out, m.status(r))
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
	var runs []*supervision
	for _, e := range m.rooms {
		if r := e.run; r != nil && !r.stopped() {
			runs = append(runs, r)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(runs, func(a, b *supervision) int { return cmp.Compare(b.started, a.started) })
	// A supervisor that has given up reports itself stopped a moment before its goroutine ends
	// (it still records its state in the watch list): it is no longer anyone's current user.
	for _, r := range runs {
		if st := m.status(r); st.State != StateStopped {
			return st, true
		}
	}
	return Status{}, false
}

// Running reports whether username is monitored and not stopped.
func (m *Manager) Running(username string) bool {
	r := m.runOf(username)
	if r == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return !r.stopped()
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
		if e.run != nil && !e.run.stopped() {
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
	for _, e := range m.rooms {
		e.stream.Close()
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
	key, err := Key(username)
	if err != nil {
		return err
	}
	// A stream fetched here may be evicted before the event is in it (another 64 names simulated
	// meanwhile): then the event goes into the room's next stream.
	for range 3 {
		s, err := m.stream(key, true)
		if err != nil {
			return err
		}
		m.mu.Lock()
		r := m.runLocked(key)
		m.mu.Unlock()
		var roomID string
		if r != nil {
			roomID = r.sup.Status().RoomID
		}
		e.Username, e.RoomID, e.Simulated = key, roomID, true
		if s.Publish(e) {
			return nil
		}
		m.mu.Lock()
		cur, closed := m.rooms[key], m.closed
		m.mu.Unlock()
		if closed {
			return ErrShuttingDown
		}
		if cur != nil && cur.stream == s {
			return nil // not closed: a msgId the stream had passed on already, dropped as always
		}
	}
	return fmt.Errorf("room: inject into %s: its stream kept being replaced", key)
}

// stream returns the room's stream, creating the room's entry if there is none; simulated marks a
// use by the simulator. A new stream asks the log where the room's stream continues, which may
// wait for the store (up to stream.New's timeout): that is done without m.mu, so status, metrics
// and other rooms never wait for it. Of two callers creating one at once the first to insert it
// wins and the other's is dropped: a stream that has published nothing holds nothing (no
// goroutine, no timer) and closing it publishes nothing.
func (m *Manager) stream(key string, simulated bool) (*stream.Room, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrShuttingDown
	}
	if e, ok := m.rooms[key]; ok {
		if simulated {
			m.touchLocked(e)
		}
		m.mu.Unlock()
		return e.stream, nil
	}
	m.mu.Unlock()

	fresh := stream.New(key, m.pub, m.streamOpts)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		fresh.Close()
		return nil, ErrShuttingDown
	}
	e, ok := m.rooms[key]
	if ok {
		fresh.Close() // another caller's came first
	} else {
		e = &entry{stream: fresh}
		m.rooms[key] = e
	}
	if simulated {
		m.touchLocked(e)
		m.pruneLocked(key)
	}
	return e.stream, nil
}

// touchLocked records a use of e's stream by the simulator.
func (m *Manager) touchLocked(e *entry) {
	if e.run != nil {
		return // a started room's stream is bounded with the stopped rooms (maxStoppedKept)
	}
	m.tick++
	e.simulated = m.tick
}

// Streams returns a snapshot of every room's stream (for metrics).
func (m *Manager) Streams() []stream.Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]stream.Snapshot, 0, len(m.rooms))
	for _, e := range m.rooms {
		out = append(out, e.stream.Snapshot())
	}
	return out
}

// pruneLocked closes and forgets the rooms that are not running, least recently used first, past
// the bound of their kind: maxStoppedKept stopped rooms (used: started) and maxSimulatedKept
// streams only the simulator made (used: last simulated into). keep, the room in use now, counts
// but is never forgotten; running rooms are never forgotten.
func (m *Manager) pruneLocked(keep string) {
	type idle struct {
		key  string
		used uint64
	}
	var stopped, simulated []idle
	for k, e := range m.rooms {
		switch {
		case e.run == nil:
			simulated = append(simulated, idle{k, e.simulated})
		case e.run.stopped():
			stopped = append(stopped, idle{k, e.run.started})
		}
	}
	for _, kind := range []struct {
		list []idle
		max  int
	}{{stopped, maxStoppedKept}, {simulated, maxSimulatedKept}} {
		over := len(kind.list) - kind.max
		if over <= 0 {
			continue
		}
		slices.SortFunc(kind.list, func(a, b idle) int { return cmp.Compare(a.used, b.used) })
		for _, x := range kind.list {
			if over == 0 {
				break
			}
			if x.key != keep {
				m.rooms[x.key].stream.Close()
				delete(m.rooms, x.key)
				over--
			}
		}
	}
}

// Forget drops a stopped room and its stream, so the next Start reads the room's position from the
// log again (cluster mode: another node may have continued the stream meanwhile). A running room
// is left alone.
func (m *Manager) Forget(username string) {
	key, err := Key(username)
	if err != nil {
		return
	}
	m.op.Lock()
	defer m.op.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.rooms[key]
	if e == nil || (e.run != nil && !e.run.stopped()) {
		return
	}
	e.stream.Close()
	delete(m.rooms, key)
}

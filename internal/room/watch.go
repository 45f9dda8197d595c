package room

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// The watch list: the rooms monitored on request (PUT /v1/rooms/{u}, POST /connect), kept by a
// WatchList (the store) so that a restarted server resumes them. A room leaves it only when it is
// removed on purpose (Stop with ReasonRequested, Unwatch) or replaced in single-user mode; a
// shutdown or a final error keeps it (a final error is tried again at the next start).

// ReasonRoomLimit is the stop reason of a listed room not resumed at start: --max-rooms was
// reached by rooms of higher priority.
const ReasonRoomLimit = "room_limit"

// maxResumeStep bounds the spacing of resumed rooms' first attempts: they are spread over one
// --live-poll interval, but no further apart than this, so a short list resumes at once.
const maxResumeStep = 250 * time.Millisecond

// WatchOptions are a room's options, kept with it in the watch list.
type WatchOptions struct {
	// Priority orders the list at start: when it holds more rooms than --max-rooms, the highest
	// priorities are resumed (ties: the earliest added), and resumed rooms start in that order.
	Priority int
	// Proxy and Upstream are kept and returned as given; nothing uses them yet (they belong to
	// per-room proxies and upstreams, which are not built).
	Proxy    string
	Upstream string
}

// Broadcast is a LIVE the room announced with live_started and has not ended.
type Broadcast struct {
	RoomID    string
	Title     string
	StartedAt time.Time
	// Totals are its figures so far, for a broadcast resumed after a restart (from the event
	// log's session summary); live_ended adds what the stream counts from then on.
	Totals event.LiveTotals
}

// WatchState is what a room's supervisor keeps in the watch list as it goes.
type WatchState struct {
	OfflineSince time.Time  // found offline, and not seen live since; zero otherwise
	LastLiveAt   time.Time  // last seen live (connected to, or found by a live check)
	Live         *Broadcast // the broadcast in progress, nil if none
}

// Watched is one room of the watch list.
type Watched struct {
	Username      string
	GiveUpOffline bool // started by POST /connect: stop rather than wait when the host is offline
	Options       WatchOptions
	AddedAt       time.Time
	State         WatchState
}

// WatchList keeps the watch list. Calls may block on the disk; they take a context.
type WatchList interface {
	// Watch inserts the room or updates an existing one (its AddedAt is kept).
	Watch(ctx context.Context, w Watched) error
	// SaveState updates a listed room's state; a room not listed is left unlisted.
	SaveState(ctx context.Context, username string, st WatchState) error
	// Unwatch removes the room and reports whether it was listed.
	Unwatch(ctx context.Context, username string) (bool, error)
	// Watched returns the whole list.
	Watched(ctx context.Context) ([]Watched, error)
}

// watchTimeout bounds one watch list call made on the way (a state change, a start, a stop).
const watchTimeout = 5 * time.Second

// ResumeReport says what Resume did.
type ResumeReport struct {
	Started []string // in the order they start
	Skipped []string // listed, but over --max-rooms: shown as stopped with ReasonRoomLimit
}

// Resume starts the rooms of the watch list, highest priority first (ties: added first), at most
// MaxRooms; the rest are kept in the list and shown as stopped with reason room_limit (a PUT
// starts one once there is room). The first attempts are spread over one --live-poll interval
// (at most maxResumeStep apart), so a long list does not ask TikTok about every room at once.
// Without a WatchList it does nothing.
func (m *Manager) Resume(ctx context.Context) (ResumeReport, error) {
	var rep ResumeReport
	wl := m.cfg.WatchList
	if wl == nil {
		return rep, nil
	}
	list, err := wl.Watched(ctx)
	if err != nil {
		return rep, fmt.Errorf("room: read the watch list: %w", err)
	}
	slices.SortFunc(list, func(a, b Watched) int {
		return cmp.Or(cmp.Compare(b.Options.Priority, a.Options.Priority), a.AddedAt.Compare(b.AddedAt), cmp.Compare(a.Username, b.Username))
	})
	n := min(len(list), m.maxRooms)
	var step time.Duration
	if n > 0 {
		step = min(m.cfg.LivePoll/time.Duration(n), maxResumeStep)
	}
	now := time.Now()
	for i, w := range list {
		key, err := Key(w.Username)
		if err != nil {
			m.cfg.Logger.Warn("watch list: not a TikTok username; left alone", "room", w.Username)
			continue
		}
		w.Username = key
		if len(rep.Started) >= n {
			if err := m.addSkipped(w); err != nil {
				return rep, err
			}
			rep.Skipped = append(rep.Skipped, key)
			continue
		}
		opts := StartOptions{GiveUpOffline: w.GiveUpOffline, Watch: &w.Options, resume: &w, startAt: now.Add(time.Duration(i) * step)}
		if _, _, err := m.Start(key, opts); err != nil {
			return rep, fmt.Errorf("room: resume %s: %w", key, err)
		}
		rep.Started = append(rep.Started, key)
	}
	return rep, nil
}

// addSkipped makes a listed room known as stopped with ReasonRoomLimit, with its options and
// state, so status shows it and a PUT starts it.
func (m *Manager) addSkipped(w Watched) error {
	m.op.Lock()
	defer m.op.Unlock()
	e, err := m.entry(w.Username)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	sup := newSupervisor(&m.cfg, w.Username, e.stream, &m.signs)
	sup.giveUpOffline = w.GiveUpOffline
	sup.setState(w.State)
	msg := fmt.Sprintf("not resumed at start: --max-rooms %d was reached by rooms of higher priority", m.maxRooms)
	sup.st.State, sup.st.StopReason, sup.st.Options = StateStopped, ReasonRoomLimit, w.Options
	sup.st.LastError = &ErrorInfo{Code: ReasonRoomLimit, Message: msg, At: time.Now().UTC()}
	close(sup.settled)
	close(sup.done)
	m.order++
	e.run, e.simulated = &supervision{sup: sup, cancel: func() {}, started: m.order, reason: ReasonRoomLimit}, 0
	m.pruneLocked(w.Username)
	return nil
}

// Unwatch removes the room from the watch list (not from the manager) and reports whether it was
// listed.
func (m *Manager) Unwatch(username string) bool {
	key, err := Key(username)
	if err != nil {
		return false
	}
	return m.unwatch(key)
}

func (m *Manager) unwatch(key string) bool {
	wl := m.cfg.WatchList
	if wl == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	ok, err := wl.Unwatch(ctx, key)
	if err != nil {
		m.cfg.Logger.Warn("watch list: cannot remove the room; it may be resumed at the next start", "room", key, "err", err)
	}
	return ok
}

// saveWatch lists the room with its supervisor's options and state.
func (m *Manager) saveWatch(sup *Supervisor) {
	wl := m.cfg.WatchList
	if wl == nil {
		return
	}
	st := sup.Status()
	w := Watched{Username: sup.username, GiveUpOffline: sup.giveUpOffline, Options: st.Options, AddedAt: time.Now().UTC(), State: sup.watchState()}
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	if err := wl.Watch(ctx, w); err != nil {
		m.cfg.Logger.Warn("watch list: cannot keep the room; it will not be resumed after a restart", "room", sup.username, "err", err)
	}
}

// liveCheckDelay is the wait before a live check of an offline host. The first one after the host
// is found offline is uniform in [poll/2, 3·poll/2), so rooms found offline together (a restart
// resuming 200) spread over an interval; the later ones are uniform in [0.9·poll, 1.1·poll], so
// they stay spread instead of falling into step. randN(n) returns a value in [0, n).
func liveCheckDelay(poll time.Duration, first bool, randN func(int64) int64) time.Duration {
	if poll <= 0 {
		poll = DefaultLivePoll
	}
	if first {
		return poll/2 + time.Duration(randN(int64(poll)))
	}
	return poll - poll/10 + time.Duration(randN(int64(poll/5)+1))
}

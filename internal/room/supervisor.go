// Package room supervises upstream connections: one goroutine per monitored room that resolves the
// host, waits for them to go live, connects, watches the socket and reconnects with backoff, and a
// Manager that enforces single-user or max-rooms mode and shares one sign budget. Every state change
// is a lifecycle event (events.md) published through the room's stream, and visible in Status.
package room

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// State is where a room's supervisor is.
type State string

// States. Stopped is final: the room was disconnected on purpose or failed for good.
const (
	StateConnecting     State = "connecting"
	StateConnected      State = "connected"
	StateReconnecting   State = "reconnecting"
	StateWaitingForLive State = "waiting_for_live"
	StateRateLimited    State = "rate_limited"
	StateStopped        State = "stopped"
)

// Defaults for Config.
const (
	DefaultBackoffBase = time.Second
	DefaultBackoffCap  = time.Minute
	DefaultLivePoll    = 30 * time.Second
	// stableAfter is how long a connection must last before the backoff starts again from the
	// bottom, so a room that connects and drops at once does not hammer the sign server.
	stableAfter = 30 * time.Second
)

// Upstream is what a supervisor needs from TikTok (webcast.Client).
type Upstream interface {
	Resolve(ctx context.Context, username string) (webcast.RoomInfo, error)
	LiveStatus(ctx context.Context, username string) (webcast.RoomInfo, error)
	Connect(ctx context.Context, signer webcast.Signer, req webcast.ConnectRequest) (*webcast.Session, error)
}

// Config is shared by every supervisor of a Manager.
type Config struct {
	Upstream          Upstream
	Signer            webcast.Signer
	Quota             *Quota        // nil = unlimited
	BackoffBase       time.Duration // first reconnect delay bound; 0 = DefaultBackoffBase
	BackoffCap        time.Duration // 0 = DefaultBackoffCap
	LivePoll          time.Duration // offline: how often to check; 0 = DefaultLivePoll
	StallTimeout      time.Duration // no frame this long: reconnect; 0 = webcast.DefaultStallTimeout
	HeartbeatInterval time.Duration // 0 = webcast default
	Logger            *slog.Logger
	// Recorder, if set, gets every raw upstream message before it is converted (--record).
	Recorder Recorder
	// WatchList, if set, keeps the monitored rooms, their options and state, for Resume.
	WatchList WatchList
}

// Recorder keeps raw upstream messages: the store's capture of a session.
type Recorder interface {
	AppendRaw(room, method string, msgID int64, payload []byte, at time.Time)
}

func (c *Config) defaults() {
	if c.BackoffBase <= 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = DefaultBackoffCap
	}
	if c.LivePoll <= 0 {
		c.LivePoll = DefaultLivePoll
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = webcast.DefaultStallTimeout
	}
	if c.Quota == nil {
		c.Quota = NewQuota(0)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// ErrorInfo is the last failure of a room, as clients see it.
type ErrorInfo struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// Status is a room's supervisor state plus its stream's figures.
type Status struct {
	Username       string
	State          State
	RoomID         string
	ConnectedSince time.Time // zero unless connected
	ConnectedAt    time.Time // the last successful connect (kept after a drop)
	Reconnects     int       // connections that dropped and were re-established or retried
	Attempt        int       // consecutive failed attempts (0 when healthy)
	Attempts       int       // connect attempts in total
	NextRetryAt    time.Time // the next connect or live check, when waiting
	LastError      *ErrorInfo
	StopReason     string // why it stopped (requested, replaced, shutdown, or an error code)
	LastStable     bool   // the last connection lasted long enough to reset the backoff
	Options        WatchOptions
	OfflineSince   time.Time // found offline and not seen live since; zero otherwise
	NextCheckAt    time.Time // the next live check, while waiting for live
	LastLiveAt     time.Time // last seen live: now while connected; zero if never seen live
	Stream         stream.Snapshot
	Owner          string // cluster mode: the node running the room ("" on a single node, or between owners)
}

// Supervisor runs one room. It is created and owned by a Manager.
type Supervisor struct {
	cfg      *Config
	username string
	stream   *stream.Room
	log      *slog.Logger
	signs    *signCounter

	giveUpOffline bool
	startAt       time.Time // the first attempt waits until then (Resume spreads rooms out)
	endAction     string    // the action of the streamEnd the current session ended with; run's own

	mu      sync.Mutex
	st      Status
	live    *Broadcast       // announced with live_started, not ended
	info    webcast.RoomInfo // the latest resolve or live check that named a room
	settled chan struct{}    // closed at the first outcome of the first attempt
	done    chan struct{}    // closed when run returns
}

func newSupervisor(cfg *Config, username string, s *stream.Room, signs *signCounter) *Supervisor {
	return &Supervisor{
		cfg: cfg, username: username, stream: s, signs: signs,
		log:     cfg.Logger.With("room", username),
		st:      Status{Username: username, State: StateConnecting},
		settled: make(chan struct{}), done: make(chan struct{}),
	}
}

// Status returns the supervisor's state with its stream's snapshot.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	st := s.st
	if st.LastError != nil {
		e := *st.LastError
		st.LastError = &e
	}
	s.mu.Unlock()
	if st.State == StateConnected {
		st.LastLiveAt = time.Now()
	}
	st.Stream = s.stream.Snapshot()
	return st
}

// setState gives a supervisor that has not run yet the state a watch list (or its previous run)
// kept.
func (s *Supervisor) setState(w WatchState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.OfflineSince, s.st.LastLiveAt = w.OfflineSince, w.LastLiveAt
	if w.Live != nil {
		b := *w.Live
		s.live = &b
	}
}

// watchState is what the watch list keeps of the supervisor.
func (s *Supervisor) watchState() WatchState {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := WatchState{OfflineSince: s.st.OfflineSince, LastLiveAt: s.st.LastLiveAt}
	if s.live != nil {
		b := *s.live
		w.Live = &b
	}
	return w
}

// persist writes the state to the watch list. It runs on state changes only (a broadcast starts
// or ends, the host is found offline), so it is rare; a failure costs only accuracy after a
// restart.
func (s *Supervisor) persist() {
	wl := s.cfg.WatchList
	if wl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	if err := wl.SaveState(ctx, s.username, s.watchState()); err != nil {
		s.log.Warn("watch list: cannot save the room's state", "err", err)
	}
}

// noteInfo keeps what TikTok said of the room: the title and start of a broadcast it connects to.
func (s *Supervisor) noteInfo(info webcast.RoomInfo) {
	if info.RoomID == "" {
		return
	}
	s.mu.Lock()
	s.info = info
	s.mu.Unlock()
}

// beginBroadcast announces the broadcast of the room just connected to, unless it was announced
// already (a reconnect, or a restart in its middle). A broadcast announced in another room ended
// unseen: it is ended first.
func (s *Supervisor) beginBroadcast(roomID string) {
	now := time.Now()
	s.mu.Lock()
	prev, info := s.live, s.info
	s.mu.Unlock()
	if prev != nil && prev.RoomID != roomID {
		s.endBroadcast(event.LiveEndedNewBroadcast)
		prev = nil
	}
	if prev == nil {
		b := &Broadcast{RoomID: roomID, StartedAt: now.UTC()}
		if info.RoomID == roomID {
			b.Title = info.Title
			if !info.StartedAt.IsZero() && !info.StartedAt.After(now) {
				b.StartedAt = info.StartedAt
			}
		}
		s.mu.Lock()
		s.live = b
		s.mu.Unlock()
		s.emit(event.TypeLiveStarted, event.LiveStartedData{RoomID: b.RoomID, Title: b.Title, StartedAt: b.StartedAt})
	}
	s.update(func(st *Status) { st.LastLiveAt, st.OfflineSince = now, time.Time{} })
	s.persist()
}

// endBroadcast announces the end of the broadcast in progress, if there is one. The stream adds
// the totals.
func (s *Supervisor) endBroadcast(reason string) {
	s.mu.Lock()
	b := s.live
	s.live = nil
	s.mu.Unlock()
	if b == nil {
		return
	}
	now := time.Now()
	s.log.Info("broadcast ended", "reason", reason, "roomId", b.RoomID)
	s.emit(event.TypeLiveEnded, event.LiveEndedData{RoomID: b.RoomID, Reason: reason, Title: b.Title, StartedAt: b.StartedAt,
		DurationMs: max(now.Sub(b.StartedAt).Milliseconds(), 0)})
	s.persist()
}

// markOffline notes that the host is not live: the broadcast in progress (one whose streamEnd
// was not seen) is over, and the room is offline since now unless it was already.
func (s *Supervisor) markOffline() {
	s.endBroadcast(event.LiveEndedOffline)
	changed := false
	s.update(func(st *Status) {
		if st.OfflineSince.IsZero() {
			st.OfflineSince, changed = time.Now(), true
		}
	})
	if changed {
		s.persist()
	}
}

// markLive notes that a resolve or live check found the host live (a connect follows).
func (s *Supervisor) markLive() {
	changed := false
	s.update(func(st *Status) {
		changed = !st.OfflineSince.IsZero()
		st.OfflineSince, st.LastLiveAt = time.Time{}, time.Now()
	})
	if changed {
		s.persist()
	}
}

func (s *Supervisor) update(f func(st *Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
	if s.st.State != StateConnecting {
		select {
		case <-s.settled:
		default:
			close(s.settled)
		}
	}
}

func (s *Supervisor) room() event.Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return event.Room{Username: s.username, RoomID: s.st.RoomID}
}

func (s *Supervisor) emit(typ string, data event.Data) {
	s.stream.Publish(event.Lifecycle(typ, s.room(), time.Now(), data))
}

func (s *Supervisor) fail(code string, err error, retryable bool) {
	msg := err.Error()
	s.update(func(st *Status) { st.LastError = &ErrorInfo{Code: code, Message: msg, At: time.Now().UTC()} })
	s.emit(event.TypeError, event.ErrorData{Code: code, Message: msg, Retryable: retryable})
}

// run is the supervisor's life: connect, watch, reconnect, until ctx ends or a final error.
func (s *Supervisor) run(ctx context.Context) {
	defer close(s.done)
	if !s.startAt.IsZero() {
		s.update(func(st *Status) { st.NextRetryAt = s.startAt })
		if !sleepUntil(ctx, s.startAt) {
			return
		}
		s.update(func(st *Status) { st.NextRetryAt = time.Time{} })
	}
	roomID := ""         // the broadcast's room; it changes from one broadcast to the next
	skipResolve := false // roomID is fresh: a reconnect to a live room, or a live check just found it
	for ctx.Err() == nil {
		s.update(func(st *Status) { st.Attempts++ })
		if roomID == "" || !skipResolve {
			info, err := s.resolve(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case err == nil:
				roomID = info.RoomID
				s.markLive()
			case errors.Is(err, webcast.ErrOffline) && s.giveUpOffline:
				s.markOffline()
				s.stop("user_offline", err)
				return
			case errors.Is(err, webcast.ErrOffline):
				s.fail("user_offline", err, true)
				var ok bool
				if roomID, ok = s.waitForLive(ctx); !ok {
					return
				}
			case isFinal(err):
				s.stop(errorCode(err), err)
				return
			default:
				if !s.retry(ctx, errorCode(err), err) {
					return
				}
				continue
			}
		}
		skipResolve = false
		// One token of the shared sign budget per connect: it pays for the sign call. Resolves
		// and live checks ask TikTok's web routes, not the sign server, and take none.
		if !s.takeQuota(ctx) {
			return
		}
		sess, err := s.connect(ctx, roomID)
		if ctx.Err() != nil {
			if sess != nil {
				sess.Close()
			}
			return
		}
		if err != nil {
			switch {
			case isFinal(err):
				s.stop(errorCode(err), err)
				return
			case !s.retry(ctx, errorCode(err), err):
				return
			}
			roomID = "" // resolve again: the room may have changed
			continue
		}
		end := s.watch(ctx, sess)
		if ctx.Err() != nil {
			return
		}
		var ok bool
		if roomID, ok = s.afterDrop(ctx, roomID, end); !ok {
			return
		}
		skipResolve = true
	}
}

func (s *Supervisor) resolve(ctx context.Context) (webcast.RoomInfo, error) {
	info, err := s.cfg.Upstream.Resolve(ctx, s.username)
	if info.RoomID != "" {
		s.update(func(st *Status) { st.RoomID = info.RoomID })
	}
	if err == nil {
		s.noteInfo(info)
	}
	return info, err
}

func (s *Supervisor) connect(ctx context.Context, roomID string) (*webcast.Session, error) {
	signer := countingSigner{s.cfg.Signer, s.signs}
	return s.cfg.Upstream.Connect(ctx, signer, webcast.ConnectRequest{
		RoomID: roomID, UniqueID: s.username, StallTimeout: s.cfg.StallTimeout, HeartbeatInterval: s.cfg.HeartbeatInterval,
		OnFrameError: func(err error) { s.log.Debug("bad frame", "err", err) },
	})
}

// watch runs a connected session until it ends and returns why.
func (s *Supervisor) watch(ctx context.Context, sess *webcast.Session) error {
	now := time.Now()
	s.update(func(st *Status) {
		st.State, st.RoomID, st.ConnectedSince, st.ConnectedAt, st.NextRetryAt = StateConnected, sess.RoomID(), now, now, time.Time{}
	})
	s.log.Info("connected", "roomId", sess.RoomID())
	s.emit(event.TypeConnectionCreated, event.ConnectionCreatedData{RoomID: sess.RoomID(), IsLive: true})
	s.beginBroadcast(sess.RoomID())
	room := s.room()
	rec := s.cfg.Recorder
	s.endAction = ""
	err := sess.Run(ctx, func(m webcast.Message) {
		if rec != nil {
			rec.AppendRaw(s.username, m.Method, m.MsgID, m.Payload, m.ReceivedAt)
		}
		e := webcast.ToEvent(&m, room)
		if d, ok := e.Data.(event.StreamEndData); ok {
			s.endAction = d.Action
		}
		s.stream.Publish(e)
	})
	stable := time.Since(now) >= stableAfter
	s.update(func(st *Status) {
		st.State, st.ConnectedSince, st.LastStable, st.LastLiveAt = StateConnecting, time.Time{}, stable, time.Now()
		if stable {
			st.Attempt = 0
		}
	})
	return err
}

// afterDrop reports the end of a session and waits before the next attempt. It returns the room to
// connect to next (a new broadcast has a new one), and false in ok when the supervisor must end.
func (s *Supervisor) afterDrop(ctx context.Context, roomID string, end error) (next string, ok bool) {
	s.update(func(st *Status) { st.Reconnects++ })
	switch {
	case errors.Is(end, webcast.ErrStreamEnded):
		s.log.Info("stream ended")
		s.emit(event.TypeDisconnected, event.DisconnectedData{Reason: "stream_end", WillRetry: true, RetryInMs: 0})
		why := event.LiveEndedByHost
		if s.endAction == event.LiveEndedSuspended {
			why = event.LiveEndedSuspended
		}
		s.endBroadcast(why)
		// The host may start again at once (a new broadcast) or go offline.
		info, err := s.liveStatus(ctx)
		if ctx.Err() != nil {
			return "", false
		}
		if err == nil && info.Live {
			// Live again at once. Back off unless the last broadcast lasted, so a host whose
			// broadcasts end as soon as they start does not make us loop.
			if s.Status().LastStable {
				return info.RoomID, true
			}
			attempt, delay := s.nextBackoff()
			return info.RoomID, s.wait(ctx, StateReconnecting, attempt, delay)
		}
		return s.waitForLive(ctx)
	case errors.Is(end, webcast.ErrStalled):
		silent := s.cfg.StallTimeout.Milliseconds()
		s.log.Warn("upstream stalled", "silentMs", silent)
		s.emit(event.TypeStalled, event.StalledData{SilentMs: silent})
		// Resolve again: a silent room may be a broadcast that ended unseen while a new one runs.
		return "", s.reconnect(ctx, "stalled", end)
	default:
		s.log.Warn("upstream closed", "err", end)
		return roomID, s.reconnect(ctx, "upstream_closed", end)
	}
}

// reconnect announces a drop and waits out the backoff.
func (s *Supervisor) reconnect(ctx context.Context, reason string, cause error) bool {
	attempt, delay := s.nextBackoff()
	s.update(func(st *Status) {
		st.LastError = &ErrorInfo{Code: reason, Message: cause.Error(), At: time.Now().UTC()}
	})
	s.emit(event.TypeDisconnected, event.DisconnectedData{Reason: reason, WillRetry: true, RetryInMs: delay.Milliseconds()})
	return s.wait(ctx, StateReconnecting, attempt, delay)
}

// retry handles a failed attempt: a rate limit waits for the sign server's time, anything else
// backs off.
func (s *Supervisor) retry(ctx context.Context, code string, err error) bool {
	s.fail(code, err, true)
	if errors.Is(err, webcast.ErrSignRateLimited) {
		attempt, delay := s.nextBackoff()
		until := time.Now().Add(delay)
		if at := webcast.RetryAt(err); !at.IsZero() {
			until = at // Retry-After wins over our backoff
		}
		s.update(func(st *Status) { st.State, st.Attempt, st.NextRetryAt = StateRateLimited, attempt, until })
		s.emit(event.TypeRateLimited, event.RateLimitedData{RetryAt: until})
		s.log.Warn("sign server rate limit", "retryAt", until)
		return sleepUntil(ctx, until)
	}
	attempt, delay := s.nextBackoff()
	s.log.Warn("connect failed", "code", code, "err", err, "retryInMs", delay.Milliseconds())
	return s.wait(ctx, StateReconnecting, attempt, delay)
}

func (s *Supervisor) wait(ctx context.Context, state State, attempt int, delay time.Duration) bool {
	until := time.Now().Add(delay)
	s.update(func(st *Status) { st.State, st.Attempt, st.NextRetryAt = state, attempt, until })
	s.emit(event.TypeReconnecting, event.ReconnectingData{Attempt: attempt, DelayMs: delay.Milliseconds()})
	return sleepUntil(ctx, until)
}

// nextBackoff counts a failed attempt and draws its delay: full jitter, uniform in
// [0, min(cap, base·2^(attempt-1))].
func (s *Supervisor) nextBackoff() (int, time.Duration) {
	s.mu.Lock()
	s.st.Attempt++
	attempt := s.st.Attempt
	s.mu.Unlock()
	return attempt, Backoff(attempt, s.cfg.BackoffBase, s.cfg.BackoffCap, rand.Int64N)
}

// Backoff is the full-jitter delay of a 1-based attempt; randN(n) returns a value in [0, n).
func Backoff(attempt int, base, cap time.Duration, randN func(int64) int64) time.Duration {
	bound := cap
	// base·2^s <= cap exactly when base <= cap>>s (s >= 64 gives 0), so the shift cannot overflow.
	if s := attempt - 1; base > 0 && base <= cap>>s {
		bound = base << s
	}
	if bound == math.MaxInt64 {
		bound = math.MaxInt64 - 1 // randN's argument must stay positive
	}
	return time.Duration(randN(int64(bound) + 1))
}

// waitForLive polls the cheap live check (one request to TikTok's web API, no sign call, no sign
// quota) until the host is live and returns the room of their broadcast; ok is false when ctx
// ended. The checks are jittered around --live-poll (liveCheckDelay), so many offline rooms do not
// check at once.
func (s *Supervisor) waitForLive(ctx context.Context) (roomID string, ok bool) {
	s.markOffline()
	next := time.Now().Add(liveCheckDelay(s.cfg.LivePoll, true, rand.Int64N))
	s.update(func(st *Status) {
		st.State, st.NextRetryAt, st.NextCheckAt, st.ConnectedSince = StateWaitingForLive, next, next, time.Time{}
	})
	s.emit(event.TypeWaitingForLive, event.WaitingForLiveData{NextCheckAt: next})
	defer s.update(func(st *Status) { st.NextCheckAt = time.Time{} })
	for {
		if !sleepUntil(ctx, next) {
			return "", false
		}
		info, err := s.liveStatus(ctx)
		if ctx.Err() != nil {
			return "", false
		}
		if err == nil && info.Live {
			s.update(func(st *Status) { st.State, st.NextRetryAt, st.Attempt = StateConnecting, time.Time{}, 0 })
			s.markLive()
			return info.RoomID, true
		}
		if err != nil {
			s.log.Debug("live check failed", "err", err)
		}
		next = time.Now().Add(liveCheckDelay(s.cfg.LivePoll, false, rand.Int64N))
		s.update(func(st *Status) { st.NextRetryAt, st.NextCheckAt = next, next })
	}
}

// liveStatus asks, by username, whether the host is live (TikTok gives every broadcast a new room
// id, so the old one cannot tell). A live answer always has a room id. It takes no sign quota.
func (s *Supervisor) liveStatus(ctx context.Context) (webcast.RoomInfo, error) {
	info, err := s.cfg.Upstream.LiveStatus(ctx, s.username)
	if err == nil && info.Live && info.RoomID == "" {
		err = fmt.Errorf("live status of @%s: live without a room id", s.username)
	}
	if err == nil && info.RoomID != "" {
		s.update(func(st *Status) { st.RoomID = info.RoomID })
	}
	if err == nil && info.Live {
		s.noteInfo(info)
	}
	return info, err
}

// takeQuota waits for a sign token; while it waits the room shows as rate limited.
func (s *Supervisor) takeQuota(ctx context.Context) bool {
	wait, cancel := s.cfg.Quota.Reserve()
	if wait <= 0 {
		return ctx.Err() == nil
	}
	until := time.Now().Add(wait)
	var prev State
	s.update(func(st *Status) { prev, st.State, st.NextRetryAt = st.State, StateRateLimited, until })
	s.emit(event.TypeRateLimited, event.RateLimitedData{RetryAt: until})
	s.log.Info("sign quota exhausted, waiting", "retryAt", until)
	if !sleepUntil(ctx, until) {
		cancel()
		return false
	}
	s.update(func(st *Status) { st.State = prev })
	return true
}

// stop ends the supervisor on a final error.
func (s *Supervisor) stop(code string, err error) {
	s.log.Warn("giving up", "code", code, "err", err)
	s.fail(code, err, false)
	s.update(func(st *Status) {
		st.State, st.StopReason, st.NextRetryAt, st.ConnectedSince = StateStopped, code, time.Time{}, time.Time{}
	})
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// isFinal: errors that waiting will not fix.
func isFinal(err error) bool {
	return errors.Is(err, webcast.ErrUserNotFound) || errors.Is(err, webcast.ErrAgeRestricted) ||
		errors.Is(err, webcast.ErrSignPayment)
}

// errorCode maps an upstream error to the error event's code (the original server's words first).
func errorCode(err error) string {
	switch webcast.KindOf(err) {
	case webcast.KindUserNotFound:
		return "room_not_found"
	case webcast.KindOffline:
		return "user_offline"
	case webcast.KindSignRateLimited:
		return "rate_limited"
	case webcast.KindAgeRestricted:
		return "age_restricted"
	case webcast.KindSignPayment:
		return "sign_payment_required"
	case webcast.KindBlocked, webcast.KindHandshake:
		return "blocked"
	}
	return "connect_failed"
}

// signCounter counts sign calls and rate-limit answers for metrics.
type signCounter struct {
	mu                        sync.Mutex
	calls, rateLimited, fails int64
}

type countingSigner struct {
	inner webcast.Signer
	n     *signCounter
}

func (c countingSigner) Sign(ctx context.Context, req webcast.SignRequest) (*webcast.SignResult, error) {
	res, err := c.inner.Sign(ctx, req)
	c.n.mu.Lock()
	c.n.calls++
	if errors.Is(err, webcast.ErrSignRateLimited) {
		c.n.rateLimited++
	} else if err != nil {
		c.n.fails++
	}
	c.n.mu.Unlock()
	return res, err
}

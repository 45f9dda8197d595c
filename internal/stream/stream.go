// Package stream is a room's ordered event stream: it numbers events (seq within an epoch), drops
// TikTok messages it has already passed on (by msgId, in a bounded window), tracks gift streaks so
// every streak ends exactly once (finalising those whose end never arrives), keeps the room's
// counters, encodes each event once and hands it to the hub.
//
// Every event of a room goes through one Room, under one lock, so seq order is publish order.
package stream

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
)

// Publisher receives each event once it has its seq (the hub).
type Publisher interface {
	Publish(m *hub.Message)
}

// Log is where events go before subscribers see them: the store. Append must not block; the log
// hands m to the publisher once the event is committed, in append order.
type Log interface {
	// Position is where the room's stream continues (the zero Position for a room the log has not
	// seen).
	Position(ctx context.Context, room string) (event.Position, error)
	Append(e *event.Event, m *event.Encoded)
}

// Defaults for Options.
const (
	DefaultDedupWindow   = 10000
	DefaultStreakTimeout = 10 * time.Second
	maxOpenStreaks       = 4096 // a room with more running streaks than this finalises the oldest early
)

// Options configures a Room.
type Options struct {
	DedupWindow   int           // msgIds remembered; 0 = DefaultDedupWindow
	StreakTimeout time.Duration // a type-1 streak silent this long is finalised; 0 = DefaultStreakTimeout
	Now           func() time.Time
	Logger        *slog.Logger
	// OnPublish, if set, is called (under the room's lock, so in seq order) for every event published.
	// It must not block; metrics use it.
	OnPublish func(e *event.Event)
	// Log, if set, receives every event first; it publishes the hub message after committing it.
	// Without it events go straight to the publisher.
	Log Log
}

// Counters are the room's running figures.
type Counters struct {
	Viewers           int64 `json:"viewers"`  // the last viewer count TikTok reported
	Likes             int64 `json:"likes"`    // the room's like total (TikTok's, or our sum when it sends none)
	Diamonds          int64 `json:"diamonds"` // each streak counted once, at its end
	Follows           int64 `json:"follows"`
	Shares            int64 `json:"shares"`
	Events            int64 `json:"events"` // events published
	DuplicatesDropped int64 `json:"duplicatesDropped"`
	StreaksTimedOut   int64 `json:"streaksTimedOut"`
}

// Snapshot is a copy of the room's stream state.
type Snapshot struct {
	Username       string
	event.Position // the last seq issued, in the stream's epoch
	LastEventAt    time.Time
	Counters       Counters
	EventCounts    map[string]int64
	OpenStreaks    int
}

// Room is one room's stream. Safe for concurrent use.
type Room struct {
	key  string // lower-case username: the hub's room key
	opts Options

	mu          sync.Mutex
	epoch       string
	seq         uint64
	dedup       idWindow
	streaks     map[string]*openStreak
	timer       *time.Timer
	timerAt     time.Time
	counters    Counters
	likeSum     int64
	eventCounts map[string]int64
	lastEventAt time.Time
	// The broadcast announced by live_started, until live_ended: its figures (session) go into
	// live_ended's totals.
	inSession  bool
	session    event.LiveTotals
	sessionSum int64 // likes summed over the session's like events
	closed     bool
	pub        Publisher
	scratch    []byte // the encoding buffer, reused
}

type openStreak struct {
	last     event.Event // the latest step
	deadline time.Time
}

// New returns the stream of the room with this username, publishing to pub, with a fresh epoch.
func New(username string, pub Publisher, opts Options) *Room {
	if opts.DedupWindow <= 0 {
		opts.DedupWindow = DefaultDedupWindow
	}
	if opts.StreakTimeout <= 0 {
		opts.StreakTimeout = DefaultStreakTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Room{
		key: strings.ToLower(username), opts: opts, epoch: NewEpoch(), pub: pub,
		dedup: newIDWindow(opts.DedupWindow), streaks: map[string]*openStreak{}, eventCounts: map[string]int64{},
	}
	if opts.Log != nil {
		// Continue the stream the log knows, so a restart neither reuses a seq nor makes every
		// client reload: seq goes on in the same epoch.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		pos, err := opts.Log.Position(ctx, r.key)
		cancel()
		switch {
		case err != nil:
			opts.Logger.Warn("cannot read the room's stream position; starting a new epoch", "room", r.key, "err", err)
		case pos.Epoch != "":
			r.epoch, r.seq = pos.Epoch, pos.Seq
		}
	}
	return r
}

// NewEpoch returns a fresh stream identity: 16 hex digits.
func NewEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Key is the room's key in the hub (the lower-case username).
func (r *Room) Key() string { return r.key }

// Publish sequences e and hands it to the hub, unless it is a TikTok message already passed on (then
// it returns false). Gift events get their final streak state here.
func (r *Room) Publish(e event.Event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if e.ID != "" && r.dedup.seen(e.ID) {
		r.counters.DuplicatesDropped++
		return false
	}
	if e.Type == event.TypeGift {
		e = r.trackStreak(e)
	}
	r.publishLocked(&e)
	return true
}

// FinalizeStreaks ends every running streak now (a room being stopped), exactly as a timeout would.
func (r *Room) FinalizeStreaks() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finalizeAllLocked()
}

func (r *Room) finalizeAllLocked() {
	for k, s := range r.streaks {
		r.finalizeLocked(k, s)
	}
}

// Close finalises running streaks and stops the streak timer; later Publish calls are ignored.
// Finalising and closing happen under one lock, so no streak can open in between and never end.
func (r *Room) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finalizeAllLocked()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
}

// Snapshot returns a copy of the stream's state.
func (r *Room) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := make(map[string]int64, len(r.eventCounts))
	for k, v := range r.eventCounts {
		counts[k] = v
	}
	return Snapshot{Username: r.key, Position: event.Position{Epoch: r.epoch, Seq: r.seq}, LastEventAt: r.lastEventAt, Counters: r.counters,
		EventCounts: counts, OpenStreaks: len(r.streaks)}
}

func (r *Room) publishLocked(e *event.Event) {
	r.seq++
	e.Seq, e.Epoch = r.seq, r.epoch
	r.count(e)
	r.lastEventAt = r.opts.Now()
	// Encode into the room's scratch buffer, then copy once at the exact size: the bytes are shared
	// by every client, so they must be their own allocation, but need not grow into it.
	r.scratch = e.AppendJSON(r.scratch[:0])
	m := &hub.Message{Room: r.key, Type: e.Type, Seq: e.Seq, Epoch: r.epoch, JSON: bytes.Clone(r.scratch)}
	if g, ok := e.Data.(event.GiftData); ok && g.StreakState == event.StreakProgress {
		m.StreakStep = true
	}
	if r.opts.OnPublish != nil {
		ev := *e // a copy, so e itself does not escape when no hook is set
		r.opts.OnPublish(&ev)
	}
	if r.opts.Log != nil {
		ev := *e
		r.opts.Log.Append(&ev, m)
		return
	}
	r.pub.Publish(m)
}

// ResumeSession continues a broadcast announced before (by a server that restarted): live_ended
// will carry these figures plus what this stream counts from now on.
func (r *Room) ResumeSession(so event.LiveTotals) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inSession, r.session, r.sessionSum = true, so, so.Likes
}

// countSession adds e to the broadcast's figures. live_started begins them; live_ended gets them
// as its totals (under the room's lock, so no event slips between the figures and the end).
func (r *Room) countSession(e *event.Event) {
	if e.Type == event.TypeLiveStarted {
		r.inSession, r.session, r.sessionSum = true, event.LiveTotals{}, 0
	}
	if !r.inSession || e.Simulated {
		return
	}
	t := &r.session
	t.Events++
	switch d := e.Data.(type) {
	case event.RoomUserData:
		t.PeakViewers = max(t.PeakViewers, d.ViewerCount)
	case event.LikeData:
		r.sessionSum += d.LikeCount
		t.Likes = max(t.Likes, d.TotalLikeCount, r.sessionSum)
	case event.GiftData:
		if d.StreakState != event.StreakProgress {
			t.Diamonds += d.TotalDiamonds
			t.Gifts += int64(max(d.RepeatCount, 1))
		}
	case event.SocialData:
		switch d.Action {
		case "follow":
			t.Follows++
		case "share":
			t.Shares++
		}
	case event.ChatData:
		t.Chats++
	case event.LiveEndedData:
		d.Totals = *t
		e.Data = d
		r.inSession = false
	}
}

func (r *Room) count(e *event.Event) {
	r.countSession(e)
	r.counters.Events++
	r.eventCounts[e.Type]++
	switch d := e.Data.(type) {
	case event.RoomUserData:
		r.counters.Viewers = d.ViewerCount
	case event.LikeData:
		r.likeSum += d.LikeCount
		if d.TotalLikeCount > 0 {
			r.counters.Likes = d.TotalLikeCount
		} else if r.likeSum > r.counters.Likes {
			r.counters.Likes = r.likeSum
		}
	case event.GiftData:
		if d.StreakState != event.StreakProgress {
			r.counters.Diamonds += d.TotalDiamonds
		}
	case event.SocialData:
		switch d.Action {
		case "follow":
			r.counters.Follows++
		case "share":
			r.counters.Shares++
		}
	}
}

// streakKey names a streak: the sender, the gift and TikTok's group id.
func streakKey(g *event.GiftData) string {
	return g.User.UserID + "/" + strconv.FormatInt(g.GiftID, 10) + "/" + g.StreakID
}

// trackStreak records a streak step or end. A step of a streak this room already finalised (its end
// arrived after the timeout) is passed on as progress, so the streak still ends exactly once.
func (r *Room) trackStreak(e event.Event) event.Event {
	g, ok := e.Data.(event.GiftData)
	if !ok || g.GiftType != 1 {
		return e
	}
	k := streakKey(&g)
	s, open := r.streaks[k]
	switch {
	case g.StreakState == event.StreakFinal && open:
		delete(r.streaks, k)
		r.dedup.finished(k)
	case g.StreakState == event.StreakFinal && r.dedup.isFinished(k):
		g.StreakState = event.StreakProgress // ended already, by the timeout
		e.Data = g
	case g.StreakState == event.StreakFinal:
		r.dedup.finished(k)
	case r.dedup.isFinished(k):
		// a step after the streak was finalised: keep it a progress step, do not reopen
	case open:
		s.last, s.deadline = e, r.opts.Now().Add(r.opts.StreakTimeout)
	default:
		if len(r.streaks) >= maxOpenStreaks {
			r.finalizeOldestLocked()
		}
		r.streaks[k] = &openStreak{last: e, deadline: r.opts.Now().Add(r.opts.StreakTimeout)}
	}
	r.armTimerLocked()
	return e
}

// finalizeLocked publishes the end of a streak whose end TikTok never sent: the last step again,
// with streakState final, no msgId (it is not a TikTok message) and the current time.
func (r *Room) finalizeLocked(k string, s *openStreak) {
	delete(r.streaks, k)
	r.dedup.finished(k)
	e := s.last
	g := e.Data.(event.GiftData)
	g.StreakState = event.StreakFinal
	e.Data, e.ID, e.History = g, "", false
	e.Time = r.opts.Now().UTC().Truncate(time.Millisecond)
	r.counters.StreaksTimedOut++
	r.publishLocked(&e)
}

func (r *Room) finalizeOldestLocked() {
	var oldestK string
	var oldest *openStreak
	for k, s := range r.streaks {
		if oldest == nil || s.deadline.Before(oldest.deadline) {
			oldestK, oldest = k, s
		}
	}
	if oldest != nil {
		r.finalizeLocked(oldestK, oldest)
	}
}

// armTimerLocked points the one timer at the earliest streak deadline.
func (r *Room) armTimerLocked() {
	if len(r.streaks) == 0 || r.closed {
		return
	}
	var first time.Time
	for _, s := range r.streaks {
		if first.IsZero() || s.deadline.Before(first) {
			first = s.deadline
		}
	}
	if r.timer != nil && r.timerAt.Equal(first) {
		return
	}
	d := first.Sub(r.opts.Now())
	if r.timer == nil {
		r.timer = time.AfterFunc(d, r.expire)
	} else {
		r.timer.Reset(d)
	}
	r.timerAt = first
}

func (r *Room) expire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	now := r.opts.Now()
	for k, s := range r.streaks {
		if !now.Before(s.deadline) {
			r.finalizeLocked(k, s)
		}
	}
	r.timerAt = time.Time{}
	r.armTimerLocked()
}

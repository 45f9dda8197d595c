package stream

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// ---- test doubles and helpers ----

// recorder is a Publisher that keeps every message it is given, in arrival order.
type recorder struct {
	mu      sync.Mutex
	msgs    []*hub.Message
	changed chan struct{} // holds a token after any Publish; waiters re-check their condition
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) Publish(m *hub.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) messages() []*hub.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// waitFor returns the messages once cond holds for them; it fails the test after 5 s. It is woken by
// each Publish, so it does not sleep.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]*hub.Message) bool) []*hub.Message {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		msgs := r.messages()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; have %d messages", what, len(msgs))
		}
	}
}

// expectNoMoreFor fails if the recorder gets any message beyond the n it has within d. Checking
// that something does NOT happen needs a bounded wait: there is no event to wait for. Callers use it
// only after a deterministic check (OpenStreaks == 0) already shows no timer can fire.
func (r *recorder) expectNoMoreFor(t *testing.T, d time.Duration, n int) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		if got := len(r.messages()); got != n {
			t.Fatalf("got %d messages, want still %d", got, n)
		}
		select {
		case <-r.changed:
		case <-timer.C:
			if got := len(r.messages()); got != n {
				t.Fatalf("got %d messages, want still %d", got, n)
			}
			return
		}
	}
}

// fakeClock is Options.Now under the test's control.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.UnixMilli(webcasttest.BaseTime + 60_000).UTC()}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newRoom returns a Room publishing to a new recorder, closed when the test ends.
func newRoom(t *testing.T, username string, opts Options) (*Room, *recorder) {
	t.Helper()
	rec := newRecorder()
	r := New(username, rec, opts)
	t.Cleanup(r.Close)
	return r, rec
}

// decode parses a published message back and checks it against the message's own fields.
func decode(t *testing.T, m *hub.Message) event.Event {
	t.Helper()
	var e event.Event
	if err := e.UnmarshalJSON(m.JSON); err != nil {
		t.Fatalf("published JSON does not parse: %v\n%s", err, m.JSON)
	}
	if e.Seq != m.Seq || e.Type != m.Type {
		t.Fatalf("JSON has seq %d type %q, message has seq %d type %q", e.Seq, e.Type, m.Seq, m.Type)
	}
	g, isGift := e.Data.(event.GiftData)
	if wantStep := isGift && g.StreakState == event.StreakProgress; m.StreakStep != wantStep {
		t.Fatalf("seq %d: StreakStep = %v, want %v (type %s, streakState %q)", m.Seq, m.StreakStep, wantStep, e.Type, g.StreakState)
	}
	return e
}

var (
	eventTime = time.UnixMilli(webcasttest.BaseTime).UTC()
	alice     = event.User{UserID: "6812345678901234567", UniqueID: "alice.wonder", Nickname: "Alice"}
	bob       = event.User{UserID: "7098765432109876543", UniqueID: "bob_builds", Nickname: "Bob"}
	host      = event.User{UserID: "6900000000000000001", UniqueID: "streamer", Nickname: "Streamer Live"}
)

func ev(id string, d event.Data, typ string) event.Event {
	return event.Event{Type: typ, Username: "Streamer", RoomID: "7311111111111111111", ID: id, Time: eventTime, Data: d}
}

func chat(id, comment string) event.Event {
	return ev(id, event.ChatData{Sender: alice.UniqueID, User: alice, Comment: comment}, event.TypeChat)
}

func gift(id string, u event.User, giftID int64, giftType, diamonds int, streak string, repeat int, end bool) event.Event {
	return ev(id, event.GiftData{
		Sender: u.UniqueID, User: u, GiftID: giftID, GiftName: "gift " + strconv.FormatInt(giftID, 10), GiftType: giftType,
		DiamondCount: diamonds, RepeatCount: repeat, RepeatEnd: end, StreakID: streak,
		StreakState: event.StreakState(giftType, end), TotalDiamonds: event.TotalDiamonds(diamonds, repeat), ToUser: &host,
	}, event.TypeGift)
}

// heart is a streakable gift (type 1) worth 5 diamonds, so diamonds × repeat is visible in totals.
func heart(id string, u event.User, streak string, repeat int, end bool) event.Event {
	return gift(id, u, 5487, 1, 5, streak, repeat, end)
}

// galaxy is a gift that does not streak (type 2), worth 1000 diamonds.
func galaxy(id string, u event.User) event.Event { return gift(id, u, 11046, 2, 1000, "", 1, false) }

func like(id string, n, total int64) event.Event {
	return ev(id, event.LikeData{Sender: alice.UniqueID, User: alice, LikeCount: n, TotalLikeCount: total}, event.TypeLike)
}

func social(id, action string) event.Event {
	return ev(id, event.SocialData{Sender: bob.UniqueID, User: bob, Action: action}, event.TypeSocial)
}

func roomUser(id string, viewers int64) event.Event {
	return ev(id, event.RoomUserData{ViewerCount: viewers, TotalUser: viewers * 10}, event.TypeRoomUser)
}

// ---- sequencing ----

var epochRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestRoom_PublishSequence(t *testing.T) {
	clock := newFakeClock()
	r, rec := newRoom(t, "Streamer.Live_X", Options{Now: clock.Now})
	if got, want := r.Key(), "streamer.live_x"; got != want {
		t.Fatalf("Key() = %q, want %q", got, want)
	}
	epoch := r.Snapshot().Epoch
	if !epochRE.MatchString(epoch) {
		t.Fatalf("epoch %q is not 16 lower-case hex digits", epoch)
	}

	// Every sample TikTok message, converted as a session would, then a lifecycle event.
	var sent []event.Event
	for _, s := range webcasttest.Samples() {
		payload := s.Payload()
		m := webcast.Message{Method: s.Method, MsgID: s.MsgID, Payload: payload, ReceivedAt: eventTime}
		m.Decoded, m.Err = webcast.DecodePayload(s.Method, payload)
		sent = append(sent, webcast.ToEvent(&m, event.Room{Username: "Streamer.Live_X"}))
	}
	sent = append(sent, event.Lifecycle(event.TypeConnectionCreated, event.Room{Username: "Streamer.Live_X"}, eventTime, nil))
	for i, e := range sent {
		clock.Advance(time.Second)
		if !r.Publish(e) {
			t.Fatalf("Publish(#%d %s) = false", i, e.Type)
		}
	}

	msgs := rec.messages()
	if len(msgs) != len(sent) {
		t.Fatalf("published %d messages, want %d", len(msgs), len(sent))
	}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Errorf("message %d has seq %d, want %d", i, m.Seq, i+1)
		}
		if m.Room != "streamer.live_x" {
			t.Errorf("message %d: Room = %q, want the lower-case username", i, m.Room)
		}
		got := decode(t, m)
		if got.Epoch != epoch {
			t.Errorf("message %d: epoch %q, want %q", i, got.Epoch, epoch)
		}
		if got.Type != sent[i].Type || got.ID != sent[i].ID || got.Username != sent[i].Username {
			t.Errorf("message %d: type/id/username %q/%q/%q, want %q/%q/%q", i, got.Type, got.ID, got.Username,
				sent[i].Type, sent[i].ID, sent[i].Username)
		}
	}
	snap := r.Snapshot()
	if snap.Seq != uint64(len(sent)) || snap.Epoch != epoch || snap.Username != "streamer.live_x" {
		t.Errorf("Snapshot = seq %d epoch %q username %q, want %d %q %q", snap.Seq, snap.Epoch, snap.Username,
			len(sent), epoch, "streamer.live_x")
	}
}

func TestRoom_PublishEpochPerRoom(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		r, _ := newRoom(t, "streamer", Options{})
		e := r.Snapshot().Epoch
		if !epochRE.MatchString(e) {
			t.Fatalf("epoch %q is not 16 hex digits", e)
		}
		if seen[e] {
			t.Fatalf("two rooms share the epoch %q", e)
		}
		seen[e] = true
	}
}

func TestRoom_PublishOnPublishInSeqOrder(t *testing.T) {
	var got []event.Event
	r, rec := newRoom(t, "streamer", Options{StreakTimeout: time.Hour, OnPublish: func(e *event.Event) { got = append(got, *e) }})
	r.Publish(chat("1", "hi"))
	r.Publish(heart("2", alice, "s", 1, false))
	r.FinalizeStreaks()
	msgs := rec.messages()
	if len(got) != 3 || len(msgs) != 3 {
		t.Fatalf("OnPublish saw %d events, publisher %d, want 3 each", len(got), len(msgs))
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) || e.Epoch != r.Snapshot().Epoch {
			t.Errorf("OnPublish #%d: seq %d epoch %q", i, e.Seq, e.Epoch)
		}
	}
	if g := got[2].Data.(event.GiftData); g.StreakState != event.StreakFinal || got[2].ID != "" {
		t.Errorf("OnPublish #2 = %q id %q, want the made final", g.StreakState, got[2].ID)
	}
}

// ---- dedup ----

func TestRoom_PublishDedup(t *testing.T) {
	tests := []struct {
		name        string
		window      int
		ids         []string
		want        []bool // Publish results
		wantDropped int64
	}{
		{name: "same id twice", ids: []string{"7311500000000000001", "7311500000000000001"}, want: []bool{true, false}, wantDropped: 1},
		{name: "distinct ids", ids: []string{"1", "2", "3"}, want: []bool{true, true, true}},
		{name: "empty ids never dropped", ids: []string{"", "", ""}, want: []bool{true, true, true}},
		{name: "empty between duplicates", ids: []string{"5", "", "5", ""}, want: []bool{true, true, false, true}, wantDropped: 1},
		{name: "window 3: seen 3 ids ago is dropped", window: 3, ids: []string{"1", "2", "3", "1"}, want: []bool{true, true, true, false}, wantDropped: 1},
		{name: "window 3: seen 4 ids ago passes again", window: 3, ids: []string{"1", "2", "3", "4", "1"}, want: []bool{true, true, true, true, true}},
		{name: "window 3: after passing again it is remembered", window: 3, ids: []string{"1", "2", "3", "4", "1", "1"}, want: []bool{true, true, true, true, true, false}, wantDropped: 1},
		{name: "window 3: a dropped duplicate does not renew the id", window: 3, ids: []string{"1", "2", "1", "3", "4", "1"}, want: []bool{true, true, false, true, true, true}, wantDropped: 1},
		{name: "non-numeric ids", ids: []string{"abc", "abd", "abc", "ABC"}, want: []bool{true, true, false, true}, wantDropped: 1},
		{name: "id past uint64", ids: []string{"99999999999999999999", "99999999999999999998", "99999999999999999999"}, want: []bool{true, true, false}, wantDropped: 1},
		{name: "non-numeric ids in a small window", window: 2, ids: []string{"x", "y", "x", "z", "x"}, want: []bool{true, true, false, true, true}, wantDropped: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rec := newRoom(t, "streamer", Options{DedupWindow: tt.window})
			for i, id := range tt.ids {
				if got := r.Publish(chat(id, "hi")); got != tt.want[i] {
					t.Errorf("Publish #%d (id %q) = %v, want %v", i, id, got, tt.want[i])
				}
			}
			snap := r.Snapshot()
			if snap.Counters.DuplicatesDropped != tt.wantDropped {
				t.Errorf("DuplicatesDropped = %d, want %d", snap.Counters.DuplicatesDropped, tt.wantDropped)
			}
			passed := 0
			for _, ok := range tt.want {
				if ok {
					passed++
				}
			}
			msgs := rec.messages()
			if len(msgs) != passed || snap.Seq != uint64(passed) || snap.Counters.Events != int64(passed) {
				t.Fatalf("%d messages, seq %d, events %d; want %d each", len(msgs), snap.Seq, snap.Counters.Events, passed)
			}
			for i, m := range msgs { // a dropped message takes no seq
				if m.Seq != uint64(i+1) {
					t.Errorf("message %d has seq %d", i, m.Seq)
				}
			}
		})
	}
}

func TestIDWindow_Seen(t *testing.T) {
	w := newIDWindow(4)
	for _, id := range []string{"1", "2", "a", "b"} {
		if w.seen(id) {
			t.Fatalf("seen(%q) on first sight", id)
		}
	}
	if len(w.ids.set) != 4 || len(w.ids.ring) != 4 {
		t.Fatalf("window holds %d ids in a ring of %d, want 4", len(w.ids.set), len(w.ids.ring))
	}
	for i := range 100 { // the set never grows past the window
		w.seen(strconv.Itoa(1000 + i))
		if len(w.ids.set) != 4 || len(w.ids.ring) != 4 {
			t.Fatalf("after %d more ids the window holds %d ids in a ring of %d, want 4", i+1, len(w.ids.set), len(w.ids.ring))
		}
	}
	for _, id := range []string{"1096", "1097", "1098", "1099"} {
		if !w.seen(id) {
			t.Errorf("seen(%q) = false for one of the last 4 ids", id)
		}
	}
	if w.seen("1095") {
		t.Error("seen(1095) = true for the 5th last id")
	}
}

func TestIDWindow_Finished(t *testing.T) {
	w := newIDWindow(3)
	for _, k := range []string{"a", "b", "c", "a"} {
		w.finished(k)
	}
	if !w.isFinished("a") || !w.isFinished("b") || !w.isFinished("c") || w.isFinished("d") {
		t.Fatal("isFinished wrong after a, b, c")
	}
	w.finished("d") // forgets a, the oldest
	if w.isFinished("a") || !w.isFinished("d") || len(w.done.set) != 3 {
		t.Fatalf("after d: a finished %v, d finished %v, %d remembered", w.isFinished("a"), w.isFinished("d"), len(w.done.set))
	}
	if big := newIDWindow(DefaultDedupWindow); big.done.n != maxOpenStreaks {
		t.Errorf("finished-streak window of %d, want maxOpenStreaks (%d)", big.done.n, maxOpenStreaks)
	}
}

// ---- streaks ----

type harness struct {
	room    *Room
	rec     *recorder
	clock   *fakeClock
	timeout time.Duration
	mark    int // messages published before the last advance
}

func advance(d time.Duration) action {
	return action{"advance " + d.String(), func(_ *testing.T, h *harness) {
		h.mark = len(h.rec.messages())
		h.clock.Advance(d)
	}}
}

type action struct {
	name string
	do   func(t *testing.T, h *harness)
}

func pub(e event.Event) action {
	return action{"publish " + e.ID, func(t *testing.T, h *harness) {
		t.Helper()
		if !h.room.Publish(e) {
			t.Fatalf("Publish(id %q) = false, want true", e.ID)
		}
	}}
}

func pubIgnored(e event.Event) action {
	return action{"publish (ignored) " + e.ID, func(t *testing.T, h *harness) {
		t.Helper()
		if h.room.Publish(e) {
			t.Fatalf("Publish(id %q) = true, want false", e.ID)
		}
	}}
}

var (
	finalizeAll = action{"FinalizeStreaks", func(_ *testing.T, h *harness) { h.room.FinalizeStreaks() }}
	closeRoom   = action{"Close", func(_ *testing.T, h *harness) { h.room.Close() }}
	// timeOut lets the streak timeout pass on the fake clock, then waits for the real timer to publish
	// the finalisation. The timer cannot finalise anything before the clock is advanced, so the steps
	// before it never race with it.
	timeOut = action{"timeout", func(t *testing.T, h *harness) {
		t.Helper()
		advance(h.timeout).do(t, h)
		awaitTimer.do(t, h)
	}}
	// awaitTimer waits for a message published since the last advance: the timer's finalisation.
	awaitTimer = action{"await timer", func(t *testing.T, h *harness) {
		t.Helper()
		h.rec.waitFor(t, "the timer's finalisation", func(m []*hub.Message) bool { return len(m) > h.mark })
	}}
)

// wantGift is one published gift message as a test expects it.
type wantGift struct {
	sender string
	state  string
	id     string // "" for a streak end the stream made
	repeat int
}

func TestRoom_PublishStreaks(t *testing.T) {
	const a, b = "alice.wonder", "bob_builds"
	tests := []struct {
		name         string
		actions      []action
		want         []wantGift
		wantDiamonds int64
		wantTimedOut int64
		wantOpen     int
	}{
		{
			name:         "single gift",
			actions:      []action{pub(galaxy("1", bob))},
			want:         []wantGift{{b, event.StreakSingle, "1", 1}},
			wantDiamonds: 1000,
		},
		{
			name:         "single gift with repeat count 0 counts one gift",
			actions:      []action{pub(gift("1", bob, 11046, 2, 1000, "", 0, false))},
			want:         []wantGift{{b, event.StreakSingle, "1", 0}},
			wantDiamonds: 1000,
		},
		{
			name: "three steps ending with repeatEnd",
			actions: []action{
				pub(heart("1", alice, "s1", 1, false)), pub(heart("2", alice, "s1", 2, false)), pub(heart("3", alice, "s1", 3, true)),
			},
			want: []wantGift{
				{a, event.StreakProgress, "1", 1}, {a, event.StreakProgress, "2", 2}, {a, event.StreakFinal, "3", 3},
			},
			wantDiamonds: 5 * 3,
		},
		{
			name:         "one-message streak (first step is the end)",
			actions:      []action{pub(heart("1", alice, "s1", 4, true))},
			want:         []wantGift{{a, event.StreakFinal, "1", 4}},
			wantDiamonds: 5 * 4,
		},
		{
			name: "duplicate end message is dropped, diamonds counted once",
			actions: []action{
				pub(heart("1", alice, "s1", 1, false)), pub(heart("2", alice, "s1", 2, true)), pubIgnored(heart("2", alice, "s1", 2, true)),
			},
			want:         []wantGift{{a, event.StreakProgress, "1", 1}, {a, event.StreakFinal, "2", 2}},
			wantDiamonds: 5 * 2,
		},
		{
			name: "a second end with a new id is passed on as progress",
			actions: []action{
				pub(heart("1", alice, "s1", 2, true)), pub(heart("2", alice, "s1", 2, true)),
			},
			want:         []wantGift{{a, event.StreakFinal, "1", 2}, {a, event.StreakProgress, "2", 2}},
			wantDiamonds: 5 * 2,
		},
		{
			name:         "timeout finalises the last step once, with no id",
			actions:      []action{pub(heart("1", alice, "s1", 1, false)), pub(heart("2", alice, "s1", 2, false)), timeOut},
			want:         []wantGift{{a, event.StreakProgress, "1", 1}, {a, event.StreakProgress, "2", 2}, {a, event.StreakFinal, "", 2}},
			wantDiamonds: 5 * 2, wantTimedOut: 1,
		},
		{
			name: "late end after the timeout is progress and not counted again",
			actions: []action{
				pub(heart("1", alice, "s1", 1, false)), timeOut, pub(heart("2", alice, "s1", 3, true)),
			},
			want:         []wantGift{{a, event.StreakProgress, "1", 1}, {a, event.StreakFinal, "", 1}, {a, event.StreakProgress, "2", 3}},
			wantDiamonds: 5 * 1, wantTimedOut: 1,
		},
		{
			name: "a step after the timeout does not reopen the streak",
			actions: []action{
				pub(heart("1", alice, "s1", 1, false)), timeOut, pub(heart("2", alice, "s1", 2, false)), finalizeAll,
			},
			want:         []wantGift{{a, event.StreakProgress, "1", 1}, {a, event.StreakFinal, "", 1}, {a, event.StreakProgress, "2", 2}},
			wantDiamonds: 5 * 1, wantTimedOut: 1,
		},
		{
			name: "a step after the real end does not reopen the streak",
			actions: []action{
				pub(heart("1", alice, "s1", 2, true)), pub(heart("2", alice, "s1", 3, false)), finalizeAll,
			},
			want:         []wantGift{{a, event.StreakFinal, "1", 2}, {a, event.StreakProgress, "2", 3}},
			wantDiamonds: 5 * 2,
		},
		{
			name: "two senders with the same streak id are independent",
			actions: []action{
				pub(heart("1", alice, "777", 1, false)), pub(heart("2", bob, "777", 1, false)),
				pub(heart("3", alice, "777", 2, true)), pub(heart("4", bob, "777", 2, false)), finalizeAll,
			},
			want: []wantGift{
				{a, event.StreakProgress, "1", 1}, {b, event.StreakProgress, "2", 1}, {a, event.StreakFinal, "3", 2},
				{b, event.StreakProgress, "4", 2}, {b, event.StreakFinal, "", 2},
			},
			wantDiamonds: 5*2 + 5*2, wantTimedOut: 1,
		},
		{
			name: "the same sender's different gifts with the same streak id are independent",
			actions: []action{
				pub(heart("1", alice, "777", 1, false)), pub(gift("2", alice, 5655, 1, 1, "777", 1, false)),
				pub(gift("3", alice, 5655, 1, 1, "777", 2, true)), finalizeAll,
			},
			want: []wantGift{
				{a, event.StreakProgress, "1", 1}, {a, event.StreakProgress, "2", 1}, {a, event.StreakFinal, "3", 2},
				{a, event.StreakFinal, "", 1},
			},
			wantDiamonds: 1*2 + 5*1, wantTimedOut: 1,
		},
		{
			name: "a timeout leaves later streaks open",
			actions: []action{
				pub(heart("1", alice, "s1", 1, false)), advance(25 * time.Millisecond), pub(heart("2", bob, "s2", 1, false)),
				advance(25 * time.Millisecond), awaitTimer, // alice's deadline, not bob's
			},
			want:         []wantGift{{a, event.StreakProgress, "1", 1}, {b, event.StreakProgress, "2", 1}, {a, event.StreakFinal, "", 1}},
			wantDiamonds: 5, wantTimedOut: 1, wantOpen: 1,
		},
		{
			name: "streaks due together are finalised together",
			actions: []action{
				pub(heart("1", alice, "s1", 1, false)), pub(heart("2", bob, "s2", 1, false)), timeOut,
				pub(heart("3", bob, "s2", 2, false)),
			},
			want: []wantGift{
				{a, event.StreakProgress, "1", 1}, {b, event.StreakProgress, "2", 1}, {a, event.StreakFinal, "", 1},
				{b, event.StreakFinal, "", 1}, {b, event.StreakProgress, "3", 2},
			},
			wantDiamonds: 5 + 5, wantTimedOut: 2,
		},
		{
			name: "FinalizeStreaks ends every open streak at once",
			actions: []action{
				pub(heart("1", alice, "s1", 1, false)), pub(heart("2", bob, "s2", 3, false)), pub(galaxy("3", bob)), finalizeAll, finalizeAll,
			},
			want: []wantGift{
				{a, event.StreakProgress, "1", 1}, {b, event.StreakProgress, "2", 3}, {b, event.StreakSingle, "3", 1},
				{a, event.StreakFinal, "", 1}, {b, event.StreakFinal, "", 3},
			},
			wantDiamonds: 5 + 15 + 1000, wantTimedOut: 2,
		},
		{
			name: "Close finalises open streaks and ignores later events",
			actions: []action{
				pub(heart("1", alice, "s1", 2, false)), closeRoom, pubIgnored(heart("2", alice, "s1", 3, true)),
				pubIgnored(galaxy("3", bob)), finalizeAll, closeRoom,
			},
			want:         []wantGift{{a, event.StreakProgress, "1", 2}, {a, event.StreakFinal, "", 2}},
			wantDiamonds: 5 * 2, wantTimedOut: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leakcheck.Check(t)
			clock := newFakeClock()
			h := &harness{clock: clock, timeout: 50 * time.Millisecond}
			h.room, h.rec = newRoom(t, "streamer", Options{StreakTimeout: h.timeout, Now: clock.Now})
			for _, a := range tt.actions {
				a.do(t, h)
			}

			msgs := h.rec.messages()
			var got []wantGift
			for i, m := range msgs {
				if m.Seq != uint64(i+1) {
					t.Errorf("message %d has seq %d", i, m.Seq)
				}
				e := decode(t, m)
				g := e.Data.(event.GiftData)
				if e.ID == "" && (e.History || !e.Time.Equal(clock.Now().Truncate(time.Millisecond))) {
					t.Errorf("made final: history %v, time %v, want false and the clock's time %v", e.History, e.Time, clock.Now())
				}
				got = append(got, wantGift{g.Sender, g.StreakState, e.ID, g.RepeatCount})
			}
			sortMadeFinals(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("published:\n  %v\nwant:\n  %v", got, tt.want)
			}
			snap := h.room.Snapshot()
			if snap.Counters.Diamonds != tt.wantDiamonds || snap.Counters.StreaksTimedOut != tt.wantTimedOut || snap.OpenStreaks != tt.wantOpen {
				t.Errorf("diamonds %d, streaks timed out %d, open %d; want %d, %d, %d", snap.Counters.Diamonds,
					snap.Counters.StreaksTimedOut, snap.OpenStreaks, tt.wantDiamonds, tt.wantTimedOut, tt.wantOpen)
			}
			if snap.EventCounts[event.TypeGift] != int64(len(msgs)) || snap.Counters.Events != int64(len(msgs)) {
				t.Errorf("event counts %v, events %d; want %d gifts", snap.EventCounts, snap.Counters.Events, len(msgs))
			}
		})
	}
}

// sortMadeFinals orders each run of stream-made finals by sender: FinalizeStreaks and the timer go
// through a map, so their order within one call is not defined.
func sortMadeFinals(g []wantGift) {
	for i := 0; i < len(g); {
		j := i
		for j < len(g) && g[j].id == "" && g[j].state == event.StreakFinal {
			j++
		}
		if j > i {
			slices.SortFunc(g[i:j], func(x, y wantGift) int { return cmpString(x.sender, y.sender) })
			i = j
		} else {
			i++
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestRoom_PublishStreakTimeoutOnce runs the timeout on the real clock: the final arrives by itself,
// once, and nothing more arrives afterwards.
func TestRoom_PublishStreakTimeoutOnce(t *testing.T) {
	leakcheck.Check(t)
	const timeout = 50 * time.Millisecond
	r, rec := newRoom(t, "streamer", Options{StreakTimeout: timeout})
	r.Publish(heart("7311500000000000001", alice, "1795795244001", 1, false))
	r.Publish(heart("7311500000000000002", alice, "1795795244001", 2, false))
	msgs := rec.waitFor(t, "the timeout's final", func(m []*hub.Message) bool { return len(m) >= 3 })

	final := decode(t, msgs[2])
	want := heart("", alice, "1795795244001", 2, false).Data.(event.GiftData)
	want.StreakState = event.StreakFinal
	if g := final.Data.(event.GiftData); final.ID != "" || !sameGift(g, want) || final.Type != event.TypeGift {
		t.Errorf("final = id %q %+v, want no id and the last step with streakState final", final.ID, g)
	}
	snap := r.Snapshot()
	if snap.OpenStreaks != 0 || snap.Counters.StreaksTimedOut != 1 || snap.Counters.Diamonds != 10 {
		t.Errorf("open %d, timed out %d, diamonds %d; want 0, 1, 10", snap.OpenStreaks, snap.Counters.StreaksTimedOut, snap.Counters.Diamonds)
	}
	// OpenStreaks == 0 already shows the timer has nothing left to finalise; wait two more timeout
	// periods anyway (a bounded wait for absence) to see that no second final is published.
	rec.expectNoMoreFor(t, 2*timeout, 3)
	if n := r.Snapshot().Counters.StreaksTimedOut; n != 1 {
		t.Errorf("StreaksTimedOut = %d after waiting, want 1", n)
	}
}

func sameGift(a, b event.GiftData) bool {
	return a.Sender == b.Sender && a.User.UserID == b.User.UserID && a.GiftID == b.GiftID && a.GiftType == b.GiftType &&
		a.DiamondCount == b.DiamondCount && a.RepeatCount == b.RepeatCount && a.RepeatEnd == b.RepeatEnd &&
		a.StreakID == b.StreakID && a.StreakState == b.StreakState && a.TotalDiamonds == b.TotalDiamonds &&
		(a.ToUser == nil) == (b.ToUser == nil)
}

// TestRoom_PublishStreakDeadlineMoves checks that every step restarts the streak's timeout. It calls
// expire directly (what the timer does) so that each check happens at a known clock time.
func TestRoom_PublishStreakDeadlineMoves(t *testing.T) {
	leakcheck.Check(t)
	clock := newFakeClock()
	const timeout = time.Minute // the real timer will not fire during the test
	r, rec := newRoom(t, "streamer", Options{StreakTimeout: timeout, Now: clock.Now})

	r.Publish(heart("1", alice, "s1", 1, false)) // deadline t0+60s
	clock.Advance(40 * time.Second)
	r.Publish(heart("2", alice, "s1", 2, false)) // deadline t0+100s
	clock.Advance(40 * time.Second)              // t0+80s: past the first step's deadline only
	r.expire()
	if n := len(rec.messages()); n != 2 || r.Snapshot().OpenStreaks != 1 {
		t.Fatalf("at t0+80s: %d messages, %d open streaks; want 2 and 1", n, r.Snapshot().OpenStreaks)
	}
	clock.Advance(20 * time.Second) // t0+100s: the deadline itself
	r.expire()
	msgs := rec.messages()
	if len(msgs) != 3 || r.Snapshot().OpenStreaks != 0 {
		t.Fatalf("at t0+100s: %d messages, %d open streaks; want 3 and 0", len(msgs), r.Snapshot().OpenStreaks)
	}
	if e := decode(t, msgs[2]); e.ID != "" || e.Data.(event.GiftData).RepeatCount != 2 {
		t.Errorf("final: id %q repeat %d", e.ID, e.Data.(event.GiftData).RepeatCount)
	}
	r.expire() // a late timer run finds nothing
	if n := len(rec.messages()); n != 3 {
		t.Errorf("a second expire published: %d messages", n)
	}
}

func TestRoom_PublishTooManyOpenStreaks(t *testing.T) {
	leakcheck.Check(t)
	clock := newFakeClock()
	r, rec := newRoom(t, "streamer", Options{StreakTimeout: time.Hour, Now: clock.Now})
	for i := range maxOpenStreaks {
		clock.Advance(time.Millisecond) // distinct deadlines: streak 0 is the oldest
		r.Publish(heart(strconv.Itoa(i+1), alice, "s"+strconv.Itoa(i), 1, false))
	}
	if s := r.Snapshot(); s.OpenStreaks != maxOpenStreaks || s.Counters.StreaksTimedOut != 0 {
		t.Fatalf("open %d, timed out %d; want %d, 0", s.OpenStreaks, s.Counters.StreaksTimedOut, maxOpenStreaks)
	}
	r.Publish(heart("999999", bob, "new", 1, false))
	msgs := rec.messages()
	if len(msgs) != maxOpenStreaks+2 {
		t.Fatalf("%d messages, want %d", len(msgs), maxOpenStreaks+2)
	}
	fin, next := decode(t, msgs[maxOpenStreaks]), decode(t, msgs[maxOpenStreaks+1])
	if g := fin.Data.(event.GiftData); fin.ID != "" || g.StreakState != event.StreakFinal || g.StreakID != "s0" {
		t.Errorf("before the new streak: id %q %s streak %q; want the oldest streak s0 finalised", fin.ID, g.StreakState, g.StreakID)
	}
	if g := next.Data.(event.GiftData); next.ID != "999999" || g.StreakState != event.StreakProgress {
		t.Errorf("then: id %q %s; want the new step", next.ID, g.StreakState)
	}
	if s := r.Snapshot(); s.OpenStreaks != maxOpenStreaks || s.Counters.StreaksTimedOut != 1 {
		t.Errorf("open %d, timed out %d; want %d, 1", s.OpenStreaks, s.Counters.StreaksTimedOut, maxOpenStreaks)
	}
}

// ---- counters ----

func TestRoom_PublishCounters(t *testing.T) {
	tests := []struct {
		name       string
		events     []event.Event
		want       Counters // Events is checked against len(events)
		wantCounts map[string]int64
	}{
		{
			name:       "viewers: the last roomUser count",
			events:     []event.Event{roomUser("1", 1312), chat("2", "hi"), roomUser("3", 1290)},
			want:       Counters{Viewers: 1290},
			wantCounts: map[string]int64{event.TypeRoomUser: 2, event.TypeChat: 1},
		},
		{
			name:       "likes: TotalLikeCount when TikTok sends it, even going back",
			events:     []event.Event{like("1", 15, 48213), like("2", 3, 48216), like("3", 1, 48100)},
			want:       Counters{Likes: 48100},
			wantCounts: map[string]int64{event.TypeLike: 3},
		},
		{
			name:       "likes: the sum of likeCount without totals",
			events:     []event.Event{like("1", 15, 0), like("2", 3, 0), like("3", 7, 0)},
			want:       Counters{Likes: 25},
			wantCounts: map[string]int64{event.TypeLike: 3},
		},
		{
			name:       "likes: a batch without total does not lower a known total",
			events:     []event.Event{like("1", 15, 1000), like("2", 3, 0)},
			want:       Counters{Likes: 1000},
			wantCounts: map[string]int64{event.TypeLike: 2},
		},
		{
			name: "follows and shares from social actions",
			events: []event.Event{
				social("1", "follow"), social("2", "share"), social("3", "follow"), social("4", "other"), social("5", ""),
			},
			want:       Counters{Follows: 2, Shares: 1},
			wantCounts: map[string]int64{event.TypeSocial: 5},
		},
		{
			name: "diamonds and per-type counts of a mixed stream",
			events: []event.Event{
				chat("1", "hi"), galaxy("2", bob), heart("3", alice, "s", 1, false), heart("4", alice, "s", 2, true),
				ev("5", event.MemberData{Action: "join"}, event.TypeMember),
				event.Lifecycle(event.TypeConnectionCreated, event.Room{Username: "streamer"}, eventTime, nil),
			},
			want: Counters{Diamonds: 1000 + 10},
			wantCounts: map[string]int64{
				event.TypeChat: 1, event.TypeGift: 3, event.TypeMember: 1, event.TypeConnectionCreated: 1,
			},
		},
		{
			name:       "duplicates are not counted",
			events:     []event.Event{chat("1", "hi"), chat("1", "hi"), like("2", 5, 0), like("2", 5, 0), galaxy("3", bob), galaxy("3", bob)},
			want:       Counters{Likes: 5, Diamonds: 1000, DuplicatesDropped: 3},
			wantCounts: map[string]int64{event.TypeChat: 1, event.TypeLike: 1, event.TypeGift: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			r, _ := newRoom(t, "streamer", Options{StreakTimeout: time.Hour, Now: clock.Now})
			if !r.Snapshot().LastEventAt.IsZero() {
				t.Error("LastEventAt set before any event")
			}
			var last time.Time
			for _, e := range tt.events {
				clock.Advance(time.Second)
				if r.Publish(e) {
					last = clock.Now()
				}
			}
			snap := r.Snapshot()
			want := tt.want
			var n int64
			for _, c := range tt.wantCounts {
				n += c
			}
			want.Events = n
			if snap.Counters != want {
				t.Errorf("counters\n  %+v\nwant\n  %+v", snap.Counters, want)
			}
			if len(snap.EventCounts) != len(tt.wantCounts) {
				t.Errorf("event counts %v, want %v", snap.EventCounts, tt.wantCounts)
			}
			for typ, c := range tt.wantCounts {
				if snap.EventCounts[typ] != c {
					t.Errorf("event counts %v, want %v", snap.EventCounts, tt.wantCounts)
					break
				}
			}
			if !snap.LastEventAt.Equal(last) {
				t.Errorf("LastEventAt = %v, want %v", snap.LastEventAt, last)
			}
			snap.EventCounts[event.TypeChat] = 999 // a copy: the room's counts do not change
			if r.Snapshot().EventCounts[event.TypeChat] == 999 {
				t.Error("Snapshot.EventCounts shares the room's map")
			}
		})
	}
}

// ---- concurrency ----

// TestRoom_PublishConcurrentSeqOrder publishes from many goroutines: every seq 1..N is issued once
// and the Publisher sees them in seq order, because Publish hands the message over under the lock.
func TestRoom_PublishConcurrentSeqOrder(t *testing.T) {
	const goroutines, perG = 16, 250
	r, rec := newRoom(t, "streamer", Options{})
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := range perG {
				if !r.Publish(chat(fmt.Sprintf("%d%06d", g+1, i), "hi")) {
					t.Errorf("distinct id %d/%d dropped", g, i)
				}
				// Every goroutine also offers the same shared ids: exactly one copy of each passes.
				if i%25 == 0 {
					r.Publish(chat("shared-"+strconv.Itoa(i), "hi"))
				}
			}
		})
	}
	close(start)
	wg.Wait()

	const shared = perG / 25
	const n = goroutines*perG + shared
	msgs := rec.messages()
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	ids := map[string]bool{}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d arrived with seq %d: the publisher must see seqs in order", i, m.Seq)
		}
		e := decode(t, m)
		if ids[e.ID] {
			t.Fatalf("id %q published twice", e.ID)
		}
		ids[e.ID] = true
	}
	snap := r.Snapshot()
	if snap.Seq != n || snap.Counters.Events != n || snap.Counters.DuplicatesDropped != shared*(goroutines-1) {
		t.Errorf("seq %d, events %d, dropped %d; want %d, %d, %d", snap.Seq, snap.Counters.Events,
			snap.Counters.DuplicatesDropped, n, n, shared*(goroutines-1))
	}
}

// TestRoom_PublishConcurrentStreaks races streak steps, ends, the real timer (1 ms), FinalizeStreaks
// and Snapshot. Whatever interleaving happens, every streak ends exactly once and the diamonds are
// the sum of the ends.
func TestRoom_PublishConcurrentStreaks(t *testing.T) {
	leakcheck.Check(t)
	const senders, streaks = 8, 40
	r, rec := newRoom(t, "streamer", Options{StreakTimeout: time.Millisecond})
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				r.FinalizeStreaks()
				_ = r.Snapshot()
			}
		}
	})
	var wg sync.WaitGroup
	for s := range senders {
		u := event.User{UserID: strconv.Itoa(1000 + s), UniqueID: "user" + strconv.Itoa(s)}
		wg.Go(func() {
			id := 0
			for k := range streaks {
				steps := 1 + k%4
				for step := 1; step <= steps; step++ {
					id++
					end := step == steps && k%3 != 0 // every third streak never gets its end
					r.Publish(heart(fmt.Sprintf("%d%06d", s+1, id), u, strconv.Itoa(k), step, end))
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	r.Close()

	finals := map[string]int{}
	var diamonds, made int64
	for i, m := range rec.messages() {
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
		e := decode(t, m)
		g := e.Data.(event.GiftData)
		if g.StreakState == event.StreakFinal {
			finals[g.User.UserID+"/"+g.StreakID]++
			diamonds += g.TotalDiamonds
			if e.ID == "" {
				made++
			}
		}
	}
	if len(finals) != senders*streaks {
		t.Errorf("%d streaks ended, want %d", len(finals), senders*streaks)
	}
	for k, n := range finals {
		if n != 1 {
			t.Errorf("streak %s ended %d times", k, n)
		}
	}
	snap := r.Snapshot()
	if snap.Counters.Diamonds != diamonds || snap.Counters.StreaksTimedOut != made || snap.OpenStreaks != 0 {
		t.Errorf("diamonds %d, timed out %d, open %d; want %d, %d, 0", snap.Counters.Diamonds,
			snap.Counters.StreaksTimedOut, snap.OpenStreaks, diamonds, made)
	}
}

// TestRoom_PublishConcurrentWithClose closes a room while streaks are being opened: every streak that
// was passed on must still end (no streak opened between Close's finalising and its closing).
func TestRoom_PublishConcurrentWithClose(t *testing.T) {
	leakcheck.Check(t)
	for round := range 40 {
		rec := newRecorder()
		r := New("streamer", rec, Options{StreakTimeout: time.Hour})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for n := 0; ; n++ {
					if !r.Publish(heart(fmt.Sprintf("%d%07d", g+1, n), alice, fmt.Sprintf("%d-%d", g, n), 1, false)) {
						return
					}
				}
			})
		}
		rec.waitFor(t, "some streaks", func(m []*hub.Message) bool { return len(m) >= 4 })
		r.Close()
		wg.Wait()

		progress, finals := map[string]int{}, map[string]int{}
		for _, m := range rec.messages() {
			g := decode(t, m).Data.(event.GiftData)
			switch g.StreakState {
			case event.StreakProgress:
				progress[g.StreakID]++
			case event.StreakFinal:
				finals[g.StreakID]++
			}
		}
		if open := r.Snapshot().OpenStreaks; open != 0 {
			t.Fatalf("round %d: %d streaks still open after Close", round, open)
		}
		for k := range progress {
			if finals[k] != 1 {
				t.Fatalf("round %d: streak %s ended %d times, want once", round, k, finals[k])
			}
		}
	}
}

// ---- the broadcast's totals ----

func lifecycle(typ string, d event.Data) event.Event {
	return event.Lifecycle(typ, event.Room{Username: "streamer", RoomID: "7311111111111111111"}, eventTime, d)
}

// TestRoom_PublishSessionTotals: live_ended gets the figures counted since live_started (or since
// ResumeSession's seed), simulated events left out; outside a broadcast nothing is counted.
func TestRoom_PublishSessionTotals(t *testing.T) {
	simulated := chat("s1", "made up")
	simulated.Simulated = true
	started := lifecycle(event.TypeLiveStarted, event.LiveStartedData{RoomID: "7311111111111111111", Title: "t"})
	ended := lifecycle(event.TypeLiveEnded, event.LiveEndedData{RoomID: "7311111111111111111", Reason: event.LiveEndedByHost})
	tests := []struct {
		name   string
		seed   *event.LiveTotals
		events []event.Event
		want   event.LiveTotals
	}{
		{
			name: "a whole broadcast",
			events: []event.Event{
				chat("0", "before the broadcast"), started,
				chat("1", "hi"), chat("2", "again"), roomUser("3", 120), roomUser("4", 90),
				like("5", 10, 0), like("6", 5, 0), galaxy("7", bob), heart("8", alice, "s", 1, false), heart("9", alice, "s", 3, true),
				social("10", "follow"), social("11", "share"), social("12", "follow"), simulated, ended,
			},
			want: event.LiveTotals{Likes: 15, Diamonds: 1000 + 15, Gifts: 1 + 3, Follows: 2, Shares: 1, Chats: 2, PeakViewers: 120,
				Events: 1 + 12 + 1},
		},
		{
			name:   "TikTok's like total wins when larger",
			events: []event.Event{started, like("1", 10, 500), like("2", 5, 0), ended},
			want:   event.LiveTotals{Likes: 500, Events: 4},
		},
		{
			name:   "a new live_started starts from zero",
			events: []event.Event{started, chat("1", "old"), started, chat("2", "new"), ended},
			want:   event.LiveTotals{Chats: 1, Events: 3},
		},
		{
			name:   "resumed after a restart: the seed goes on",
			seed:   &event.LiveTotals{Likes: 100, Diamonds: 50, Gifts: 2, Chats: 7, PeakViewers: 300, Events: 40},
			events: []event.Event{like("1", 5, 0), chat("2", "hi"), roomUser("3", 200), ended},
			want:   event.LiveTotals{Likes: 105, Diamonds: 50, Gifts: 2, Chats: 8, PeakViewers: 300, Events: 44},
		},
		{
			name:   "live_ended without a broadcast keeps its data",
			events: []event.Event{chat("1", "hi"), ended},
			want:   event.LiveTotals{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rec := newRoom(t, "streamer", Options{StreakTimeout: time.Hour})
			if tt.seed != nil {
				r.ResumeSession(*tt.seed)
			}
			for _, e := range tt.events {
				r.Publish(e)
			}
			msgs := rec.messages()
			last := decode(t, msgs[len(msgs)-1])
			d, ok := last.Data.(event.LiveEndedData)
			if !ok {
				t.Fatalf("last event %s, want live_ended", last.Type)
			}
			if d.Totals != tt.want {
				t.Errorf("totals\n  %+v\nwant\n  %+v", d.Totals, tt.want)
			}
			if d.Reason != event.LiveEndedByHost || d.RoomID == "" {
				t.Errorf("live_ended data %+v: the supervisor's keys must be kept", d)
			}
		})
	}
}

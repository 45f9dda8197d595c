package room

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// memWatchList is a WatchList in memory, as the store keeps it.
type memWatchList struct {
	mu    sync.Mutex
	rooms map[string]Watched
}

func newMemWatchList(ws ...Watched) *memWatchList {
	l := &memWatchList{rooms: map[string]Watched{}}
	for _, w := range ws {
		l.rooms[w.Username] = w
	}
	return l
}

func (l *memWatchList) Watch(_ context.Context, w Watched) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.rooms[w.Username]; ok {
		w.AddedAt = old.AddedAt
	}
	l.rooms[w.Username] = w
	return nil
}

func (l *memWatchList) SaveState(_ context.Context, username string, st WatchState) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := l.rooms[username]; ok {
		w.State = st
		l.rooms[username] = w
	}
	return nil
}

func (l *memWatchList) Unwatch(_ context.Context, username string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.rooms[username]
	delete(l.rooms, username)
	return ok, nil
}

func (l *memWatchList) Watched(context.Context) ([]Watched, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Watched, 0, len(l.rooms))
	for _, w := range l.rooms {
		out = append(out, w)
	}
	return out, nil
}

func (l *memWatchList) get(name string) (Watched, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.rooms[name]
	return w, ok
}

func (l *memWatchList) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k := range l.rooms {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestLiveCheckDelay(t *testing.T) {
	const poll = 30 * time.Second
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	tests := []struct {
		name  string
		first bool
		randN func(int64) int64
		want  time.Duration
	}{
		{"first check, earliest", true, lowest, poll / 2},
		{"first check, latest", true, highest, poll/2 + poll - 1},
		{"later check, earliest", false, lowest, poll * 9 / 10},
		{"later check, latest", false, highest, poll * 11 / 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := liveCheckDelay(poll, tt.first, tt.randN); got != tt.want {
				t.Errorf("liveCheckDelay = %v, want %v", got, tt.want)
			}
		})
	}
	if got := liveCheckDelay(0, false, lowest); got != DefaultLivePoll*9/10 {
		t.Errorf("poll 0: %v, want the default's", got)
	}
}

// TestSupervisor_OfflineWatchedSpendNoSignQuota: 50 watched creators who are offline are checked
// with the cheap live check only: no sign call reaches the fake and no token of the sign budget is
// taken, however many checks go by. Their checks are spread over the --live-poll interval rather
// than all at once. The ones who go live are connected, each with exactly one sign call.
func TestSupervisor_OfflineWatchedSpendNoSignQuota(t *testing.T) {
	const rooms, poll, budget = 50, 100 * time.Millisecond, 600
	h := newHarness(t, harnessOptions{maxRooms: rooms, config: func(c *Config) { c.Quota, c.LivePoll = NewQuota(budget), poll }})
	names := make([]string, rooms)
	for i := range names {
		names[i] = fmt.Sprintf("offline%02d", i) // the fake answers offline for this prefix
		h.start(names[i], StartOptions{})
	}
	// Every room has been through at least two live checks: its next check moved twice.
	for _, name := range names {
		first := h.awaitStatus(name, "waiting_for_live", func(s Status) bool { return s.State == StateWaitingForLive }).NextCheckAt
		second := h.awaitStatus(name, "a live check", func(s Status) bool { return s.NextCheckAt.After(first) }).NextCheckAt
		h.awaitStatus(name, "another live check", func(s Status) bool { return s.NextCheckAt.After(second) })
	}
	calls, limited, failed := h.m.SignStats()
	fakeCalls := 0
	for _, name := range names {
		fakeCalls += len(h.fake.Record(name).SignCalls)
	}
	if calls != 0 || limited != 0 || failed != 0 || fakeCalls != 0 {
		t.Errorf("%d offline rooms: %d sign calls (%d limited, %d failed), the fake saw %d; want 0", rooms, calls, limited, failed, fakeCalls)
	}
	if got := h.m.Quota().Remaining(); got != budget {
		t.Errorf("sign budget: %v tokens left of %d; live checks must take none", got, budget)
	}
	for _, name := range names {
		st := h.status(name)
		if st.State != StateWaitingForLive || st.OfflineSince.IsZero() || st.NextCheckAt.IsZero() || !st.NextCheckAt.Equal(st.NextRetryAt) {
			t.Errorf("%s: state %s, offlineSince %v, nextCheckAt %v (nextRetryAt %v); want waiting, both set, equal",
				name, st.State, st.OfflineSince, st.NextCheckAt, st.NextRetryAt)
		}
	}
	// Spread: the first checks fall in [poll/2, 3·poll/2) after each room was found offline, and
	// not in step (50 uniform draws all within a quarter of the interval: chance about 50·0.25^49).
	var offsets []time.Duration
	for _, e := range h.col.all() {
		if d, ok := e.Data.(event.WaitingForLiveData); ok {
			offsets = append(offsets, d.NextCheckAt.Sub(e.Time))
		}
	}
	if len(offsets) < rooms {
		t.Fatalf("%d waiting_for_live events, want %d", len(offsets), rooms)
	}
	// The event's time is taken a moment after the check was scheduled, and truncated to the
	// millisecond: the bounds allow for both.
	lo, hi := slices.Min(offsets), slices.Max(offsets)
	if lo < poll/2-poll/5 || hi > poll*3/2+time.Millisecond {
		t.Errorf("first checks %v to %v after going offline, want within [%v, %v)", lo, hi, poll/2, poll*3/2)
	}
	if hi-lo < poll/4 {
		t.Errorf("first checks all within %v: not spread over the interval", hi-lo)
	}

	// Five go live: each is connected with one sign call, and announced.
	live := names[:5]
	for _, name := range live {
		h.fake.SetLive(name, true)
	}
	for _, name := range live {
		h.await(name+" connected", 0, is(name, event.TypeConnectionCreated))
		h.await(name+" live_started", 0, is(name, event.TypeLiveStarted))
		if st := h.status(name); !st.OfflineSince.IsZero() || !st.NextCheckAt.IsZero() {
			t.Errorf("%s connected: offlineSince %v, nextCheckAt %v; want both zero", name, st.OfflineSince, st.NextCheckAt)
		}
	}
	if calls, _, _ := h.m.SignStats(); calls != int64(len(live)) {
		t.Errorf("%d sign calls after %d rooms went live, want one each", calls, len(live))
	}
	for _, name := range names[len(live):] {
		if n := len(h.fake.Record(name).SignCalls); n != 0 {
			t.Errorf("%s (still offline): %d sign calls", name, n)
		}
	}
}

// totalsOf counts, from the collected events, what live_ended's totals must say.
func totalsOf(evs []event.Event) event.LiveTotals {
	var t event.LiveTotals
	var sum int64
	for _, e := range evs {
		t.Events++
		switch d := e.Data.(type) {
		case event.ChatData:
			t.Chats++
		case event.RoomUserData:
			t.PeakViewers = max(t.PeakViewers, d.ViewerCount)
		case event.LikeData:
			sum += d.LikeCount
			t.Likes = max(t.Likes, d.TotalLikeCount, sum)
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
		}
	}
	return t
}

// TestSupervisor_LiveLifecycle: each broadcast is announced once, after connection_created, with
// its title and TikTok's start time, and ended once: streamEnd, disconnected, live_ended with the
// figures of the events in between. The status says when the host was last live, since when it is
// offline and when the next check is.
func TestSupervisor_LiveLifecycle(t *testing.T) {
	h := newHarness(t, harnessOptions{fake: faketiktok.Options{Users: map[string]faketiktok.UserConfig{
		"streamer": {Stream: faketiktok.StreamConfig{Rate: 100, HistorySize: -1, EndAfter: 60, Seed: 11}},
	}}})
	h.start("streamer", StartOptions{})
	roomID := strconv.FormatInt(h.fake.RoomID("streamer"), 10)

	iCC, _ := h.await("connection_created", 0, is("streamer", event.TypeConnectionCreated))
	iStart, started := h.await("live_started", iCC, is("streamer", event.TypeLiveStarted))
	if iStart != iCC+1 {
		t.Errorf("live_started is event %d, want right after connection_created (%d)", iStart, iCC)
	}
	sd := started.Data.(event.LiveStartedData)
	if ago := started.Time.Sub(sd.StartedAt); sd.RoomID != roomID || sd.Title != "streamer is LIVE 🎥" || ago < 16*time.Minute || ago > 18*time.Minute {
		t.Errorf("live_started %+v (started %v before the event); want room %s, the fake's title, TikTok's start 17m ago", sd, ago, roomID)
	}
	iEnd, _ := h.await("streamEnd", iStart, is("streamer", event.TypeStreamEnd))
	iLE, ended := h.await("live_ended", iStart, is("streamer", event.TypeLiveEnded))
	evs := h.col.all()
	if iLE != iEnd+2 || !isDisconnected("streamer", "stream_end")(evs[iEnd+1]) {
		t.Errorf("live_ended is event %d; want streamEnd (%d), disconnected, live_ended", iLE, iEnd)
	}
	ed := ended.Data.(event.LiveEndedData)
	if ed.Reason != event.LiveEndedByHost || ed.RoomID != roomID || ed.Title != sd.Title || !ed.StartedAt.Equal(sd.StartedAt) {
		t.Errorf("live_ended %+v; want reason ended and the broadcast of %+v", ed, sd)
	}
	if want := ended.Time.Sub(sd.StartedAt).Milliseconds(); ed.DurationMs < want-1000 || ed.DurationMs > want+1000 {
		t.Errorf("durationMs %d, want about %d", ed.DurationMs, want)
	}
	if want := totalsOf(evs[iStart : iLE+1]); ed.Totals != want || want.Chats == 0 {
		t.Errorf("totals\n  %+v\nwant (counted from the events)\n  %+v", ed.Totals, want)
	}

	// The host stays live: the next broadcast is announced anew.
	iCC2, _ := h.await("second connection_created", iLE, is("streamer", event.TypeConnectionCreated))
	h.await("second live_started", iCC2, is("streamer", event.TypeLiveStarted))
	st := h.awaitStatus("streamer", "connected", func(s Status) bool { return s.State == StateConnected })
	if time.Since(st.LastLiveAt) > time.Second || !st.OfflineSince.IsZero() || !st.NextCheckAt.IsZero() {
		t.Errorf("connected: lastLiveAt %v, offlineSince %v, nextCheckAt %v; want now, zero, zero", st.LastLiveAt, st.OfflineSince, st.NextCheckAt)
	}

	// Offline: the broadcast ends once, then the room waits.
	h.fake.SetLive("streamer", false)
	iW, _ := h.await("waiting_for_live", iCC2, is("streamer", event.TypeWaitingForLive))
	st = h.awaitStatus("streamer", "waiting", func(s Status) bool { return s.State == StateWaitingForLive })
	if st.OfflineSince.IsZero() || st.NextCheckAt.IsZero() || st.LastLiveAt.IsZero() || st.LastLiveAt.After(st.OfflineSince) {
		t.Errorf("offline: offlineSince %v, nextCheckAt %v, lastLiveAt %v; want all set, last live before offline",
			st.OfflineSince, st.NextCheckAt, st.LastLiveAt)
	}
	h.fake.SetLive("streamer", true)
	iCC3, _ := h.await("connection_created once live again", iW, is("streamer", event.TypeConnectionCreated))
	h.await("third live_started", iCC3, is("streamer", event.TypeLiveStarted))

	// Over the whole run the pair alternates: started, ended, started, ended, started.
	var pairs []string
	for _, e := range h.col.all() {
		if e.Type == event.TypeLiveStarted || e.Type == event.TypeLiveEnded {
			pairs = append(pairs, e.Type)
		}
	}
	want := []string{event.TypeLiveStarted, event.TypeLiveEnded, event.TypeLiveStarted, event.TypeLiveEnded, event.TypeLiveStarted}
	if !slices.Equal(pairs[:min(len(pairs), len(want))], want) {
		t.Errorf("broadcast events %v, want %v first", pairs, want)
	}
	for i := 1; i < len(pairs); i++ {
		if pairs[i] == pairs[i-1] {
			t.Errorf("broadcast events %v: %s twice in a row", pairs, pairs[i])
		}
	}
}

// TestManager_WatchList: which starts and stops change the watch list.
func TestManager_WatchList(t *testing.T) {
	t.Run("put, update, delete", func(t *testing.T) {
		wl := newMemWatchList()
		h := newHarness(t, harnessOptions{maxRooms: 3, config: func(c *Config) { c.WatchList = wl }})
		h.start("alice", StartOptions{Watch: &WatchOptions{Priority: 5, Proxy: "socks5://p:1080", Upstream: "eu"}})
		h.start("bob", StartOptions{GiveUpOffline: true})
		w, ok := wl.get("alice")
		if !ok || w.Options != (WatchOptions{Priority: 5, Proxy: "socks5://p:1080", Upstream: "eu"}) || w.GiveUpOffline || w.AddedAt.IsZero() {
			t.Errorf("alice listed %v: %+v", ok, w)
		}
		if w, ok := wl.get("bob"); !ok || !w.GiveUpOffline {
			t.Errorf("bob listed %v: %+v; want give-up-offline", ok, w)
		}
		if st := h.status("alice"); st.Options.Priority != 5 || st.Options.Upstream != "eu" {
			t.Errorf("alice's status options %+v", st.Options)
		}
		// Start again with options: they replace the running room's, which goes on.
		if _, started, err := h.m.Start("alice", StartOptions{Watch: &WatchOptions{Priority: 9}}); err != nil || started {
			t.Fatalf("Start(alice) again = %v, %v", started, err)
		}
		if w, _ := wl.get("alice"); w.Options != (WatchOptions{Priority: 9}) || h.status("alice").Options.Priority != 9 {
			t.Errorf("after an update: listed %+v, status %+v", w.Options, h.status("alice").Options)
		}
		// Without options they stay.
		h.m.Start("alice", StartOptions{})
		if w, _ := wl.get("alice"); w.Options.Priority != 9 {
			t.Errorf("Start without options changed them: %+v", w.Options)
		}
		h.await("alice connected", 0, is("alice", event.TypeConnectionCreated))
		h.await("alice announced", 0, is("alice", event.TypeLiveStarted))
		testutil.Eventually(t, waitFor, func() bool { w, _ := wl.get("alice"); return w.State.Live != nil },
			"the watch list does not have alice's broadcast")
		if w, _ := wl.get("alice"); w.State.Live.RoomID != strconv.FormatInt(h.fake.RoomID("alice"), 10) || w.State.LastLiveAt.IsZero() {
			t.Errorf("alice's listed state %+v", w.State)
		}
		if _, err := h.m.Stop("alice", ReasonRequested); err != nil {
			t.Fatal(err)
		}
		if names := wl.names(); !slices.Equal(names, []string{"bob"}) {
			t.Errorf("after Stop(alice): listed %v, want [bob]", names)
		}
	})

	t.Run("single-user mode keeps the current room", func(t *testing.T) {
		wl := newMemWatchList()
		h := newHarness(t, harnessOptions{maxRooms: 1, config: func(c *Config) { c.WatchList = wl }})
		h.start("alice", StartOptions{})
		h.start("bob", StartOptions{})
		if names := wl.names(); !slices.Equal(names, []string{"bob"}) {
			t.Errorf("listed %v, want [bob]: the connect replaced alice", names)
		}
	})

	t.Run("shutdown and final errors keep rooms", func(t *testing.T) {
		wl := newMemWatchList()
		h := newHarness(t, harnessOptions{maxRooms: 2, config: func(c *Config) { c.WatchList = wl }})
		h.start("alice", StartOptions{})
		h.start("notfoundzed", StartOptions{})
		h.awaitStatus("notfoundzed", "stopped", func(s Status) bool { return s.State == StateStopped })
		h.m.Close()
		if names := wl.names(); !slices.Equal(names, []string{"alice", "notfoundzed"}) {
			t.Errorf("after Close: listed %v, want both (tried again at the next start)", names)
		}
	})

	t.Run("unknown but listed", func(t *testing.T) {
		wl := newMemWatchList(Watched{Username: "carol", AddedAt: time.Now()})
		h := newHarness(t, harnessOptions{config: func(c *Config) { c.WatchList = wl }})
		st, err := h.m.Stop("carol", ReasonRequested)
		if err != nil || st.State != StateStopped || st.Username != "carol" {
			t.Errorf("Stop of a listed room the manager does not run = %+v, %v; want stopped", st, err)
		}
		if len(wl.names()) != 0 {
			t.Errorf("still listed: %v", wl.names())
		}
		if _, err := h.m.Stop("carol", ReasonRequested); err == nil {
			t.Error("Stop of a room neither run nor listed succeeded")
		}
	})
}

// TestManager_Resume: the watch list is resumed highest priority first up to --max-rooms; the
// rest are shown as stopped (room_limit) and stay listed, and a PUT starts one, with its options,
// once there is room.
func TestManager_Resume(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	wl := newMemWatchList(
		Watched{Username: "low", Options: WatchOptions{Priority: -1}, AddedAt: t0},
		Watched{Username: "top", Options: WatchOptions{Priority: 10, Proxy: "px"}, AddedAt: t0.Add(time.Hour)},
		Watched{Username: "older", Options: WatchOptions{Priority: 3}, AddedAt: t0},
		Watched{Username: "newer", Options: WatchOptions{Priority: 3, Upstream: "up"}, AddedAt: t0.Add(time.Minute)},
	)
	h := newHarness(t, harnessOptions{maxRooms: 2, config: func(c *Config) { c.WatchList = wl }})
	rep, err := h.m.Resume(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Started, []string{"top", "older"}) || !slices.Equal(rep.Skipped, []string{"newer", "low"}) {
		t.Fatalf("Resume = %+v; want top, older started; newer, low skipped", rep)
	}
	for _, name := range rep.Started {
		h.await(name+" connected", 0, is(name, event.TypeConnectionCreated))
	}
	if st := h.status("top"); st.Options.Proxy != "px" || st.Options.Priority != 10 {
		t.Errorf("top's options %+v", st.Options)
	}
	for _, name := range rep.Skipped {
		st := h.status(name)
		if st.State != StateStopped || st.StopReason != ReasonRoomLimit || st.LastError == nil || st.LastError.Code != ReasonRoomLimit {
			t.Errorf("%s: %+v; want stopped, room_limit", name, st)
		}
	}
	if list := h.m.List(); len(list) != 4 {
		t.Errorf("List has %d rooms, want 4 (the skipped ones too)", len(list))
	}
	if names := wl.names(); len(names) != 4 {
		t.Errorf("listed %v, want all four kept", names)
	}
	if _, _, err := h.m.Start("newer", StartOptions{}); err == nil {
		t.Error("Start of a skipped room with --max-rooms reached succeeded")
	}
	h.m.Stop("older", ReasonRequested)
	h.start("newer", StartOptions{}) // no options given: it keeps its listed ones
	if st := h.status("newer"); st.Options.Upstream != "up" || st.Options.Priority != 3 {
		t.Errorf("newer started with options %+v, want its listed ones", st.Options)
	}
	h.await("newer connected", 0, is("newer", event.TypeConnectionCreated))
	if names := wl.names(); !slices.Equal(names, []string{"low", "newer", "top"}) {
		t.Errorf("listed %v, want low, newer, top", names)
	}
}

// TestManager_ResumeBroadcast: a broadcast announced before a restart goes on after it: the same
// LIVE is not announced again; a host gone offline meanwhile gets its live_ended (offline), and
// one live in another room gets live_ended (new_broadcast) then live_started. live_ended's totals
// go on from the figures the list had.
func TestManager_ResumeBroadcast(t *testing.T) {
	seed := event.LiveTotals{Likes: 100, Diamonds: 40, Gifts: 4, Chats: 10, PeakViewers: 77, Events: 500}
	started := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	tests := []struct {
		name     string
		user     string
		sameRoom bool
		want     []string // broadcast events, in order
		reason   string
	}{
		{name: "same LIVE", user: "samelive", sameRoom: true, want: nil},
		{name: "gone offline", user: "offlinegone", sameRoom: true, want: []string{event.TypeLiveEnded}, reason: event.LiveEndedOffline},
		{name: "a new LIVE", user: "newlive", want: []string{event.TypeLiveEnded, event.TypeLiveStarted}, reason: event.LiveEndedNewBroadcast},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wl := newMemWatchList()
			h := newHarness(t, harnessOptions{config: func(c *Config) { c.WatchList = wl }})
			roomID := "7000000000000000001"
			if tt.sameRoom {
				roomID = strconv.FormatInt(h.fake.RoomID(tt.user), 10)
			}
			wl.Watch(t.Context(), Watched{Username: tt.user, AddedAt: started, State: WatchState{LastLiveAt: started,
				Live: &Broadcast{RoomID: roomID, Title: "before", StartedAt: started, Totals: seed}}})
			if _, err := h.m.Resume(t.Context()); err != nil {
				t.Fatal(err)
			}
			var settled func(Status) bool
			if tt.user == "offlinegone" {
				settled = func(s Status) bool { return s.State == StateWaitingForLive }
			} else {
				settled = func(s Status) bool { return s.State == StateConnected }
			}
			h.awaitStatus(tt.user, "settled", settled)
			if len(tt.want) > 0 {
				h.await("the last broadcast event", 0, is(tt.user, tt.want[len(tt.want)-1]))
			}
			var got []string
			var ended event.Event
			for _, e := range h.col.all() {
				if e.Type == event.TypeLiveStarted || e.Type == event.TypeLiveEnded {
					got = append(got, e.Type)
				}
				if e.Type == event.TypeLiveEnded {
					ended = e
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("broadcast events %v, want %v", got, tt.want)
			}
			if tt.reason == "" {
				if w, _ := wl.get(tt.user); w.State.Live == nil || w.State.Live.RoomID != roomID {
					t.Errorf("listed broadcast %+v, want the same one going on", w.State.Live)
				}
				return
			}
			d := ended.Data.(event.LiveEndedData)
			if d.Reason != tt.reason || d.RoomID != roomID || d.Title != "before" || !d.StartedAt.Equal(started) || d.DurationMs < time.Hour.Milliseconds() {
				t.Errorf("live_ended %+v; want reason %s, the listed broadcast, over an hour", d, tt.reason)
			}
			if d.Totals.Likes != seed.Likes || d.Totals.Diamonds != seed.Diamonds || d.Totals.Events <= seed.Events {
				t.Errorf("totals %+v, want the seed %+v and the events since", d.Totals, seed)
			}
		})
	}
}

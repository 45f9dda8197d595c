package room

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

func isClosed(user, reason string) func(event.Event) bool {
	return func(e event.Event) bool {
		d, ok := e.Data.(event.ConnectionClosedData)
		return e.Username == user && e.Type == event.TypeConnectionClosed && ok && d.Reason == reason
	}
}

// countEvents counts the collected events that match.
func (h *harness) countEvents(match func(event.Event) bool) int {
	n := 0
	for _, e := range h.col.all() {
		if match(e) {
			n++
		}
	}
	return n
}

func TestManager_SingleUserReplaces(t *testing.T) {
	t.Run("max 1", func(t *testing.T) {
		h := newHarness(t, harnessOptions{maxRooms: 1})
		h.start("alice", StartOptions{})
		h.await("alice connected", 0, is("alice", event.TypeConnectionCreated))
		if cur, ok := h.m.Current(); !ok || cur.Username != "alice" {
			t.Fatalf("Current = %q, %v; want alice", cur.Username, ok)
		}
		// Starting a running room again is a no-op.
		if _, started, err := h.m.Start("Alice", StartOptions{}); err != nil || started {
			t.Errorf("Start(Alice) again = started %v, %v; want already running", started, err)
		}

		h.start("bob", StartOptions{})
		// Start returns once alice is stopped: her status and goodbye are already there.
		st := h.status("alice")
		if st.State != StateStopped || st.StopReason != ReasonReplaced {
			t.Errorf("alice: state %s, reason %q; want stopped, replaced", st.State, st.StopReason)
		}
		if h.m.Running("alice") {
			t.Error("alice still running")
		}
		_, closed := h.await("connection_closed replaced for alice", 0, isClosed("alice", ReasonReplaced))
		if closed.Username != "alice" {
			t.Errorf("connection_closed username %q, want alice", closed.Username)
		}
		h.await("bob connected", 0, is("bob", event.TypeConnectionCreated))
		if cur, ok := h.m.Current(); !ok || cur.Username != "bob" {
			t.Errorf("Current = %q, %v; want bob", cur.Username, ok)
		}
		// connection_closed is alice's last event: nothing of hers after it.
		evs := h.col.all()
		iClosed, _ := h.await("", 0, isClosed("alice", ReasonReplaced))
		for _, e := range evs[iClosed+1:] {
			if e.Username == "alice" {
				t.Errorf("alice event after connection_closed: %s", e.AppendJSON(nil))
			}
		}
		if n := h.countEvents(is("bob", event.TypeConnectionClosed)); n != 0 {
			t.Errorf("%d connection_closed for bob, want 0", n)
		}

		// Alice again replaces bob; her stream goes on where it stopped (same epoch, next seq).
		lastAlice := evs[iClosed]
		h.start("alice", StartOptions{})
		h.await("connection_closed replaced for bob", 0, isClosed("bob", ReasonReplaced))
		_, again := h.await("alice connected again", iClosed+1, is("alice", event.TypeConnectionCreated))
		if again.Epoch != lastAlice.Epoch || again.Seq <= lastAlice.Seq {
			t.Errorf("alice's stream restarted: epoch %s seq %d after epoch %s seq %d", again.Epoch, again.Seq, lastAlice.Epoch, lastAlice.Seq)
		}
		if list := h.m.List(); len(list) != 2 || list[0].Username != "alice" || list[0].State == StateStopped || list[1].State != StateStopped {
			t.Errorf("List = %+v; want alice running, then bob stopped", list)
		}
	})

	t.Run("max 2", func(t *testing.T) {
		h := newHarness(t, harnessOptions{maxRooms: 2})
		h.start("alice", StartOptions{})
		h.start("bob", StartOptions{})
		_, _, err := h.m.Start("carol", StartOptions{})
		if !errors.Is(err, ErrRoomLimit) {
			t.Fatalf("third Start = %v, want ErrRoomLimit", err)
		}
		if _, ok := h.m.Status("carol"); ok {
			t.Error("carol is known after a refused Start")
		}
		h.await("alice connected", 0, is("alice", event.TypeConnectionCreated))
		h.await("bob connected", 0, is("bob", event.TypeConnectionCreated))
		for _, name := range []string{"alice", "bob"} {
			if !h.m.Running(name) {
				t.Errorf("%s not running", name)
			}
		}
		if cur, ok := h.m.Current(); !ok || cur.Username != "bob" {
			t.Errorf("Current = %q, %v; want bob (the latest started)", cur.Username, ok)
		}
		if n := h.countEvents(func(e event.Event) bool { return e.Type == event.TypeConnectionClosed }); n != 0 {
			t.Errorf("%d connection_closed events, want 0", n)
		}
		// A stopped room frees its slot.
		if _, err := h.m.Stop("alice", ReasonRequested); err != nil {
			t.Fatalf("Stop(alice): %v", err)
		}
		h.start("carol", StartOptions{})
	})
}

func TestManager_StopAndClose(t *testing.T) {
	h := newHarness(t, harnessOptions{maxRooms: 3})
	for _, name := range []string{"alice", "bob", "carol"} {
		h.start(name, StartOptions{})
	}
	for _, name := range []string{"alice", "bob", "carol"} {
		h.await(name+" connected", 0, is(name, event.TypeConnectionCreated))
	}

	st, err := h.m.Stop("ALICE", ReasonRequested) // names are case-insensitive
	if err != nil {
		t.Fatalf("Stop(alice): %v", err)
	}
	if st.State != StateStopped || st.StopReason != ReasonRequested || !st.ConnectedSince.IsZero() {
		t.Errorf("Stop returned %+v; want stopped, requested, not connected", st)
	}
	h.await("connection_closed requested for alice", 0, isClosed("alice", ReasonRequested))
	// Stopping again changes nothing and says nothing.
	if st, err := h.m.Stop("alice", ReasonShutdown); err != nil || st.StopReason != ReasonRequested {
		t.Errorf("second Stop = %q, %v; want requested, nil", st.StopReason, err)
	}
	if _, err := h.m.Stop("nobody", ReasonRequested); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stop(nobody) = %v, want ErrNotFound", err)
	}
	if _, err := h.m.Settled(t.Context(), "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Settled(nobody) = %v, want ErrNotFound", err)
	}

	h.m.Close()
	for _, name := range []string{"bob", "carol"} {
		h.await("connection_closed shutdown for "+name, 0, isClosed(name, ReasonShutdown))
		if st := h.status(name); st.State != StateStopped || st.StopReason != ReasonShutdown {
			t.Errorf("%s after Close: state %s, reason %q; want stopped, shutdown", name, st.State, st.StopReason)
		}
	}
	if n := h.countEvents(is("alice", event.TypeConnectionClosed)); n != 1 {
		t.Errorf("alice got %d connection_closed, want 1 (she was stopped before Close)", n)
	}
	if _, _, err := h.m.Start("dave", StartOptions{}); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Start after Close = %v, want ErrShuttingDown", err)
	}
	if _, ok := h.m.Current(); ok {
		t.Error("Current after Close: a room still runs")
	}
	for _, st := range h.m.List() {
		if st.State != StateStopped {
			t.Errorf("%s after Close: state %s", st.Username, st.State)
		}
	}
	// Every room's stream ends with connection_closed, in seq order without gaps.
	last := map[string]event.Event{}
	for _, e := range h.col.all() {
		if p, ok := last[e.Username]; ok && e.Seq != p.Seq+1 {
			t.Errorf("%s: seq %d after %d", e.Username, e.Seq, p.Seq)
		}
		last[e.Username] = e
	}
	for name, e := range last {
		if e.Type != event.TypeConnectionClosed {
			t.Errorf("%s's last event is %s, want connection_closed", name, e.Type)
		}
	}
	// The harness's cleanup closes everything else; leakcheck then finds no goroutine left.
}

// TestManager_StatusDuringStop reads the manager from other goroutines while rooms are started
// and stopped, as the HTTP handlers do; the race detector checks the bookkeeping.
func TestManager_StatusDuringStop(t *testing.T) {
	h := newHarness(t, harnessOptions{maxRooms: 1})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, read := range []func(){
		func() { h.m.Status("alice") },
		func() { h.m.Status("bob") },
		func() { h.m.List() },
		func() { h.m.Current() },
		func() { h.m.Running("alice") },
	} {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					read()
				}
			}
		})
	}
	for i := range 20 {
		h.start("alice", StartOptions{})
		h.start("bob", StartOptions{}) // replaces alice
		if _, err := h.m.Stop("bob", ReasonRequested); err != nil {
			t.Errorf("round %d: Stop(bob): %v", i, err)
		}
	}
	close(done)
	wg.Wait()
	for _, name := range []string{"alice", "bob"} {
		if st := h.status(name); st.State != StateStopped {
			t.Errorf("%s: state %s, want stopped", name, st.State)
		}
	}
}

func TestManager_QuotaShared(t *testing.T) {
	// One token a minute: a connect (its sign call) takes one, so of two rooms started together the
	// second must wait about a minute.
	h := newHarness(t, harnessOptions{maxRooms: 2, config: func(c *Config) { c.Quota = NewQuota(1) }})
	t0 := time.Now()
	h.start("alice", StartOptions{})
	h.start("bob", StartOptions{})
	_, rl := h.await("rate_limited for the room that waits for a token", 0, func(e event.Event) bool {
		return e.Type == event.TypeRateLimited
	})
	waiter := rl.Username
	retryAt := rl.Data.(event.RateLimitedData).RetryAt
	// The bucket refills continuously from the first reservation (after t0), one token a minute, so
	// the second token is due a minute after it. A lower bound only.
	if earliest := t0.Add(time.Minute - 10*time.Millisecond); retryAt.Before(earliest) {
		t.Errorf("retryAt %v is %v after the start, want at least a minute (a token a minute)", retryAt, retryAt.Sub(t0))
	}
	st := h.awaitStatus(waiter, "rate_limited", func(s Status) bool { return s.State == StateRateLimited })
	if !st.NextRetryAt.Truncate(time.Millisecond).Equal(retryAt) {
		t.Errorf("NextRetryAt = %v, want the event's retryAt %v", st.NextRetryAt, retryAt)
	}
	if q := h.m.Quota(); q.PerMinute() != 1 || q.Remaining() != 0 {
		t.Errorf("quota: %d per minute, %v remaining; want 1, 0", q.PerMinute(), q.Remaining())
	}
	// The quota is the sign server's budget: no error is reported for waiting on it.
	if n := h.countEvents(func(e event.Event) bool { return e.Type == event.TypeError }); n != 0 {
		t.Errorf("%d error events, want 0", n)
	}
	// Close does not wait for the token: the waiting room stops at once and gives its token back.
	h.m.Close()
	h.await("connection_closed shutdown for the waiting room", 0, isClosed(waiter, ReasonShutdown))
	if r := h.m.Quota().Remaining(); r != 0 {
		t.Errorf("after Close %v tokens remain, want 0 (the cancelled reservation only pays back its debt)", r)
	}
}

func TestQuota(t *testing.T) {
	type step struct {
		op   string        // reserve (want = wait), remaining (want = tokens), cancel (n), advance (d)
		d    time.Duration // advance
		n    int           // cancel: the reservation's number, 1 = the first
		want float64       // remaining; reserve: the wait in seconds
	}
	tests := []struct {
		name      string
		perMinute int
		steps     []step
	}{
		{"full bucket then waits", 2, []step{
			{op: "remaining", want: 2},
			{op: "reserve", want: 0},
			{op: "reserve", want: 0},
			{op: "remaining", want: 0},
			{op: "reserve", want: 30}, // one token owed: half a minute at 2 a minute
			{op: "reserve", want: 60}, // queued behind the first
			{op: "remaining", want: 0},
		}},
		{"refill", 2, []step{
			{op: "reserve"}, {op: "reserve"},
			{op: "advance", d: 30 * time.Second},
			{op: "remaining", want: 1},
			{op: "reserve", want: 0},
			{op: "remaining", want: 0},
			{op: "advance", d: 15 * time.Second}, // half a token
			{op: "remaining", want: 0},
			{op: "reserve", want: 15}, // the other half
		}},
		{"refill is capped at perMinute", 2, []step{
			{op: "reserve"},
			{op: "advance", d: time.Hour},
			{op: "remaining", want: 2},
			{op: "reserve", want: 0}, {op: "reserve", want: 0}, {op: "reserve", want: 30},
		}},
		{"cancel gives a waiting token back", 2, []step{
			{op: "reserve"}, {op: "reserve"},
			{op: "reserve", want: 30},
			{op: "cancel", n: 3},
			{op: "remaining", want: 0},
			{op: "reserve", want: 30}, // the same place in the queue again
			{op: "cancel", n: 4},
			{op: "cancel", n: 4}, // twice counts once
			{op: "remaining", want: 0},
			{op: "advance", d: 30 * time.Second},
			{op: "remaining", want: 1},
		}},
		{"a token whose wait is over is not given back", 2, []step{
			{op: "reserve"}, {op: "reserve"},
			{op: "reserve", want: 30},
			{op: "advance", d: 31 * time.Second}, // its token was due a second ago
			{op: "cancel", n: 3},
			{op: "remaining", want: 0},
		}},
		{"never above perMinute", 2, []step{
			{op: "reserve", want: 0},
			{op: "cancel", n: 1},
			{op: "remaining", want: 2},
		}},
		{"unlimited", 0, []step{
			{op: "remaining", want: -1},
			{op: "reserve", want: 0}, {op: "reserve", want: 0}, {op: "reserve", want: 0},
			{op: "cancel", n: 1},
			{op: "advance", d: time.Hour},
			{op: "remaining", want: -1},
		}},
		{"negative is unlimited", -5, []step{
			{op: "reserve", want: 0},
			{op: "remaining", want: -1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQuota(tt.perMinute)
			now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
			q.now = func() time.Time { return now }
			if got := q.PerMinute(); got != tt.perMinute {
				t.Errorf("PerMinute = %d, want %d", got, tt.perMinute)
			}
			var cancels []func()
			for i, s := range tt.steps {
				switch s.op {
				case "reserve":
					got, cancel := q.Reserve()
					cancels = append(cancels, cancel)
					if want := time.Duration(s.want * float64(time.Second)); got != want {
						t.Errorf("step %d: Reserve = %v, want %vs", i, got, s.want)
					}
				case "remaining":
					if got := q.Remaining(); got != s.want {
						t.Errorf("step %d: Remaining = %v, want %v", i, got, s.want)
					}
				case "cancel":
					cancels[s.n-1]()
				case "advance":
					now = now.Add(s.d)
				default:
					t.Fatalf("step %d: unknown op %q", i, s.op)
				}
			}
		})
	}
}

// gateLog is a stream.Log whose Position waits at a gate, as the store does while every reader
// connection is taken, and then continues the room at epoch/seq. Append publishes at once.
type gateLog struct {
	epoch    string
	seq      uint64
	gate     chan struct{} // closed: Position answers
	calls    atomic.Int32
	inFlight atomic.Int32
	pub      stream.Publisher // set before the first stream is made
}

func (l *gateLog) Position(ctx context.Context, room string) (event.Position, error) {
	l.calls.Add(1)
	l.inFlight.Add(1)
	defer l.inFlight.Add(-1)
	select {
	case <-l.gate:
		return event.Position{Epoch: l.epoch, Seq: l.seq}, nil
	case <-ctx.Done():
		return event.Position{}, ctx.Err()
	}
}

func (l *gateLog) Append(e *event.Event, m *event.Encoded) {
	l.pub.Publish(m)
}

// within fails the test unless fn returns within d (generous: it only must not wait for the log).
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Errorf("%s did not answer within %v while a room's stream waited for the log", what, d)
	}
}

func simChat(text string) event.Event {
	u := event.User{UserID: "sim-viewer", UniqueID: "viewer", Nickname: "viewer", Badges: []event.Badge{}}
	return event.Event{Type: event.TypeChat, Time: time.Now().UTC().Truncate(time.Millisecond),
		Data: event.ChatData{Sender: "viewer", User: u, Comment: text}}
}

// TestManager_StreamOutsideLock: a new stream reads the log's position without the manager's
// lock held, so a slow log delays only the callers creating that stream; of two callers creating
// it at once one stream wins, and every event goes into it, continuing the logged position.
func TestManager_StreamOutsideLock(t *testing.T) {
	inject := func(m *Manager) error { return m.Inject("carol", simChat("hello")) }
	start := func(m *Manager) error { _, _, err := m.Start("carol", StartOptions{}); return err }
	tests := []struct {
		name          string
		first, second func(*Manager) error
		simulated     int // simulated events expected
		room          bool
	}{
		{"inject and inject", inject, inject, 2, false},
		{"start and inject", start, inject, 1, true},
		{"inject and start", inject, start, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lg := &gateLog{epoch: "00000000000000c1", seq: 41, gate: make(chan struct{})}
			h := newHarness(t, harnessOptions{maxRooms: 2, stream: stream.Options{Log: lg}})
			lg.pub = h.hub
			var once sync.Once
			release := func() { once.Do(func() { close(lg.gate) }) }
			t.Cleanup(release) // before the harness's cleanup, whatever fails

			errs := make(chan error, 2)
			go func() { errs <- tt.first(h.m) }()
			testutil.Eventually(t, waitFor, func() bool { return lg.inFlight.Load() == 1 }, "the first caller never asked the log")
			within(t, 5*time.Second, "Status", func() { h.m.Status("carol") })
			within(t, 5*time.Second, "List", func() { h.m.List() })
			within(t, 5*time.Second, "Streams", func() { h.m.Streams() })
			within(t, 5*time.Second, "Running", func() { h.m.Running("carol") })
			go func() { errs <- tt.second(h.m) }()
			if !testutil.Poll(5*time.Second, func() bool { return lg.inFlight.Load() == 2 }) {
				t.Errorf("the second caller did not get to the log while the first waited for it (%d waiting)", lg.inFlight.Load())
			}
			release()
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatalf("caller: %v", err)
				}
			}

			if n := len(h.m.Streams()); n != 1 {
				t.Errorf("%d streams, want 1 (the loser's dropped)", n)
			}
			simulated := func(e event.Event) bool { return e.Username == "carol" && e.Simulated }
			h.awaitN("simulated events", 0, tt.simulated, simulated)
			if tt.room {
				h.await("carol connected", 0, is("carol", event.TypeConnectionCreated))
			}
			want := lg.seq + 1
			for _, e := range h.col.all() {
				if e.Username != "carol" {
					continue
				}
				if e.Epoch != lg.epoch || e.Seq != want {
					t.Fatalf("carol's event %s is %s #%d, want %s #%d: one stream, continuing the log", e.Type, e.Epoch, e.Seq, lg.epoch, want)
				}
				want++
			}
			if n := h.countEvents(simulated); n != tt.simulated {
				t.Errorf("%d simulated events, want %d", n, tt.simulated)
			}
		})
	}
}

// TestManager_InjectBounded: simulating for ever more names keeps at most maxSimulatedKept
// streams of rooms never started, dropping the one simulated into least recently; a started
// room's stream is never dropped for them; and a room simulated into, dropped, then started works.
func TestManager_InjectBounded(t *testing.T) {
	h := newHarness(t, harnessOptions{maxRooms: 2})
	if err := h.m.Inject("alice", simChat("before")); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Inject("bob", simChat("before")); err != nil {
		t.Fatal(err)
	}
	h.start("bob", StartOptions{}) // bob's simulated stream becomes his room's
	h.await("bob connected", 0, is("bob", event.TypeConnectionCreated))
	bobEpoch := h.status("bob").Stream.Epoch

	const names = 3 * maxSimulatedKept
	for i := range names {
		if err := h.m.Inject(fmt.Sprint("flood", i), simChat(fmt.Sprint(i))); err != nil {
			t.Fatalf("Inject #%d: %v", i, err)
		}
		if n := len(h.m.Streams()); n > maxSimulatedKept+1 {
			t.Fatalf("after %d names: %d streams, want at most %d simulated ones and bob's", i+1, n, maxSimulatedKept)
		}
		// The overlay maker's own room, simulated into now and then, keeps its stream.
		if i%16 == 0 {
			if err := h.m.Inject("carol", simChat(fmt.Sprint("carol ", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	byRoom := map[string]stream.Snapshot{}
	for _, s := range h.m.Streams() {
		byRoom[s.Username] = s
	}
	if _, ok := byRoom["alice"]; ok {
		t.Error("alice's stream, simulated into first and never since, is still kept")
	}
	if s, ok := byRoom["bob"]; !ok || s.Epoch != bobEpoch {
		t.Errorf("bob's room stream: %+v, %v; want it kept, epoch %s", s, ok, bobEpoch)
	}
	if s, ok := byRoom["carol"]; !ok || s.Counters.Events != names/16 {
		t.Errorf("carol's stream: %+v, %v; want it kept with its %d events", s, ok, names/16)
	}
	if !h.m.Running("bob") {
		t.Error("bob stopped")
	}
	// Every simulated event was delivered, none into a stream already closed.
	isSim := func(e event.Event) bool { return e.Simulated }
	want := 2 + names + names/16
	h.awaitN("simulated events", 0, want, isSim)
	if got := h.countEvents(isSim); got != want {
		t.Errorf("%d simulated events delivered, want %d", got, want)
	}

	// alice, dropped, is started for real: she connects and takes simulated events as before.
	from := len(h.col.all())
	h.start("alice", StartOptions{})
	h.await("alice connected", from, is("alice", event.TypeConnectionCreated))
	if err := h.m.Inject("alice", simChat("after")); err != nil {
		t.Fatal(err)
	}
	_, after := h.await("alice's simulated chat", from, func(e event.Event) bool { return e.Username == "alice" && e.Simulated })
	if ep := h.status("alice").Stream.Epoch; after.Epoch != ep || after.RoomID == "" {
		t.Errorf("alice's simulated chat: epoch %s room %q; want her room's epoch %s and its room id", after.Epoch, after.RoomID, ep)
	}
	for i := range names { // another flood leaves both started rooms alone
		h.m.Inject(fmt.Sprint("again", i), simChat("x"))
	}
	if !h.m.Running("alice") || !h.m.Running("bob") || len(h.m.Streams()) > maxSimulatedKept+2 {
		t.Errorf("after another flood: alice running %v, bob running %v, %d streams", h.m.Running("alice"), h.m.Running("bob"), len(h.m.Streams()))
	}
}

// TestManager_PruneStopped: past maxStoppedKept stopped rooms the ones started longest ago are
// forgotten with their streams; the running room and the latest stopped ones stay.
func TestManager_PruneStopped(t *testing.T) {
	h := newHarness(t, harnessOptions{maxRooms: 1})
	const extra = 5
	names := make([]string, maxStoppedKept+extra+1)
	for i := range names {
		names[i] = fmt.Sprintf("room%03d", i)
		h.start(names[i], StartOptions{}) // replaces the one before
	}
	last := names[len(names)-1]
	if !h.m.Running(last) {
		t.Fatalf("%s not running", last)
	}
	for i, name := range names[:len(names)-1] {
		st, known := h.m.Status(name)
		if want := i >= extra; known != want {
			t.Errorf("%s (started #%d): known %v, want %v", name, i, known, want)
		} else if known && st.State != StateStopped {
			t.Errorf("%s: state %s, want stopped", name, st.State)
		}
	}
	if n := len(h.m.List()); n != maxStoppedKept+1 {
		t.Errorf("List has %d rooms, want %d stopped and the running one", n, maxStoppedKept)
	}
	if n := len(h.m.Streams()); n != maxStoppedKept+1 {
		t.Errorf("%d streams, want one per room kept (%d)", n, maxStoppedKept+1)
	}
}

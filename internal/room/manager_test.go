package room

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
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
	// One token a minute: a connect attempt (its resolve and its sign call) takes one, so of two
	// rooms started together the second must wait about a minute.
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
		op   string        // reserve (want = wait), remaining (want = tokens), cancel, advance (d)
		d    time.Duration // advance
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
		{"cancel gives a token back", 2, []step{
			{op: "reserve"}, {op: "reserve"},
			{op: "reserve", want: 30},
			{op: "cancel"},
			{op: "reserve", want: 30}, // the same place in the queue again
			{op: "cancel"}, {op: "cancel"},
			{op: "remaining", want: 1},
			{op: "cancel"}, {op: "cancel"},
			{op: "remaining", want: 2}, // never above perMinute
		}},
		{"unlimited", 0, []step{
			{op: "remaining", want: -1},
			{op: "reserve", want: 0}, {op: "reserve", want: 0}, {op: "reserve", want: 0},
			{op: "cancel"},
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
			for i, s := range tt.steps {
				switch s.op {
				case "reserve":
					if got := q.Reserve(); got != time.Duration(s.want*float64(time.Second)) {
						t.Errorf("step %d: Reserve = %v, want %vs", i, got, s.want)
					}
				case "remaining":
					if got := q.Remaining(); got != s.want {
						t.Errorf("step %d: Remaining = %v, want %v", i, got, s.want)
					}
				case "cancel":
					q.Cancel()
				case "advance":
					now = now.Add(s.d)
				default:
					t.Fatalf("step %d: unknown op %q", i, s.op)
				}
			}
		})
	}
}

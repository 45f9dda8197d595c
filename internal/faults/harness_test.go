package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// waitFor bounds every wait on a condition; generous because -race on a busy machine is slow. No
// test relies on it as a bound of how long recovery should take.
const waitFor = 30 * time.Second

// Settings small enough to keep the suite fast. The stream is steady (50 messages a second), so a
// healthy socket is never silent for the stall timeout, even on a loaded CI machine under -race
// (800 ms was not: a starved socket looked stalled and used up a fault meant for the next one);
// the history batch (200 messages, 4 s of traffic) covers the longest gap a fault here causes,
// so dedup has overlap to drop.
var (
	fakeStream = faketiktok.StreamConfig{Rate: 50, HistorySize: 200, Seed: 11}
	roomConfig = room.Config{
		BackoffBase: 10 * time.Millisecond, BackoffCap: 150 * time.Millisecond,
		LivePoll: 50 * time.Millisecond, StallTimeout: 2 * time.Second,
	}
)

// harness is the real stack on loopback: a fake TikTok, a webcast client, a room.Manager publishing
// into a hub, and one hub subscriber checking every message (checker).
type harness struct {
	t    testing.TB
	fake *faketiktok.Server
	hub  *hub.Hub
	m    *room.Manager
	chk  *checker

	tr     *http.Transport
	cancel context.CancelFunc
}

// newHarness builds the stack; it is torn down by the test's cleanup. maxRooms rooms may run.
func newHarness(t testing.TB, maxRooms int) *harness {
	t.Helper()
	fake, err := faketiktok.Start(t.Context(), faketiktok.Options{Default: fakeStream})
	if err != nil {
		t.Fatalf("faketiktok.Start: %v", err)
	}
	tr := &http.Transport{}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	u := fake.URLs()
	cfg := roomConfig
	cfg.Upstream = webcast.New(webcast.Config{WebURL: u.Web, WebcastURL: u.Webcast, HTTPClient: hc})
	cfg.Signer = &webcast.EulerSigner{BaseURL: u.Sign, Route: webcast.RouteConnect, HTTPClient: hc}
	// The checker must never be closed as a slow consumer: a big queue keeps -race runs honest.
	h := hub.New(hub.Options{MaxQueueBytes: 256 << 20})
	sub, err := h.Subscribe(hub.Filter{}, hub.ClientInfo{Transport: "faults"})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := room.NewManager(ctx, cfg, maxRooms, h, stream.Options{})
	hs := &harness{t: t, fake: fake, hub: h, m: m, chk: newChecker(sub), tr: tr, cancel: cancel}
	t.Cleanup(hs.close)
	return hs
}

// close tears the stack down in dependency order and checks what the subscriber saw. It then drops
// every reference, because the testing package keeps cleanup closures reachable until the whole
// test ends, which would make the heap check count a dead stack as live.
func (h *harness) close() {
	t := h.t
	h.m.Close()
	h.cancel()
	h.hub.Close()
	<-h.chk.done
	h.tr.CloseIdleConnections()
	if err := h.fake.Close(); err != nil {
		t.Errorf("fake Close: %v", err)
	}
	h.chk.assertClean(t)
	*h = harness{t: t}
}

func (h *harness) start(name string) {
	h.t.Helper()
	if _, started, err := h.m.Start(name, room.StartOptions{}); err != nil || !started {
		h.t.Fatalf("Start(%q) = started %v, %v; want started", name, started, err)
	}
}

// await polls cond until it holds; on timeout it fails with what and the room's recent events.
func (h *harness) await(name, what string, cond func() bool) {
	h.t.Helper()
	if !testutil.Poll(waitFor, cond) {
		st, _ := h.m.Status(name)
		h.t.Fatalf("timed out after %v waiting for %s of %s; status %s (attempt %d, reconnects %d, last error %+v)\nrecent events:\n%s",
			waitFor, what, name, st.State, st.Attempt, st.Reconnects, st.LastError, h.chk.recentLog())
	}
}

// awaitFlowing waits until name is connected, at least n more TikTok events of it arrived, and the
// fake streams to its socket. The last part matters: the sign answer's history batch alone can
// bring n events while the fake has not yet subscribed the new socket to the room, and a kick in
// that window ends a broadcast that no socket is on yet, so nothing would reconnect.
func (h *harness) awaitFlowing(name string, n int) {
	h.t.Helper()
	from := h.chk.counts(name).tiktok
	h.await(name, fmt.Sprintf("connected with %d more TikTok events", n), func() bool {
		st, _ := h.m.Status(name)
		return st.State == room.StateConnected && h.chk.counts(name).tiktok >= from+n && h.socketStreaming(name)
	})
}

// socketStreaming reports whether the room's latest socket is open and has been sent frames, so the
// fake has it subscribed.
func (h *harness) socketStreaming(name string) bool {
	socks := h.fake.Record(name).Sockets
	if len(socks) == 0 {
		return false
	}
	last := socks[len(socks)-1]
	return !last.Refused && !last.Closed && len(last.SentLogIDs) > 0
}

// kick ends the current broadcast and starts the next one at once (the host restarted the LIVE):
// the socket ends, and the supervisor reconnects on its own. A queued socket fault then hits the
// new socket, a queued sign fault the new sign call.
func (h *harness) kick(name string) {
	h.fake.SetLive(name, false)
	h.fake.SetLive(name, true)
}

// heapInUse returns the live heap after a full collection. Twice: the first moves sync.Pool
// contents to the victim cache, the second frees them.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// checkFlat registers, after leakcheck, a check that the live heap at the end of the test (after
// every component was closed) is within limit of what it was now.
func checkFlat(t testing.TB, limit uint64) {
	leakcheck.Check(t) // first: its cleanup runs last
	before := heapInUse()
	t.Cleanup(func() {
		after := heapInUse()
		t.Logf("heap: %.1f MiB before, %.1f MiB after", mib(before), mib(after))
		if after > before+limit {
			t.Errorf("heap grew by %.1f MiB (%.1f -> %.1f MiB), more than %.0f MiB", mib(after-before), mib(before), mib(after), mib(limit))
		}
	})
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// checker reads every hub message in its own goroutine and checks the delivery guarantees as they
// arrive, keeping counts (not events), so its memory stays flat however long a soak runs.
type checker struct {
	mu         sync.Mutex
	rooms      map[string]*roomCheck
	total      uint64
	violations []string // the first maxViolations
	nViolation int
	recent     []string // the last lifecycle events, for failure messages
	endErr     error    // why the subscription ended
	done       chan struct{}
}

const (
	maxViolations = 20
	maxRecent     = 40
	seenWindow    = 50_000 // msgIds remembered per room for the duplicate check
)

// roomCheck is the running state of one room's checks.
type roomCheck struct {
	epoch    string
	lastSeq  uint64
	lastID   int64  // the highest msgId delivered
	maxType  string // the event type that carried lastID
	seen     map[int64]struct{}
	seenFIFO []int64
	c        counts
}

// counts are what tests wait on, per room.
type counts struct {
	events, tiktok int
	// afterEnd counts TikTok events delivered with an id below one already delivered, where that
	// higher id was a stream end: the fake's per-socket stream_end fault gives its control message
	// a fresh id while the rest of the batch it cut short (lower ids) is still in the room's history,
	// so the next sign answer replays them after the end. That is the upstream's order, passed on as
	// it came: not a duplicate and not a reordering by us.
	afterEnd    int
	types       map[string]int // by event type
	errors      map[string]int // error events by data.code
	disconnects map[string]int // disconnected events by data.reason
}

func (c counts) clone() counts {
	cp := func(m map[string]int) map[string]int {
		out := make(map[string]int, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	c.types, c.errors, c.disconnects = cp(c.types), cp(c.errors), cp(c.disconnects)
	return c
}

// envelope is the part of an event's JSON the checks read.
type envelope struct {
	ID   string `json:"id"`
	Data struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
	} `json:"data"`
}

func newChecker(sub *hub.Subscription) *checker {
	c := &checker{rooms: map[string]*roomCheck{}, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var buf []*hub.Message
		for {
			var err error
			buf, err = sub.Next(context.Background(), buf[:0]) // ends when the hub closes, after draining
			for _, m := range buf {
				c.check(m)
			}
			clear(buf)
			if err != nil {
				c.mu.Lock()
				c.endErr = err
				c.mu.Unlock()
				return
			}
		}
	}()
	return c
}

func (c *checker) violate(format string, args ...any) {
	c.nViolation++
	if len(c.violations) < maxViolations {
		c.violations = append(c.violations, fmt.Sprintf(format, args...))
	}
}

func (c *checker) check(m *hub.Message) {
	var env envelope
	perr := json.Unmarshal(m.JSON, &env)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	if perr != nil {
		c.violate("room %s seq %d: JSON does not parse: %v", m.Room, m.Seq, perr)
	}
	r := c.rooms[m.Room]
	if r == nil {
		r = &roomCheck{epoch: m.Epoch, seen: map[int64]struct{}{}, c: counts{types: map[string]int{}, errors: map[string]int{}, disconnects: map[string]int{}}}
		c.rooms[m.Room] = r
	}
	// No gap, no double, no reordering: within an epoch every event has the next seq.
	if m.Epoch != r.epoch {
		c.violate("room %s: epoch changed from %q to %q within one process", m.Room, r.epoch, m.Epoch)
		r.epoch = m.Epoch
	} else if m.Seq != r.lastSeq+1 {
		c.violate("room %s: seq %d after %d (%s), want %d", m.Room, m.Seq, r.lastSeq, m.Type, r.lastSeq+1)
	}
	r.lastSeq = m.Seq
	r.c.events++
	r.c.types[m.Type]++
	if env.ID != "" {
		r.c.tiktok++
		id, err := strconv.ParseInt(env.ID, 10, 64)
		switch {
		case err != nil:
			c.violate("room %s seq %d: msgId %q is not a decimal id", m.Room, m.Seq, env.ID)
		case hasID(r, id):
			c.violate("room %s seq %d: msgId %d (%s) delivered twice", m.Room, m.Seq, id, m.Type)
		case id <= r.lastID && r.maxType == "streamEnd":
			r.c.afterEnd++
		case id <= r.lastID:
			// TikTok (and the fake) number a room's messages in increasing order and a socket
			// resumes after the sign answer's batch, so a smaller id is a reordering.
			c.violate("room %s seq %d: msgId %d (%s) after %d (%s): out of order", m.Room, m.Seq, id, m.Type, r.lastID, r.maxType)
		}
		if err == nil {
			addID(r, id)
			if id > r.lastID {
				r.lastID, r.maxType = id, m.Type
			}
		}
		return
	}
	switch m.Type {
	case "error":
		r.c.errors[env.Data.Code]++
	case "disconnected":
		r.c.disconnects[env.Data.Reason]++
	}
	desc := fmt.Sprintf("%s #%d %s %s", m.Room, m.Seq, m.Type, truncate(string(m.JSON), 220))
	if len(c.recent) == maxRecent {
		c.recent = append(c.recent[:0], c.recent[1:]...)
	}
	c.recent = append(c.recent, desc)
}

func hasID(r *roomCheck, id int64) bool { _, ok := r.seen[id]; return ok }

// addID remembers id, forgetting the oldest beyond seenWindow (ids are increasing, so a duplicate
// of a forgotten one would show as out of order anyway).
func addID(r *roomCheck, id int64) {
	r.seen[id] = struct{}{}
	r.seenFIFO = append(r.seenFIFO, id)
	if len(r.seenFIFO) > seenWindow {
		delete(r.seen, r.seenFIFO[0])
		r.seenFIFO = append(r.seenFIFO[:0], r.seenFIFO[1:]...)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (c *checker) counts(room string) counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.rooms[room]; r != nil {
		return r.c.clone()
	}
	return counts{types: map[string]int{}, errors: map[string]int{}, disconnects: map[string]int{}}
}

func (c *checker) totals() (events uint64, violations int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, c.nViolation
}

func (c *checker) recentLog() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return "  " + strings.Join(c.recent, "\n  ")
}

// assertClean fails t with every violation seen, and when the subscription ended other than by
// the hub's shutdown (e.g. closed as a slow consumer, which would hide lost events).
func (c *checker) assertClean(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nViolation > 0 {
		t.Errorf("%d delivery violation(s), the first %d:\n  %s", c.nViolation, len(c.violations), strings.Join(c.violations, "\n  "))
	}
	if c.endErr != nil && c.endErr != hub.ErrShutdown {
		t.Errorf("the watching subscription ended with %v, want the hub's shutdown", c.endErr)
	}
}

// violationsNow fails t at once if a violation was already seen (soak: stop early).
func (c *checker) violationsNow(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	n, first := c.nViolation, c.violations
	c.mu.Unlock()
	if n > 0 {
		t.Fatalf("%d delivery violation(s) so far:\n  %s", n, strings.Join(first, "\n  "))
	}
}

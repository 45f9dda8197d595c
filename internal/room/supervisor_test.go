package room

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// waitFor bounds every wait on a condition. It is generous on purpose (-race on a busy machine is
// slow); no test depends on it as an upper bound of how long something should take.
const waitFor = 20 * time.Second

// collector reads every message of one hub subscription in its own goroutine and keeps the events,
// parsed back from their JSON, in arrival order (which is seq order within a room).
type collector struct {
	mu     sync.Mutex
	events []event.Event
	err    error // the first JSON that did not parse
	done   chan struct{}
}

func collect(sub *hub.Subscription) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var buf []*hub.Message
		for {
			var err error
			buf, err = sub.Next(context.Background(), buf[:0]) // ends when the hub closes (after draining)
			for _, m := range buf {
				var e event.Event
				perr := e.UnmarshalJSON(m.JSON)
				c.mu.Lock()
				if perr != nil && c.err == nil {
					c.err = fmt.Errorf("%s: %w", m.JSON, perr)
				}
				c.events = append(c.events, e)
				c.mu.Unlock()
			}
			clear(buf)
			if err != nil {
				return
			}
		}
	}()
	return c
}

func (c *collector) all() []event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event.Event(nil), c.events...)
}

// harness is a fake TikTok, a hub with one subscriber collecting everything, and a Manager wired to
// both, torn down (and leak-checked) at the end of the test.
type harness struct {
	t    *testing.T
	fake *faketiktok.Server
	hub  *hub.Hub
	m    *Manager
	col  *collector
}

type harnessOptions struct {
	fake     faketiktok.Options
	maxRooms int           // 0 = 1
	config   func(*Config) // adjusts the test defaults
	stream   stream.Options
}

// defaultStream is the fake's stream for users the test does not configure: steady traffic, so a
// healthy connection never looks stalled.
var defaultStream = faketiktok.StreamConfig{Rate: 20, HistorySize: 5, Seed: 7}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	leakcheck.Check(t) // first: its cleanup runs last, after everything below is closed
	if o.fake.Default.Rate == 0 && len(o.fake.Default.Capture) == 0 {
		o.fake.Default = defaultStream
	}
	fake, err := faketiktok.Start(t.Context(), o.fake)
	if err != nil {
		t.Fatalf("faketiktok.Start: %v", err)
	}
	tr := &http.Transport{}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	u := fake.URLs()
	cfg := Config{
		Upstream:    webcast.New(webcast.Config{WebURL: u.Web, WebcastURL: u.Webcast, HTTPClient: hc}),
		Signer:      &webcast.EulerSigner{BaseURL: u.Sign, Route: webcast.RouteConnect, HTTPClient: hc},
		BackoffBase: 20 * time.Millisecond, BackoffCap: 200 * time.Millisecond,
		LivePoll: 50 * time.Millisecond, StallTimeout: 5 * time.Second,
	}
	if o.config != nil {
		o.config(&cfg)
	}
	h := hub.New(hub.Options{})
	sub, err := h.Subscribe(hub.Filter{}, hub.ClientInfo{Transport: "test"})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := NewManager(ctx, cfg, max(o.maxRooms, 1), h, o.stream)
	hs := &harness{t: t, fake: fake, hub: h, m: m, col: collect(sub)}
	t.Cleanup(func() {
		m.Close() // idempotent: some tests close it themselves
		cancel()
		h.Close()
		<-hs.col.done
		tr.CloseIdleConnections()
		if err := fake.Close(); err != nil {
			t.Errorf("fake Close: %v", err)
		}
		if err := hs.col.err; err != nil {
			t.Errorf("collector: an event does not parse: %v", err)
		}
	})
	return hs
}

func (h *harness) start(name string, opts StartOptions) {
	h.t.Helper()
	if _, started, err := h.m.Start(name, opts); err != nil || !started {
		h.t.Fatalf("Start(%q) = started %v, %v; want started", name, started, err)
	}
}

// await polls the collected events from index from on until one matches and returns its index.
func (h *harness) await(what string, from int, match func(event.Event) bool) (int, event.Event) {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		evs := h.col.all()
		for i := from; i < len(evs); i++ {
			if match(evs[i]) {
				return i, evs[i]
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; events:\n%s", what, describe(evs))
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

// awaitN polls the collected events until n of those from index from on match.
func (h *harness) awaitN(what string, from, n int, match func(event.Event) bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		evs := h.col.all()
		got := 0
		for _, e := range evs[min(from, len(evs)):] {
			if match(e) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %d %s (have %d); events:\n%s", n, what, got, describe(evs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// awaitStatus polls the room's status until cond holds.
func (h *harness) awaitStatus(name, what string, cond func(Status) bool) Status {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		st, ok := h.m.Status(name)
		if ok && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s of %s; last status %+v (known %v)", what, name, st, ok)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// signCalls waits until the fake has recorded at least n sign calls of user and returns them all.
// The fake records a call after writing its answer, so the client may be on before it is recorded.
func (h *harness) signCalls(user string, n int) []faketiktok.SignCall {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		calls := h.fake.Record(user).SignCalls
		if len(calls) >= n {
			return calls
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %d sign calls of %s (have %d)", n, user, len(calls))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) status(name string) Status {
	h.t.Helper()
	st, ok := h.m.Status(name)
	if !ok {
		h.t.Fatalf("Status(%q): not known", name)
	}
	return st
}

// is matches the events of one type for one room.
func is(user, typ string) func(event.Event) bool {
	return func(e event.Event) bool { return e.Username == user && e.Type == typ }
}

// describe lists the lifecycle events (the TikTok ones only as a count) for failure messages.
func describe(evs []event.Event) string {
	var b []byte
	tiktok := 0
	for _, e := range evs {
		if e.ID != "" || e.Type == event.TypeGift {
			tiktok++
			continue
		}
		if tiktok > 0 {
			b = fmt.Appendf(b, "  ... %d TikTok events\n", tiktok)
			tiktok = 0
		}
		b = fmt.Appendf(b, "  #%d %s %s %s\n", e.Seq, e.Username, e.Type, e.AppendJSON(nil))
	}
	if tiktok > 0 {
		b = fmt.Appendf(b, "  ... %d TikTok events\n", tiktok)
	}
	return string(b)
}

func errorData(t *testing.T, e event.Event) event.ErrorData {
	t.Helper()
	d, ok := e.Data.(event.ErrorData)
	if !ok {
		t.Fatalf("error event data is %T", e.Data)
	}
	return d
}

func isError(user, code string, retryable bool) func(event.Event) bool {
	return func(e event.Event) bool {
		d, ok := e.Data.(event.ErrorData)
		return e.Username == user && e.Type == event.TypeError && ok && d.Code == code && d.Retryable == retryable
	}
}

func isDisconnected(user, reason string) func(event.Event) bool {
	return func(e event.Event) bool {
		d, ok := e.Data.(event.DisconnectedData)
		return e.Username == user && e.Type == event.TypeDisconnected && ok && d.Reason == reason
	}
}

func TestSupervisor_RateLimitThenSuccess(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.fake.AddFault("streamer", faketiktok.Fault{Kind: faketiktok.FaultSign429, Times: 1, RetryAfter: time.Second})
	t0 := time.Now()
	h.start("streamer", StartOptions{})

	iErr, _ := h.await("error rate_limited (retryable)", 0, isError("streamer", "rate_limited", true))
	iRL, rl := h.await("rate_limited", iErr+1, is("streamer", event.TypeRateLimited))
	retryAt := rl.Data.(event.RateLimitedData).RetryAt
	if retryAt.IsZero() {
		t.Fatal("rate_limited carries no retryAt")
	}
	// The fake sends Retry-After: 1 (whole seconds), so retryAt is a second after the 429 answer,
	// which came after t0; our own backoff would have said at most 20 ms. (A lower bound only; the
	// event truncates to milliseconds.)
	if earliest := t0.Add(time.Second - time.Millisecond); retryAt.Before(earliest) {
		t.Errorf("retryAt %v is before %v: the sign server's Retry-After (1 s) was not used", retryAt, earliest)
	}
	// The status shows the wait while it lasts. Checked only when the status was certainly read
	// before retryAt (the supervisor cannot leave the state earlier), so a slow machine cannot flake it.
	st := h.status("streamer")
	if time.Now().Before(retryAt) {
		if st.State != StateRateLimited {
			t.Errorf("state during the wait = %s, want %s", st.State, StateRateLimited)
		}
		if !st.NextRetryAt.Truncate(time.Millisecond).Equal(retryAt) {
			t.Errorf("NextRetryAt = %v, want the event's retryAt %v", st.NextRetryAt, retryAt)
		}
		if st.LastError == nil || st.LastError.Code != "rate_limited" {
			t.Errorf("LastError = %+v, want code rate_limited", st.LastError)
		}
	} else {
		t.Log("machine too slow to observe the rate_limited state; skipped that check")
	}

	h.await("connection_created after the wait", iRL+1, is("streamer", event.TypeConnectionCreated))
	calls := h.signCalls("streamer", 2)
	if len(calls) != 2 {
		t.Errorf("%d sign calls, want 2", len(calls))
	}
	if got := calls[0].Status; got != http.StatusTooManyRequests {
		t.Errorf("first sign call status %d, want 429", got)
	}
	if got := calls[1].Status; got != http.StatusOK {
		t.Errorf("second sign call status %d, want 200", got)
	}
	// The wait was honoured: the retry did not reach the sign server before the announced time
	// (retryAt is in milliseconds, truncated, so it is never later than the supervisor's own deadline).
	if at := calls[1].At; at.Before(retryAt) {
		t.Errorf("second sign call at %v, before the announced retryAt %v (%v early)", at, retryAt, retryAt.Sub(at))
	}
	st = h.awaitStatus("streamer", "connected", func(s Status) bool { return s.State == StateConnected })
	if !st.NextRetryAt.IsZero() {
		t.Errorf("NextRetryAt = %v once connected, want zero", st.NextRetryAt)
	}
}

func TestSupervisor_AbruptCloseNoLossNoDuplicate(t *testing.T) {
	// HistorySize covers the gap: the fake's timeline keeps running while no socket is connected,
	// and the messages of that gap (plus any still queued on the socket when it was cut) reach the
	// client only through the next sign answer's first batch, which holds the last HistorySize
	// messages of the room; the new socket then resumes from that answer's cursor. The gap is the
	// backoff plus the sign call. The backoff bound is raised to 300 ms here so the gap is usually
	// several messages at 50/s (with a tiny gap a history of one message would do, and the check
	// would prove little). 200 covers 4 s of gap, so even a slow -race run loses nothing; the
	// overlap with what the first socket already delivered is what dedup must drop.
	const backoff = 300 * time.Millisecond
	h := newHarness(t, harnessOptions{
		fake: faketiktok.Options{Users: map[string]faketiktok.UserConfig{
			"streamer": {Stream: faketiktok.StreamConfig{Rate: 50, HistorySize: 200, Seed: 3}},
		}},
		config: func(c *Config) { c.BackoffBase, c.BackoffCap = backoff, backoff },
	})
	h.fake.AddFault("streamer", faketiktok.Fault{Kind: faketiktok.FaultAbruptClose, Times: 1, AfterMessages: 30})
	h.start("streamer", StartOptions{})

	i1, _ := h.await("first connection_created", 0, is("streamer", event.TypeConnectionCreated))
	iDisc, disc := h.await("disconnected upstream_closed", i1+1, isDisconnected("streamer", "upstream_closed"))
	if d := disc.Data.(event.DisconnectedData); !d.WillRetry || d.RetryInMs < 0 || d.RetryInMs > backoff.Milliseconds() {
		t.Errorf("disconnected data %+v, want willRetry and retryInMs within the first backoff bound (%v)", d, backoff)
	}
	iRec, rec := h.await("reconnecting", iDisc+1, is("streamer", event.TypeReconnecting))
	if d := rec.Data.(event.ReconnectingData); d.Attempt != 1 {
		t.Errorf("reconnecting attempt %d, want 1", d.Attempt)
	}
	i2, _ := h.await("second connection_created", iRec+1, is("streamer", event.TypeConnectionCreated))
	h.awaitN("TikTok events after the reconnect", i2+1, 100, func(e event.Event) bool { return e.ID != "" })

	evs := h.col.all()
	got := map[string]bool{}
	var last int64
	var epoch string
	for i, e := range evs {
		if e.Username != "streamer" {
			t.Fatalf("event of another room: %+v", e)
		}
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d, want %d (no gap, no reordering)", i, e.Seq, i+1)
		}
		if i == 0 {
			epoch = e.Epoch
		} else if e.Epoch != epoch {
			t.Fatalf("event %d has epoch %q, want %q", i, e.Epoch, epoch)
		}
		if e.ID == "" {
			continue
		}
		if got[e.ID] {
			t.Fatalf("msgId %s published twice", e.ID)
		}
		got[e.ID] = true
		var id int64
		if _, err := fmt.Sscan(e.ID, &id); err != nil {
			t.Fatalf("msgId %q: %v", e.ID, err)
		}
		last = max(last, id)
	}
	emitted := h.fake.Emitted("streamer")
	checked := 0
	for _, em := range emitted {
		if em.MsgID > last {
			continue // sent after the last event we looked at
		}
		checked++
		if !got[fmt.Sprint(em.MsgID)] {
			t.Errorf("msgId %d (%s) was emitted by TikTok but never published", em.MsgID, em.Method)
		}
	}
	if checked < 130 {
		t.Errorf("only %d emitted messages checked, want at least 130", checked)
	}
	st := h.status("streamer")
	if st.Stream.Counters.DuplicatesDropped == 0 {
		t.Error("no duplicate dropped: the second sign answer's history overlaps the first socket, so dedup should have dropped some")
	}
	if st.Reconnects != 1 {
		t.Errorf("Reconnects = %d, want 1", st.Reconnects)
	}
	if n := len(h.fake.Record("streamer").Sockets); n != 2 {
		t.Errorf("%d sockets, want 2", n)
	}
}

func TestSupervisor_StallReconnects(t *testing.T) {
	const stall = 500 * time.Millisecond
	h := newHarness(t, harnessOptions{config: func(c *Config) { c.StallTimeout = stall }})
	h.fake.AddFault("streamer", faketiktok.Fault{Kind: faketiktok.FaultStall, Times: 1, AfterMessages: 5})
	h.start("streamer", StartOptions{})

	i1, _ := h.await("first connection_created", 0, is("streamer", event.TypeConnectionCreated))
	iSt, stEv := h.await("stalled", i1+1, is("streamer", event.TypeStalled))
	if d := stEv.Data.(event.StalledData); d.SilentMs != stall.Milliseconds() {
		t.Errorf("stalled silentMs = %d, want %d", d.SilentMs, stall.Milliseconds())
	}
	iDisc, disc := h.await("disconnected stalled", iSt+1, isDisconnected("streamer", "stalled"))
	if iDisc != iSt+1 {
		t.Errorf("disconnected is event %d, want right after stalled (%d)", iDisc, iSt+1)
	}
	if !disc.Data.(event.DisconnectedData).WillRetry {
		t.Error("disconnected willRetry = false")
	}
	iRec, _ := h.await("reconnecting", iDisc+1, is("streamer", event.TypeReconnecting))
	h.await("second connection_created", iRec+1, is("streamer", event.TypeConnectionCreated))
	st := h.awaitStatus("streamer", "connected", func(s Status) bool { return s.State == StateConnected })
	if st.Reconnects < 1 {
		t.Errorf("Reconnects = %d, want >= 1", st.Reconnects)
	}
	if st.LastError == nil || st.LastError.Code != "stalled" {
		t.Errorf("LastError = %+v, want code stalled", st.LastError)
	}
	// The silence lasted at least the stall timeout: a lower bound only.
	evs := h.col.all()
	var lastMsg time.Time
	for _, e := range evs[:iSt] {
		if e.ID != "" && !e.History {
			lastMsg = e.Time
		}
	}
	if !lastMsg.IsZero() && evs[iSt].Time.Sub(lastMsg) < stall-50*time.Millisecond {
		t.Errorf("stalled %v after the last message, want at least the stall timeout %v", evs[iSt].Time.Sub(lastMsg), stall)
	}
}

func TestSupervisor_OfflineWaitsForLive(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.fake.SetLive("streamer", false)
	h.start("streamer", StartOptions{})

	iErr, _ := h.await("error user_offline (retryable)", 0, isError("streamer", "user_offline", true))
	iW, w := h.await("waiting_for_live", iErr+1, is("streamer", event.TypeWaitingForLive))
	next := w.Data.(event.WaitingForLiveData).NextCheckAt
	if next.Before(w.Time) {
		t.Errorf("nextCheckAt %v is before the event %v", next, w.Time)
	}
	st, err := h.m.Settled(t.Context(), "streamer")
	if err != nil {
		t.Fatalf("Settled: %v", err)
	}
	if st.State != StateWaitingForLive {
		t.Errorf("settled state %s, want %s", st.State, StateWaitingForLive)
	}
	if st.NextRetryAt.IsZero() || st.RoomID == "" {
		t.Errorf("status while waiting %+v: want NextRetryAt and RoomID", st)
	}
	if n := len(h.fake.Record("streamer").SignCalls); n != 0 {
		t.Errorf("%d sign calls while offline, want 0", n)
	}
	// A few checks go by without anything else happening.
	h.awaitStatus("streamer", "a later live check", func(s Status) bool { return s.NextRetryAt.After(next) })
	if s := h.status("streamer"); s.State != StateWaitingForLive {
		t.Errorf("state %s after a negative live check, want %s", s.State, StateWaitingForLive)
	}

	h.fake.SetLive("streamer", true)
	h.await("connection_created once live", iW+1, is("streamer", event.TypeConnectionCreated))
	st = h.awaitStatus("streamer", "connected", func(s Status) bool { return s.State == StateConnected })
	if !st.NextRetryAt.IsZero() || st.ConnectedSince.IsZero() {
		t.Errorf("connected status %+v: want no NextRetryAt and a ConnectedSince", st)
	}
}

// assertFinal checks that a room stopped for good with code: a final error event, a stopped status
// with that reason, signs sign calls in all, and no retry of any kind announced.
func (h *harness) assertFinal(user, code string, signs int) {
	t := h.t
	t.Helper()
	_, e := h.await("error "+code, 0, is(user, event.TypeError))
	if d := errorData(t, e); d.Code != code || d.Retryable {
		t.Errorf("error %+v, want %s, not retryable", d, code)
	}
	st := h.awaitStatus(user, "stopped", func(s Status) bool { return s.State == StateStopped })
	if st.StopReason != code {
		t.Errorf("StopReason = %q, want %q", st.StopReason, code)
	}
	if st.LastError == nil || st.LastError.Code != code {
		t.Errorf("LastError = %+v, want code %s", st.LastError, code)
	}
	if h.m.Running(user) {
		t.Error("Running = true after a final error")
	}
	if s, err := h.m.Settled(t.Context(), user); err != nil || s.State != StateStopped {
		t.Errorf("Settled = %s, %v; want stopped", s.State, err)
	}
	if n := len(h.signCalls(user, signs)); n != signs {
		t.Errorf("%d sign calls, want %d", n, signs)
	}
	for _, e := range h.col.all() {
		switch e.Type {
		case event.TypeReconnecting, event.TypeWaitingForLive, event.TypeRateLimited, event.TypeConnectionCreated:
			t.Errorf("unexpected %s after a final error", e.Type)
		}
	}
}

func TestSupervisor_GiveUpOffline(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.start("offlinehost", StartOptions{GiveUpOffline: true})
	h.assertFinal("offlinehost", "user_offline", 0)
}

func TestSupervisor_UserNotFound(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.start("notfoundbob", StartOptions{})
	h.assertFinal("notfoundbob", "room_not_found", 0)
	// Stopping a room that already failed is no error and announces nothing.
	if _, err := h.m.Stop("notfoundbob", ReasonRequested); err != nil {
		t.Errorf("Stop after a final error: %v", err)
	}
	for _, e := range h.col.all() {
		if e.Type == event.TypeConnectionClosed {
			t.Errorf("connection_closed for a room that was not running: %s", e.AppendJSON(nil))
		}
	}
}

func TestSupervisor_StreamEndThenLiveAgain(t *testing.T) {
	h := newHarness(t, harnessOptions{fake: faketiktok.Options{Users: map[string]faketiktok.UserConfig{
		"streamer": {Stream: faketiktok.StreamConfig{Rate: 50, HistorySize: 5, EndAfter: 25, Seed: 5}},
	}}})
	h.start("streamer", StartOptions{})

	i1, _ := h.await("first connection_created", 0, is("streamer", event.TypeConnectionCreated))
	iEnd, end := h.await("streamEnd", i1+1, is("streamer", event.TypeStreamEnd))
	if d, ok := end.Data.(event.StreamEndData); !ok || d.Action != "ended" {
		t.Errorf("streamEnd data %+v, want action ended", end.Data)
	}
	iDisc, disc := h.await("disconnected stream_end", iEnd+1, isDisconnected("streamer", "stream_end"))
	if iDisc != iEnd+1 {
		t.Errorf("disconnected is event %d, want right after streamEnd (%d)", iDisc, iEnd+1)
	}
	if d := disc.Data.(event.DisconnectedData); !d.WillRetry {
		t.Errorf("disconnected %+v, want willRetry", d)
	}
	// The host stays live, so the next sign starts a new broadcast in the same room.
	i2, cc := h.await("second connection_created", iDisc+1, is("streamer", event.TypeConnectionCreated))
	if got, want := cc.Data.(event.ConnectionCreatedData).RoomID, fmt.Sprint(h.fake.RoomID("streamer")); got != want {
		t.Errorf("second connection roomId %s, want %s", got, want)
	}
	for _, e := range h.col.all()[iDisc+1 : i2] {
		if e.Type == event.TypeWaitingForLive || e.Type == event.TypeError {
			t.Errorf("unexpected %s between the end and the new broadcast", e.Type)
		}
	}

	// Now the host goes offline: whichever broadcast is running ends, and the room waits.
	h.fake.SetLive("streamer", false)
	iW, _ := h.await("waiting_for_live after going offline", i2+1, is("streamer", event.TypeWaitingForLive))
	h.awaitStatus("streamer", "waiting_for_live", func(s Status) bool { return s.State == StateWaitingForLive })
	evs := h.col.all()
	var sawEnd bool
	for _, e := range evs[i2+1 : iW] {
		if isDisconnected("streamer", "stream_end")(e) {
			sawEnd = true
		}
	}
	if !sawEnd {
		t.Errorf("no disconnected stream_end before waiting_for_live:\n%s", describe(evs[i2+1:iW+1]))
	}
	if st := h.status("streamer"); st.Reconnects < 2 {
		t.Errorf("Reconnects = %d, want >= 2", st.Reconnects)
	}

	h.fake.SetLive("streamer", true)
	h.await("connection_created once live again", iW+1, is("streamer", event.TypeConnectionCreated))
}

func TestSupervisor_SignCalls(t *testing.T) {
	tests := []struct {
		name                   string
		fault                  faketiktok.Fault // Kind "" = none
		calls, limited, failed int64
		code                   string // the error event of the failed call; "" = none
		final                  bool
	}{
		{name: "no fault", calls: 1},
		{name: "429 once", fault: faketiktok.Fault{Kind: faketiktok.FaultSign429, RetryAfter: time.Second}, calls: 2, limited: 1, code: "rate_limited"},
		{name: "5xx once", fault: faketiktok.Fault{Kind: faketiktok.FaultSign5xx}, calls: 2, failed: 1, code: "connect_failed"},
		{name: "402", fault: faketiktok.Fault{Kind: faketiktok.FaultSign402}, calls: 1, failed: 1, code: "sign_payment_required", final: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			if tt.fault.Kind != "" {
				h.fake.AddFault("streamer", tt.fault)
			}
			h.start("streamer", StartOptions{})
			switch {
			case tt.final:
				h.assertFinal("streamer", tt.code, int(tt.calls))
			default:
				if tt.code != "" {
					h.await("error "+tt.code, 0, isError("streamer", tt.code, true))
				}
				h.await("connection_created", 0, is("streamer", event.TypeConnectionCreated))
			}
			// The counter is bumped when the answer is in, before the supervisor goes on, so it is
			// exact once the outcome is visible. The stream is steady and the stall timeout long,
			// so nothing signs again behind our back.
			calls, limited, failed := h.m.SignStats()
			if calls != tt.calls || limited != tt.limited || failed != tt.failed {
				t.Errorf("SignStats = %d calls, %d rate limited, %d failed; want %d, %d, %d",
					calls, limited, failed, tt.calls, tt.limited, tt.failed)
			}
			if n := len(h.signCalls("streamer", int(tt.calls))); int64(n) != tt.calls {
				t.Errorf("the fake saw %d sign calls, want %d", n, tt.calls)
			}
		})
	}
}

// TestBackoff checks the full-jitter bound: base on attempt 1, doubling, never above the cap,
// and no overflow however large the attempt. randN returns its largest value, so the delay is the
// bound itself.
func TestBackoff(t *testing.T) {
	var lastN int64
	top := func(n int64) int64 { lastN = n; return n - 1 }
	const ms = time.Millisecond
	tests := []struct {
		name        string
		attempt     int
		base, limit time.Duration
		want        time.Duration
	}{
		{"attempt 1 is base", 1, 20 * ms, 200 * ms, 20 * ms},
		{"attempt 2 doubles", 2, 20 * ms, 200 * ms, 40 * ms},
		{"attempt 3", 3, 20 * ms, 200 * ms, 80 * ms},
		{"attempt 4", 4, 20 * ms, 200 * ms, 160 * ms},
		{"attempt 5 capped", 5, 20 * ms, 200 * ms, 200 * ms},
		{"exactly the cap", 4, 25 * ms, 200 * ms, 200 * ms},
		{"base above cap", 1, 2 * time.Minute, time.Minute, time.Minute},
		{"defaults attempt 7", 7, DefaultBackoffBase, DefaultBackoffCap, DefaultBackoffCap},
		{"defaults attempt 6", 6, DefaultBackoffBase, DefaultBackoffCap, 32 * time.Second},
		{"attempt 39", 39, time.Second, time.Minute, time.Minute},
		{"attempt 40", 40, time.Second, time.Minute, time.Minute},
		{"attempt 64", 64, time.Second, time.Minute, time.Minute},
		{"attempt 65", 65, time.Second, time.Minute, time.Minute},
		{"attempt MaxInt32", math.MaxInt32, time.Second, time.Minute, time.Minute},
		{"attempt MaxInt", math.MaxInt, time.Second, time.Minute, time.Minute},
		{"huge cap, attempt 38", 38, time.Second, math.MaxInt64 / 2, math.MaxInt64 / 2},
		// base·2^35 wraps around int64 to 2^35 ns (34 s), which is positive and below the cap.
		{"shift that wraps", 36, 1<<29 + 1, time.Hour, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Backoff(tt.attempt, tt.base, tt.limit, top)
			if got != tt.want {
				t.Errorf("Backoff(%d, %v, %v) = %v, want %v", tt.attempt, tt.base, tt.limit, got, tt.want)
			}
			if lastN != int64(tt.want)+1 {
				t.Errorf("randN(%d), want randN(bound+1 = %d): the delay is uniform in [0, bound]", lastN, int64(tt.want)+1)
			}
			if d := Backoff(tt.attempt, tt.base, tt.limit, func(int64) int64 { return 0 }); d != 0 {
				t.Errorf("with randN = 0 the delay is %v, want 0 (full jitter)", d)
			}
		})
	}

	// Every (base, cap) over a long run of attempts: exactly min(cap, base·2^(attempt-1)),
	// computed without overflow, so it never exceeds the cap and never goes down.
	for _, base := range []time.Duration{1, ms, 20 * ms, time.Second, 3 * time.Second, 1<<29 + 1, time.Hour} {
		for _, c := range []time.Duration{200 * ms, time.Minute, time.Hour, 1 << 62} {
			prev := time.Duration(0)
			for attempt := 1; attempt <= 200; attempt++ {
				got := Backoff(attempt, base, c, top)
				want := new(big.Int).Lsh(big.NewInt(int64(base)), uint(attempt-1))
				if want.Cmp(big.NewInt(int64(c))) > 0 {
					want.SetInt64(int64(c))
				}
				if int64(got) != want.Int64() || got > c || got < prev {
					t.Fatalf("Backoff(%d, %v, %v) = %v, want %v (previous attempt %v)", attempt, base, c, got, time.Duration(want.Int64()), prev)
				}
				prev = got
			}
		}
	}
}

// TestSupervisor_NewRoomEachBroadcast: TikTok gives every broadcast a new room id. A host who goes
// offline and comes back live in a new room is found by username, and the room connects to the new
// room (polling the old room id would wait forever).
func TestSupervisor_NewRoomEachBroadcast(t *testing.T) {
	h := newHarness(t, harnessOptions{fake: faketiktok.Options{Users: map[string]faketiktok.UserConfig{
		"streamer": {RoomID: 7_100_000_000_000_000_001, Stream: faketiktok.StreamConfig{Rate: 20, HistorySize: -1, Seed: 9}},
	}}})
	h.start("streamer", StartOptions{})
	i1, cc := h.await("first connection_created", 0, is("streamer", event.TypeConnectionCreated))
	if got := cc.Data.(event.ConnectionCreatedData).RoomID; got != "7100000000000000001" {
		t.Fatalf("first roomId %s", got)
	}
	h.fake.SetLive("streamer", false)
	iW, _ := h.await("waiting_for_live", i1+1, is("streamer", event.TypeWaitingForLive))
	// The next broadcast, in a new room.
	h.fake.SetUser("streamer", faketiktok.UserConfig{Kind: faketiktok.KindLive, RoomID: 7_100_000_000_000_000_002,
		Stream: faketiktok.StreamConfig{Rate: 20, HistorySize: -1, Seed: 9}})
	h.fake.SetLive("streamer", true)
	_, cc2 := h.await("connection_created in the new room", iW+1, is("streamer", event.TypeConnectionCreated))
	if got := cc2.Data.(event.ConnectionCreatedData).RoomID; got != "7100000000000000002" {
		t.Errorf("second roomId %s, want the new room 7100000000000000002", got)
	}
	if st := h.status("streamer"); st.RoomID != "7100000000000000002" || st.State != StateConnected {
		t.Errorf("status room %s state %s, want the new room, connected", st.RoomID, st.State)
	}
}

package faults

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
)

// heapLimit is the sanity bound on heap growth over a test (not a measurement).
const heapLimit = 32 << 20

// afterMsgs is where socket faults fire: some traffic first, so the fault hits a working session.
const afterMsgs = 20

// mark is the state of a room just before a fault is injected.
type mark struct {
	at         time.Time
	c          counts
	signs      int
	sockets    int
	reconnects int
}

func (h *harness) mark(name string) mark {
	rec := h.fake.Record(name)
	st, _ := h.m.Status(name)
	return mark{at: time.Now(), c: h.chk.counts(name), signs: len(rec.SignCalls), sockets: len(rec.Sockets), reconnects: st.Reconnects}
}

// faultCase is one kind of fault: how to cause it, how to see that it happened, and where the room
// must end up (recovered by itself, or stopped for good with final as the reason).
type faultCase struct {
	name   string
	inject func(h *harness, name string)
	fired  func(h *harness, name string, m mark) bool
	after  func(h *harness, name string) // undo what inject did (e.g. back live); may be nil
	final  string                        // StopReason the room must reach; "" = it recovers on its own
}

// signFault queues a sign-server fault for the next times sign calls and ends the broadcast, so the
// supervisor reconnects (and signs) on its own.
func signFault(kind faketiktok.FaultKind, times int) func(*harness, string) {
	return func(h *harness, name string) {
		h.fake.AddFault(name, faketiktok.Fault{Kind: kind, Times: times, RetryAfter: time.Millisecond})
		h.kick(name)
	}
}

// socketFault queues a socket fault for the next socket, after afterMsgs messages, and ends the
// broadcast so that the next socket is opened now.
func socketFault(kind faketiktok.FaultKind, msg string, times int) func(*harness, string) {
	return func(h *harness, name string) {
		h.fake.AddFault(name, faketiktok.Fault{Kind: kind, Times: times, AfterMessages: afterMsgs, Message: msg})
		h.kick(name)
	}
}

// signStatuses counts the sign calls since m answered with status.
func signStatuses(status, want int) func(*harness, string, mark) bool {
	return func(h *harness, name string, m mark) bool {
		n := 0
		for _, c := range h.fake.Record(name).SignCalls[m.signs:] {
			if c.Status == status {
				n++
			}
		}
		return n >= want
	}
}

func errorsSince(code string, want int) func(*harness, string, mark) bool {
	return func(h *harness, name string, m mark) bool {
		return h.chk.counts(name).errors[code] >= m.c.errors[code]+want
	}
}

func disconnectsSince(reason string, want int) func(*harness, string, mark) bool {
	return func(h *harness, name string, m mark) bool {
		return h.chk.counts(name).disconnects[reason] >= m.c.disconnects[reason]+want
	}
}

// socketWentOn: a socket opened since m got well past the fault (afterMsgs) and is still open: a
// bad frame is skipped, the session goes on.
func socketWentOn(h *harness, name string, m mark) bool {
	for _, s := range h.fake.Record(name).Sockets[m.sockets:] {
		if !s.Refused && len(s.SentLogIDs) >= afterMsgs+10 {
			return true
		}
	}
	return false
}

func stateIs(state room.State) func(*harness, string, mark) bool {
	return func(h *harness, name string, _ mark) bool { st, _ := h.m.Status(name); return st.State == state }
}

// faultCases lists every fault of the fake (control.go) plus the host's own moves.
func faultCases() []faultCase {
	return []faultCase{
		{name: "sign_429 storm", inject: signFault(faketiktok.FaultSign429, 2), fired: signStatuses(http.StatusTooManyRequests, 2)},
		{name: "sign_5xx", inject: signFault(faketiktok.FaultSign5xx, 3), fired: signStatuses(http.StatusInternalServerError, 3)},
		{name: "sign_no_cookie", inject: signFault(faketiktok.FaultSignNoCookie, 2), fired: errorsSince("connect_failed", 2)},
		{name: "sign_empty", inject: signFault(faketiktok.FaultSignEmpty, 2), fired: errorsSince("connect_failed", 2)},
		{name: "sign_402", inject: signFault(faketiktok.FaultSign402, 1), fired: signStatuses(http.StatusPaymentRequired, 1),
			final: "sign_payment_required"},
		{name: "handshake DEVICE_BLOCKED", inject: socketFault(faketiktok.FaultHandshake, "", 2),
			fired: func(h *harness, name string, m mark) bool {
				n := 0
				for _, s := range h.fake.Record(name).Sockets[m.sockets:] {
					if s.Refused {
						n++
					}
				}
				return n >= 2 && h.chk.counts(name).errors["blocked"] >= m.c.errors["blocked"]+2
			}},
		{name: "abrupt_close", inject: socketFault(faketiktok.FaultAbruptClose, "", 1), fired: disconnectsSince("upstream_closed", 1)},
		{name: "garbage_frame", inject: socketFault(faketiktok.FaultGarbageFrame, "", 1), fired: socketWentOn},
		{name: "truncated_frame", inject: socketFault(faketiktok.FaultTruncatedFrame, "", 1), fired: socketWentOn},
		{name: "oversized_frame gzip bomb", inject: socketFault(faketiktok.FaultOversizedFrame, "", 1), fired: socketWentOn},
		{name: "oversized_frame plain", inject: socketFault(faketiktok.FaultOversizedFrame, "plain", 1), fired: disconnectsSince("upstream_closed", 1)},
		{name: "stall", inject: socketFault(faketiktok.FaultStall, "", 1),
			fired: func(h *harness, name string, m mark) bool {
				return h.chk.counts(name).types["stalled"] > m.c.types["stalled"] && disconnectsSince("stalled", 1)(h, name, m)
			}},
		// stream_end: the kick ends one broadcast, the fault the next one.
		{name: "stream_end", inject: socketFault(faketiktok.FaultStreamEnd, "", 1), fired: disconnectsSince("stream_end", 2)},
		{name: "host restarts the LIVE", inject: (*harness).kick, fired: disconnectsSince("stream_end", 1)},
		{name: "offline, then live", inject: func(h *harness, name string) { h.fake.SetLive(name, false) },
			fired: stateIs(room.StateWaitingForLive), after: func(h *harness, name string) { h.fake.SetLive(name, true) }},
	}
}

// outcome is what one fault cycle did.
type outcome struct {
	reconnects int           // the supervisor's reconnects during the cycle
	restarted  bool          // it stopped for good (final) and was started again
	recovery   time.Duration // from injecting the fault to events flowing again
}

// cycle injects fc into a connected room, waits for the evidence that it happened and for the
// room's documented outcome, and returns what it took.
func (h *harness) cycle(name string, fc faultCase) outcome {
	h.t.Helper()
	h.awaitFlowing(name, 5)
	m := h.mark(name)
	fc.inject(h, name)
	h.await(name, fc.name+" to happen", func() bool { return fc.fired(h, name, m) })
	if fc.after != nil {
		fc.after(h, name)
	}
	var out outcome
	if fc.final != "" {
		var st room.Status
		// Waits for a reason too: Manager.Status can briefly say stopped with no reason (see
		// TestManager_StatusStoppedHasReason).
		h.await(name, "stopped ("+fc.final+")", func() bool {
			st, _ = h.m.Status(name)
			return st.State == room.StateStopped && st.StopReason != ""
		})
		if st.StopReason != fc.final || h.m.Running(name) {
			h.t.Fatalf("%s: stopped with reason %q (running %v), want %q", fc.name, st.StopReason, h.m.Running(name), fc.final)
		}
		out.reconnects, out.restarted = st.Reconnects-m.reconnects, true
		h.start(name) // what an operator does: the room's stream (seq, dedup) carries on
		h.awaitFlowing(name, 25)
	} else {
		h.awaitFlowing(name, 25)
		st, _ := h.m.Status(name)
		out.reconnects = st.Reconnects - m.reconnects
	}
	out.recovery = time.Since(m.at)
	return out
}

// TestFaults_Each runs every fault twice in a row, each kind on its own stack, in parallel.
func TestFaults_Each(t *testing.T) {
	checkFlat(t, heapLimit)
	for _, fc := range faultCases() {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, 1)
			h.start("streamer")
			for i := range 2 {
				out := h.cycle("streamer", fc)
				t.Logf("cycle %d: %d reconnects, restarted %v, events flowing again after %v", i+1, out.reconnects, out.restarted, out.recovery.Round(time.Millisecond))
			}
			if n := h.chk.counts("streamer").afterEnd; n > 0 {
				t.Logf("%d TikTok events came after a stream end with a higher id (history replay, see counts.afterEnd)", n)
			}
			h.chk.violationsNow(t)
		})
	}
}

// TestFaults_Mixed runs every fault once, in a random order, on one room whose stream lives through
// all of them (dedup and seq across many reconnects), next to a bystander room that must not notice.
func TestFaults_Mixed(t *testing.T) {
	checkFlat(t, heapLimit)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	h := newHarness(t, 2)
	h.start("streamer")
	h.start("bystander")
	cases := faultCases()
	rng.Shuffle(len(cases), func(i, j int) { cases[i], cases[j] = cases[j], cases[i] })
	for _, fc := range cases {
		out := h.cycle("streamer", fc)
		t.Logf("%-26s %d reconnects, restarted %v, flowing after %v", fc.name, out.reconnects, out.restarted, out.recovery.Round(time.Millisecond))
	}
	h.awaitFlowing("bystander", 10)
	if st, _ := h.m.Status("bystander"); st.State != room.StateConnected || st.LastError != nil && st.LastError.Code != "stalled" {
		// A stall under a very slow -race run is the only excuse for the bystander to have an error.
		t.Errorf("bystander: state %s, last error %+v; another room's faults must not touch it", st.State, st.LastError)
	}
	h.chk.violationsNow(t)
}

// TestFaults_FinalStates: users that cannot be watched reach their documented state and stay there.
func TestFaults_FinalStates(t *testing.T) {
	checkFlat(t, heapLimit)
	h := newHarness(t, 4)
	for _, tt := range []struct{ user, reason string }{
		{"notfoundbob", "room_not_found"},
		{"restrictedann", "age_restricted"},
	} {
		h.start(tt.user)
		h.await(tt.user, "stopped", func() bool { st, _ := h.m.Status(tt.user); return st.State == room.StateStopped })
		if st, _ := h.m.Status(tt.user); st.StopReason != tt.reason {
			t.Errorf("%s: StopReason %q, want %q", tt.user, st.StopReason, tt.reason)
		}
	}
	// A captcha page (blocked) is not final: the room keeps trying, with backoff, until stopped.
	h.start("blockedcarl")
	h.await("blockedcarl", "three blocked errors", func() bool { return h.chk.counts("blockedcarl").errors["blocked"] >= 3 })
	if st, _ := h.m.Status("blockedcarl"); st.State == room.StateStopped || st.Attempts < 3 {
		t.Errorf("blockedcarl: state %s after %d attempts, want still retrying", st.State, st.Attempts)
	}
	if _, err := h.m.Stop("blockedcarl", room.ReasonRequested); err != nil {
		t.Errorf("Stop(blockedcarl): %v", err)
	}
	if c := h.chk.counts("notfoundbob"); c.types["connection_created"] != 0 || c.types["reconnecting"] != 0 {
		t.Errorf("notfoundbob: %v; want no connection and no retry after a final error", c.types)
	}
	h.chk.violationsNow(t)
}

func (o outcome) String() string {
	return fmt.Sprintf("%d reconnects, restarted %v, %v", o.reconnects, o.restarted, o.recovery)
}

package webhook

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// verifyAt checks a received request's signature with secret at the fake time now.
func verifyAt(t *testing.T, r request, secret string, now time.Time) {
	t.Helper()
	if err := Verify(secret, r.Header, r.Body, now, 0); err != nil {
		t.Fatalf("request %s does not verify: %v", r.Header.Get(HeaderID), err)
	}
}

func TestDispatcher_RetriesAfter500(t *testing.T) {
	leakcheck.Check(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	e := newEnv(t, DispatcherOptions{})
	ep := addEndpoint(t, e.q, rc.URL(), Filter{})
	e.enqueue(ep, "msg_1")

	f := e.waitState(ep, "msg_1", StateFailed)
	if f.Attempts != 1 || f.LastStatus != 500 || !f.NextAt.Equal(t0.Add(DefaultSchedule[0])) || !strings.Contains(f.LastError, "500") {
		t.Fatalf("after the 500: %+v", f)
	}
	at := e.next(ep, "msg_1", 1)
	d := e.waitState(ep, "msg_1", StateDelivered)
	if d.Attempts != 2 || d.LastStatus != 200 || !d.DeliveredAt.Equal(at) || d.LastError != "" {
		t.Fatalf("delivered %+v", d)
	}
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	// One webhook-id on every attempt; the timestamp and signature are the attempt's.
	if reqs[0].Header.Get(HeaderID) != "msg_1" || reqs[1].Header.Get(HeaderID) != "msg_1" {
		t.Fatalf("ids %q %q", reqs[0].Header.Get(HeaderID), reqs[1].Header.Get(HeaderID))
	}
	if reqs[0].Header.Get(HeaderTimestamp) != strconv.FormatInt(t0.Unix(), 10) || reqs[1].Header.Get(HeaderTimestamp) != strconv.FormatInt(at.Unix(), 10) {
		t.Fatalf("timestamps %s %s", reqs[0].Header.Get(HeaderTimestamp), reqs[1].Header.Get(HeaderTimestamp))
	}
	verifyAt(t, reqs[0], ep.Secret, t0)
	verifyAt(t, reqs[1], ep.Secret, at)
	if ct, ua := reqs[0].Header.Get("Content-Type"), reqs[0].Header.Get("User-Agent"); ct != "application/json" || !strings.HasPrefix(ua, "tiktok-live-server") {
		t.Fatalf("content-type %q user-agent %q", ct, ua)
	}
	// InFlight drops just after the outcome is recorded.
	testutil.Eventually(t, 10*time.Second, func() bool { return e.d.Stats()[ep.ID].InFlight == 0 }, "nothing in flight")
	st := e.d.Stats()[ep.ID]
	if st.Attempts != 2 || st.Delivered != 1 || st.Failures != 1 || st.Dead != 0 || st.LastStatus != 200 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDispatcher_Timeout(t *testing.T) {
	leakcheck.Check(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
		if n == 0 {
			<-r.Context().Done() // never answers; the dispatcher gives up and closes the connection
			return 0
		}
		return http.StatusOK
	})
	e := newEnv(t, DispatcherOptions{Timeout: time.Second})
	ep := addEndpoint(t, e.q, rc.URL(), Filter{})
	e.enqueue(ep, "msg_1")
	f := e.waitState(ep, "msg_1", StateFailed)
	if f.LastStatus != 0 || !strings.Contains(f.LastError, "timed out") || f.Attempts != 1 {
		t.Fatalf("after the timeout: %+v", f)
	}
	e.next(ep, "msg_1", 1)
	e.waitState(ep, "msg_1", StateDelivered)
	if reqs := rc.requests(); len(reqs) != 2 || reqs[1].Header.Get(HeaderID) != "msg_1" {
		t.Fatalf("requests %d", len(reqs))
	}
}

func TestDispatcher_RetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		want       time.Duration // from the attempt to the next
	}{
		{"seconds", http.StatusTooManyRequests, "120", 120 * time.Second},
		{"http date", http.StatusServiceUnavailable, t0.Add(7 * time.Minute).Format(http.TimeFormat), 7 * time.Minute},
		{"capped", http.StatusTooManyRequests, "86400", 10 * time.Minute},
		{"shorter than the schedule", http.StatusTooManyRequests, "1", DefaultSchedule[0]},
		{"date in the past", http.StatusServiceUnavailable, t0.Add(-time.Hour).Format(http.TimeFormat), DefaultSchedule[0]},
		{"garbage", http.StatusTooManyRequests, "soon", DefaultSchedule[0]},
		{"on a 500 too", http.StatusInternalServerError, "60", time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leakcheck.Check(t)
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
				if n == 0 {
					w.Header().Set("Retry-After", tt.retryAfter)
					return tt.status
				}
				return http.StatusOK
			})
			e := newEnv(t, DispatcherOptions{MaxRetryAfter: 10 * time.Minute})
			ep := addEndpoint(t, e.q, rc.URL(), Filter{})
			e.enqueue(ep, "msg_1")
			if f := e.waitState(ep, "msg_1", StateFailed); !f.NextAt.Equal(t0.Add(tt.want)) || f.LastStatus != tt.status {
				t.Fatalf("next attempt at %v (status %d), want %v", f.NextAt, f.LastStatus, t0.Add(tt.want))
			}
			e.next(ep, "msg_1", 1)
			e.waitState(ep, "msg_1", StateDelivered)
		})
	}
}

func TestDispatcher_Gone(t *testing.T) {
	leakcheck.Check(t)
	gone := newReceiver(t, func(int, http.ResponseWriter, *http.Request) int { return http.StatusGone })
	fine := newReceiver(t, nil)
	e := newEnv(t, DispatcherOptions{Workers: 1})
	a := addEndpoint(t, e.q, gone.URL(), Filter{})
	b := addEndpoint(t, e.q, fine.URL(), Filter{})
	e.enqueue(a, "msg_1")
	d := e.waitState(a, "msg_1", StateDead)
	if d.LastStatus != 410 || d.Attempts != 1 {
		t.Fatalf("after 410: %+v", d)
	}
	ep, _ := e.q.Endpoint(t.Context(), a.ID)
	if !ep.Disabled || !strings.Contains(ep.DisabledReason, "410") || !ep.DisabledAt.Equal(t0) {
		t.Fatalf("endpoint not disabled: %+v", ep)
	}
	// Later webhooks for it wait (it may be enabled again); other endpoints go on.
	e.enqueue(a, "msg_2")
	e.enqueue(b, "msg_2")
	e.waitState(b, "msg_2", StateDelivered)
	if gone.count() != 1 {
		t.Fatalf("the disabled endpoint got %d requests", gone.count())
	}
	if d := e.delivery(a, "msg_2"); d.State != StatePending || d.Attempts != 0 {
		t.Fatalf("delivery to a disabled endpoint %+v", d)
	}
	if st := e.d.Stats()[a.ID]; st.Disabled != 1 || st.Dead != 1 || st.Failures != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDispatcher_Rotation(t *testing.T) {
	leakcheck.Check(t)
	rc := newReceiver(t, nil)
	e := newEnv(t, DispatcherOptions{})
	ep := addEndpoint(t, e.q, rc.URL(), Filter{})
	newSecret, _ := NewSecret()
	if err := e.q.RotateSecret(t.Context(), ep.ID, newSecret, t0); err != nil {
		t.Fatal(err)
	}
	e.enqueue(ep, "msg_1")
	e.waitState(ep, "msg_1", StateDelivered)
	r := rc.requests()[0]
	sigs := strings.Fields(r.Header.Get(HeaderSignature))
	if len(sigs) != 2 {
		t.Fatalf("during the overlap: %d signatures, want 2", len(sigs))
	}
	verifyAt(t, r, newSecret, t0)
	verifyAt(t, r, ep.Secret, t0) // a receiver not yet updated still verifies
	for _, v := range independentVerifiers {
		t.Run(v.name, func(t *testing.T) {
			requireTool(t, v.tool)
			for _, s := range []string{newSecret, ep.Secret} {
				a := runVerifier(t, v.tool, v.script, verifyRequest{Secret: s, ID: r.Header.Get(HeaderID), Timestamp: r.Header.Get(HeaderTimestamp),
					Signature: r.Header.Get(HeaderSignature), BodyB64: base64.StdEncoding.EncodeToString(r.Body), Now: t0.Unix()})
				if !a.OK {
					t.Fatalf("%s does not verify the delivered request with one of the secrets", v.name)
				}
			}
		})
	}
	// After 24 h only the new secret signs.
	e.clk.Set(t0.Add(RotationOverlap))
	e.enqueue(ep, "msg_2")
	e.waitState(ep, "msg_2", StateDelivered)
	r = rc.requests()[1]
	if sigs := strings.Fields(r.Header.Get(HeaderSignature)); len(sigs) != 1 {
		t.Fatalf("after the overlap: %d signatures", len(sigs))
	}
	verifyAt(t, r, newSecret, t0.Add(RotationOverlap))
	if err := Verify(ep.Secret, r.Header, r.Body, t0.Add(RotationOverlap), 0); !errors.Is(err, ErrSignature) {
		t.Fatalf("the old secret still verifies: %v", err)
	}
}

func TestDispatcher_NoRedirects(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			leakcheck.Check(t)
			target := newReceiver(t, nil)
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
				w.Header().Set("Location", target.URL())
				return status
			})
			e := newEnv(t, DispatcherOptions{})
			ep := addEndpoint(t, e.q, rc.URL(), Filter{})
			e.enqueue(ep, "msg_1")
			if d := e.waitState(ep, "msg_1", StateFailed); d.LastStatus != status {
				t.Fatalf("status %d", d.LastStatus)
			}
			if target.count() != 0 {
				t.Fatal("the redirect was followed")
			}
		})
	}
}

func TestDispatcher_DeadLetters(t *testing.T) {
	tests := []struct {
		name     string
		answer   func(w http.ResponseWriter) int
		expires  time.Duration // 0: never
		attempts int           // before it is dead
		errHas   string
	}{
		{"retries exhausted", func(http.ResponseWriter) int { return http.StatusBadGateway }, 0, 3, "gave up after 3 attempts"},
		{"expires before the next attempt", func(http.ResponseWriter) int { return http.StatusBadGateway }, 3 * time.Second, 2, "expires"},
		{"receiver aborts", func(w http.ResponseWriter) int {
			w.Header().Set("Webhook-Delivery", "abort-message")
			return http.StatusBadRequest
		}, 0, 1, "abort-message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leakcheck.Check(t)
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int { return tt.answer(w) })
			e := newEnv(t, DispatcherOptions{Schedule: []time.Duration{time.Second, 5 * time.Second}})
			ep := addEndpoint(t, e.q, rc.URL(), Filter{})
			d := delivery(ep.ID, "msg_1")
			if tt.expires > 0 {
				d.ExpiresAt = t0.Add(tt.expires)
			}
			e.q.Enqueue(t.Context(), t0, d)
			e.d.Notify()
			for i := 1; i < tt.attempts; i++ {
				e.next(ep, "msg_1", i)
			}
			got := e.waitState(ep, "msg_1", StateDead)
			if got.Attempts != tt.attempts || !strings.Contains(got.LastError, tt.errHas) || rc.count() != tt.attempts {
				t.Fatalf("dead letter %+v after %d requests", got, rc.count())
			}
			dead, err := e.q.Deliveries(t.Context(), ListFilter{EndpointID: ep.ID, States: []State{StateDead}})
			if err != nil || len(dead) != 1 || dead[0].MsgID != "msg_1" {
				t.Fatalf("dead letters %v, %v", dead, err)
			}
			if st := e.d.Stats()[ep.ID]; st.Dead != 1 || st.Failures != uint64(tt.attempts) {
				t.Fatalf("stats %+v", st)
			}
			// Resend puts it back at the start of the schedule.
			e.q.Resend(t.Context(), ep.ID, "msg_1", e.clk.Now())
			e.d.Notify()
			testutil.Eventually(t, 10*time.Second, func() bool { return rc.count() == tt.attempts+1 }, "resent")
		})
	}
}

// An event mapped and enqueued twice (a replay after a restart) is sent once.
func TestDispatcher_EnqueueTwiceSendsOnce(t *testing.T) {
	leakcheck.Check(t)
	rc := newReceiver(t, nil)
	e := newEnv(t, DispatcherOptions{})
	ep := addEndpoint(t, e.q, rc.URL(), Filter{})
	g := gift("final", 50)
	for range 2 {
		ds, err := Deliveries(&g, []Endpoint{ep}, func(string) time.Duration { return 0 })
		if err != nil || len(ds) != 1 {
			t.Fatalf("Deliveries = %v, %v", ds, err)
		}
		if _, err := e.q.Enqueue(t.Context(), e.clk.Now(), ds...); err != nil {
			t.Fatal(err)
		}
		e.d.Notify()
		e.waitState(ep, ds[0].MsgID, StateDelivered)
	}
	if rc.count() != 1 {
		t.Fatalf("%d requests, want 1", rc.count())
	}
	checkBody(t, Payload{Type: TypeGift, Body: rc.requests()[0].Body}, &g)
}

// Without AllowPrivate a loopback receiver is never reached: the dial is refused.
func TestDispatcher_RefusesPrivateAddresses(t *testing.T) {
	leakcheck.Check(t)
	rc := newReceiver(t, nil)
	q := openQueue(t, "")
	clk := newFakeClock(t0)
	d, err := NewDispatcher(DispatcherOptions{Queue: q, Clock: clk, Jitter: func(d time.Duration) time.Duration { return d }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx) }()
	defer func() { cancel(); <-stopped }()
	ep := addEndpoint(t, q, rc.URL(), Filter{}) // created as if allowed, e.g. before the flag was removed
	e := &env{t: t, q: q, clk: clk, d: d}
	e.enqueue(ep, "msg_1")
	f := e.waitState(ep, "msg_1", StateFailed)
	if !strings.Contains(f.LastError, "forbidden address") || rc.count() != 0 {
		t.Fatalf("%+v, receiver got %d", f, rc.count())
	}
	if res := d.Send(t.Context(), ep, "msg_test", []byte(`{}`)); !errors.Is(res.Err, ErrForbiddenAddress) {
		t.Fatalf("Send = %+v", res)
	}
}

// Stopping mid-attempt gives the delivery back as it was: not a failure, retried by the next run.
func TestDispatcher_StopMidAttempt(t *testing.T) {
	leakcheck.Check(t)
	entered := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
		if n == 0 {
			close(entered)
			<-r.Context().Done()
			return 0
		}
		return http.StatusOK
	})
	q := openQueue(t, "")
	clk := newFakeClock(t0)
	ep := addEndpoint(t, q, rc.URL(), Filter{})
	q.Enqueue(t.Context(), t0, delivery(ep.ID, "msg_1"))
	d, err := NewDispatcher(DispatcherOptions{Queue: q, Clock: clk, Guard: Guard{AllowPrivate: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx) }()
	<-entered
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	got, _ := q.Delivery(t.Context(), ep.ID, "msg_1")
	if got.State != StatePending || got.Attempts != 0 {
		t.Fatalf("after stopping: %+v", got)
	}
	// Released, not leased: a new dispatcher sends it at once.
	e := &env{t: t, q: q, clk: clk, d: startDispatcher(t, q, clk, DispatcherOptions{})}
	e.waitState(ep, "msg_1", StateDelivered)
}

// An endpoint whose every attempt has failed for DisableAfter is disabled.
func TestDispatcher_DisablesFailingEndpoint(t *testing.T) {
	leakcheck.Check(t)
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) int { return http.StatusInternalServerError })
	e := newEnv(t, DispatcherOptions{DisableAfter: 5 * 24 * time.Hour})
	ep, _ := NewEndpoint(rc.URL(), Filter{}, Guard{AllowPrivate: true}, t0)
	ep.FailingSince = t0.Add(-5 * 24 * time.Hour)
	if err := e.q.CreateEndpoint(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	e.enqueue(ep, "msg_1")
	e.waitState(ep, "msg_1", StateFailed)
	got, _ := e.q.Endpoint(t.Context(), ep.ID)
	if !got.Disabled || !strings.Contains(got.DisabledReason, "every attempt failed since") {
		t.Fatalf("endpoint %+v", got)
	}
}

func TestDispatcher_Send(t *testing.T) {
	leakcheck.Check(t)
	rc := newReceiver(t, nil)
	e := newEnv(t, DispatcherOptions{})
	ep := addEndpoint(t, e.q, rc.URL(), Filter{})
	p, err := TestPayload(ep.ID, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	res := e.d.Send(t.Context(), ep, p.ID, p.Body)
	if !res.OK() || res.Status != http.StatusNoContent || res.Latency <= 0 {
		t.Fatalf("Send = %+v", res)
	}
	r := rc.requests()[0]
	verifyAt(t, r, ep.Secret, t0)
	if r.Header.Get(HeaderID) != p.ID || string(r.Body) != string(p.Body) {
		t.Fatalf("sent %s %s", r.Header.Get(HeaderID), r.Body)
	}
	if st := e.d.Stats()[ep.ID]; st.Attempts != 1 || st.Delivered != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := t0
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{" 30 ", 30 * time.Second},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Second).Format(http.TimeFormat), 0},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0},
		{"99999999999999999999", 0}, // does not parse as int64, nor as a date
		{"9999999999", 365 * 24 * time.Hour},
		{"later", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNewDispatcher(t *testing.T) {
	if _, err := NewDispatcher(DispatcherOptions{}); err == nil {
		t.Fatal("no queue accepted")
	}
	q := openQueue(t, "")
	if _, err := NewDispatcher(DispatcherOptions{Queue: q, Timeout: time.Minute, Lease: time.Second}); err == nil {
		t.Fatal("a lease shorter than the timeout accepted")
	}
	d, err := NewDispatcher(DispatcherOptions{Queue: q})
	if err != nil || d.o.Timeout != DefaultTimeout || d.o.Lease <= d.o.Timeout || len(d.o.Schedule) != 7 {
		t.Fatalf("defaults %+v, %v", d.o, err)
	}
	for range 100 {
		if j := d.o.Jitter(time.Minute); j < 48*time.Second || j > 72*time.Second {
			t.Fatalf("jitter %v outside ±20%%", j)
		}
	}
}

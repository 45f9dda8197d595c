package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// fakeClock is a Clock the test moves by hand. Timers fire when the time reaches them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk *fakeClock
	at  time.Time
	c   chan time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	c := t.clk
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	return true
}

// Set moves the clock to now and fires the timers due by then.
func (c *fakeClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.at.After(now) {
			return false
		}
		t.c <- now
		return true
	})
}

// hasTimer reports whether a timer waits for exactly at.
func (c *fakeClock) hasTimer(at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.timers, func(t *fakeTimer) bool { return t.at.Equal(at) })
}

// request is one request a receiver got.
type request struct {
	Header http.Header
	Body   []byte
	Status int // what the receiver answered; 0 if it gave no answer (timed out)
}

// receiver is a real HTTP server on loopback whose answers the test scripts.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []request
	// answer decides the response to the n-th request (0-based); nil answers 204.
	answer func(n int, w http.ResponseWriter, r *http.Request) int
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, request{Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
		status := http.StatusNoContent
		if rc.answer != nil {
			status = rc.answer(n, w, r)
		}
		if status != 0 {
			w.WriteHeader(status)
		}
		rc.mu.Lock()
		rc.got[n].Status = status
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/hook" }

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// env is a queue, a fake clock and a running dispatcher.
type env struct {
	t   *testing.T
	q   *SQLiteQueue
	clk *fakeClock
	d   *Dispatcher
}

// startDispatcher runs a dispatcher until the test ends. Jitter is off, so times are exact.
func startDispatcher(t *testing.T, q *SQLiteQueue, clk Clock, o DispatcherOptions) *Dispatcher {
	t.Helper()
	o.Queue, o.Clock = q, clk
	o.Guard.AllowPrivate = true // the receivers are on loopback
	if o.Jitter == nil {
		o.Jitter = func(d time.Duration) time.Duration { return d }
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Hour // only Notify, completions and due times wake it
	}
	d, err := NewDispatcher(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return d
}

func newEnv(t *testing.T, o DispatcherOptions) *env {
	t.Helper()
	q := openQueue(t, "")
	clk := newFakeClock(t0)
	return &env{t: t, q: q, clk: clk, d: startDispatcher(t, q, clk, o)}
}

// enqueue queues a gift webhook for ep now and wakes the dispatcher.
func (e *env) enqueue(ep Endpoint, ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		if _, err := e.q.Enqueue(e.t.Context(), e.clk.Now(), delivery(ep.ID, id)); err != nil {
			e.t.Fatal(err)
		}
	}
	e.d.Notify()
}

func (e *env) delivery(ep Endpoint, id string) Delivery {
	e.t.Helper()
	d, err := e.q.Delivery(e.t.Context(), ep.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// waitState waits until a delivery is in state and returns it.
func (e *env) waitState(ep Endpoint, id string, state State) Delivery {
	e.t.Helper()
	var d Delivery
	testutil.Eventually(e.t, 10*time.Second, func() bool {
		d = e.delivery(ep, id)
		return d.State == state
	}, "delivery %s in state %s (it is %s)", id, state, func() State { return e.delivery(ep, id).State }())
	return d
}

// next waits for the delivery to have failed its attempts-th attempt and for the dispatcher to
// wait for the next one, then moves the clock there, so the retry runs without anyone sleeping.
func (e *env) next(ep Endpoint, id string, attempts int) time.Time {
	e.t.Helper()
	var d Delivery
	testutil.Eventually(e.t, 10*time.Second, func() bool {
		d = e.delivery(ep, id)
		return d.State == StateFailed && d.Attempts == attempts
	}, "delivery %s failed %d times", id, attempts)
	at := d.NextAt
	testutil.Eventually(e.t, 10*time.Second, func() bool { return e.clk.hasTimer(at) }, "dispatcher waiting for %v", at)
	e.clk.Set(at)
	return at
}

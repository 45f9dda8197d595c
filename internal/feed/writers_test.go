package feed

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
)

// poolStack is a feed Server on a test HTTP server, every request a WebSocket client of all rooms.
func poolStack(t *testing.T, writers int, maxQueue int) (*Server, *hub.Hub, string) {
	t.Helper()
	h := hub.New(hub.Options{MaxQueueBytes: maxQueue})
	s := New(Config{
		Hub:          h,
		WriteTimeout: time.Minute, // a slow client is never timed out during these tests
		Writers:      writers,
		Admit:        func(http.ResponseWriter, *http.Request) (func(), bool) { return func() {}, true },
		Refuse: func(w http.ResponseWriter, status int, code, message string) {
			http.Error(w, code+": "+message, status)
		},
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.WebSocket(w, r, "ws", Request{})
	}))
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return s, h, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, ctx context.Context, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	return c
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}

func msg(seq int, pad int) *hub.Message {
	return &hub.Message{Room: "r", Type: "chat", Seq: uint64(seq), Epoch: "e",
		JSON: fmt.Appendf(nil, `{"seq":%d,"pad":"%s"}`, seq, strings.Repeat("x", pad))}
}

// readAll reads n messages and checks they are 1..n in order.
func readAll(ctx context.Context, c *websocket.Conn, n int) error {
	for i := 1; i <= n; i++ {
		_, b, err := c.Read(ctx)
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if want := fmt.Sprintf(`{"seq":%d,`, i); !strings.HasPrefix(string(b), want) {
			return fmt.Errorf("message %d: got %.20q, want it to start %q", i, b, want)
		}
	}
	return nil
}

func TestWriterPool_ManyClientsInOrder(t *testing.T) {
	leakcheck.Check(t)
	const clients, events = 60, 300
	s, h, url := poolStack(t, 2, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, ctx, url)
	}
	waitFor(t, "every client subscribed", func() bool { return h.Count("") == clients })
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { errs <- readAll(ctx, c, events) })
	}
	for i := 1; i <= events; i++ {
		h.Publish(msg(i, 10))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if w := s.writers.running(); w > 2 {
		t.Errorf("%d writers running, at most 2 allowed", w)
	}
	for _, c := range conns {
		c.CloseNow()
	}
	// Idle again: the workers end by themselves (leakcheck waits for them), and nothing stays
	// queued.
	waitFor(t, "the workers to end", func() bool { return s.writers.running() == 0 })
}

func TestWriterPool_SlowClientDoesNotDelayFast(t *testing.T) {
	leakcheck.Check(t)
	// One worker: if it waited on the slow client's full socket, the fast client would get
	// nothing more until the slow one read (the write timeout is a minute).
	const events, pad = 400, 32 << 10
	s, h, url := poolStack(t, 1, 64<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slow := dial(t, ctx, url) // never reads until the fast client has everything
	fast := dial(t, ctx, url)
	waitFor(t, "both clients subscribed", func() bool { return h.Count("") == 2 })
	fastErr := make(chan error, 1)
	go func() { fastErr <- readAll(ctx, fast, events) }()
	for i := 1; i <= events; i++ {
		h.Publish(msg(i, pad))
	}
	if err := <-fastErr; err != nil {
		t.Fatalf("fast client: %v", err)
	}
	// 12.8 MB cannot sit in loopback socket buffers: the slow client's writes were handed off.
	if n := s.slowHandoffs.Load(); n == 0 {
		t.Fatal("no write was handed to a goroutine of its own: the slow client's socket never filled")
	}
	// The slow client still gets everything, in order, each frame whole, once it reads.
	if err := readAll(ctx, slow, events); err != nil {
		t.Fatalf("slow client: %v", err)
	}
	if st := h.Stats(); st.SlowCloses != 0 || st.TimeoutCloses != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v: no client should have been closed or lost a message", st)
	}
	fast.CloseNow()
	slow.CloseNow()
	waitFor(t, "the workers to end", func() bool { return s.writers.running() == 0 })
}

// countTurn counts its turns.
type countTurn struct{ n *atomic.Int64 }

func (c countTurn) serve() { c.n.Add(1) }

func TestWriterPool_Push(t *testing.T) {
	leakcheck.Check(t)
	for _, max := range []int{1, 3} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			// Turns queued from several goroutines at once: each served once, never more
			// workers than max, none left once the work is done.
			p := newWriterPool(max)
			var served atomic.Int64
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for range 500 {
						p.push(countTurn{&served})
						if w := p.running(); w > max {
							t.Errorf("%d workers, max %d", w, max)
						}
					}
				})
			}
			wg.Wait()
			waitFor(t, "every turn served", func() bool { return served.Load() == 2000 })
			waitFor(t, "the workers to end", func() bool { return p.running() == 0 })
			if n := served.Load(); n != 2000 {
				t.Errorf("served %d turns, want 2000", n)
			}
		})
	}
}

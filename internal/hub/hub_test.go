package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// waitFor polls cond until it holds or 10 s pass; it never stands in for synchronisation.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, cond, "waiting for %s", what)
}

func msg(room, typ string, seq uint64, size int) *Message {
	json := []byte(`{"seq":` + fmt.Sprint(seq) + `}`)
	if size > len(json) {
		json = append(json, strings.Repeat(" ", size-len(json))...)
	}
	return &Message{Room: room, Type: typ, Seq: seq, JSON: json}
}

func subscribe(t *testing.T, h *Hub, f Filter, transport string) *Subscription {
	t.Helper()
	s, err := h.Subscribe(f, ClientInfo{Transport: transport, Remote: "192.0.2.1:1234"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// drain calls Next with an already-expired context, so it returns what is queued without blocking.
func drain(t *testing.T, s *Subscription) ([]*Message, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := s.Next(ctx, nil)
	if len(got) > 0 {
		return got, err
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return got, err
}

func seqs(ms []*Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func TestCloseError_Error(t *testing.T) {
	for _, e := range []*CloseError{ErrShutdown, ErrSlowConsumer, ErrWriteTimeout, ErrUnsubscribed} {
		if len(e.Reason) >= 123 {
			t.Errorf("%d: reason %q is too long for a close frame", e.Code, e.Reason)
		}
		if s := e.Error(); !strings.Contains(s, e.Reason) || !strings.Contains(s, fmt.Sprint(e.Code)) {
			t.Errorf("Error() = %q, want reason and code", s)
		}
	}
}

func TestHub_Publish(t *testing.T) {
	h := New(Options{})
	defer h.Close()
	type sub struct {
		f    Filter
		want []uint64
	}
	subs := []*sub{
		{f: Filter{}, want: []uint64{1, 2, 3, 4, 5, 6}},
		{f: Filter{Rooms: set("alice")}, want: []uint64{1, 2, 3, 5}},
		{f: Filter{Types: set("chat")}, want: []uint64{4, 6}},
		{f: Filter{Rooms: set("alice"), FinalGiftsOnly: true}, want: []uint64{1, 3, 5}},
		{f: Filter{Rooms: set("nobody")}, want: []uint64{}},
	}
	ss := make([]*Subscription, len(subs))
	for i, s := range subs {
		ss[i] = subscribe(t, h, s.f, "ws")
	}
	step := msg("alice", "gift", 2, 0)
	step.StreakStep = true
	for _, m := range []*Message{
		msg("alice", "gift", 1, 0), step, msg("alice", "like", 3, 0),
		msg("bob", "chat", 4, 0), msg("alice", "gift", 5, 0), msg("bob", "chat", 6, 0),
	} {
		h.Publish(m)
	}
	for i, s := range subs {
		got, err := drain(t, ss[i])
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seqs(got)) != fmt.Sprint(s.want) {
			t.Errorf("subscriber %d (%+v) got %v, want %v", i, s.f, seqs(got), s.want)
		}
	}
	// The message is shared, not copied.
	h.Publish(step)
	all, _ := drain(t, ss[0])
	if len(all) != 1 || all[0] != step {
		t.Errorf("got %v, want the published pointer", all)
	}
}

func TestHub_Publish_concurrentPublishers(t *testing.T) {
	leakcheck.Check(t)
	const publishers, perPublisher, subscribers = 8, 2000, 5
	h := New(Options{MaxQueueBytes: publishers * perPublisher * 64}) // never cut anyone off here
	defer h.Close()

	results := make([][]*Message, subscribers)
	var wg sync.WaitGroup
	for i := range subscribers {
		s := subscribe(t, h, Filter{}, "sse")
		wg.Go(func() {
			var got []*Message
			for len(got) < publishers*perPublisher {
				var err error
				if got, err = s.Next(context.Background(), got); err != nil {
					t.Errorf("subscriber %d: %v after %d messages", i, err, len(got))
					return
				}
			}
			results[i] = got
		})
	}
	var pub sync.WaitGroup
	for p := range publishers {
		pub.Go(func() {
			room := fmt.Sprintf("p%d", p)
			for i := range perPublisher {
				h.Publish(msg(room, "chat", uint64(i), 0))
			}
		})
	}
	pub.Wait()
	wg.Wait()

	for i, got := range results {
		next := map[string]uint64{}
		for _, m := range got {
			if m.Seq != next[m.Room] {
				t.Fatalf("subscriber %d: room %s got seq %d, want %d", i, m.Room, m.Seq, next[m.Room])
			}
			next[m.Room]++
		}
		for p := range publishers {
			if n := next[fmt.Sprintf("p%d", p)]; n != perPublisher {
				t.Errorf("subscriber %d: publisher %d delivered %d, want %d", i, p, n, perPublisher)
			}
		}
	}
	if st := h.Stats(); st.Published != publishers*perPublisher || st.Enqueued != publishers*perPublisher*subscribers {
		t.Errorf("stats %+v", st)
	}
}

func TestHub_Publish_slowConsumer(t *testing.T) {
	leakcheck.Check(t)
	const total, size, limit = 10000, 200, 64 << 10
	h := New(Options{MaxQueueBytes: limit})
	defer h.Close()
	slow := subscribe(t, h, Filter{}, "ws")
	fast := subscribe(t, h, Filter{}, "ws")

	var received atomic.Int64
	var got []*Message
	var fastErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		var buf []*Message
		for len(got) < total {
			buf, fastErr = fast.Next(context.Background(), buf[:0])
			if fastErr != nil {
				return
			}
			got = append(got, buf...)
			received.Store(int64(len(got)))
		}
	}()

	// The publisher waits for the fast reader every 100 messages (20 KB, well under the limit)
	// so that a busy CI machine cannot make the fast one "slow". It never waits for the slow one:
	// the loop finishing while the slow subscriber never calls Next is the point.
	for i := range total {
		h.Publish(msg("alice", "chat", uint64(i), size))
		if (i+1)%100 == 0 {
			waitFor(t, "the fast reader", func() bool { return received.Load() == int64(i+1) })
		}
	}
	<-done
	if fastErr != nil {
		t.Fatalf("fast subscriber ended: %v", fastErr)
	}
	for i, m := range got {
		if m.Seq != uint64(i) {
			t.Fatalf("fast subscriber got seq %d at %d", m.Seq, i)
		}
	}
	if err := slow.Err(); err != ErrSlowConsumer {
		t.Fatalf("slow.Err() = %v, want ErrSlowConsumer", err)
	}
	// Dropped at once, not flushed: Next reports the end with no messages.
	if ms, err := slow.Next(context.Background(), nil); len(ms) != 0 || err != ErrSlowConsumer {
		t.Errorf("slow.Next = %d messages, %v; want none, ErrSlowConsumer", len(ms), err)
	}
	st := h.Stats()
	if st.SlowCloses != 1 || st.Clients != 1 || st.QueuedBytes != 0 || st.QueuedMessages != 0 {
		t.Errorf("stats %+v, want 1 slow close, 1 client, empty queues", st)
	}
	// The slow one held limit/size messages before the one that did not fit.
	if want := uint64(total + limit/size); st.Enqueued != want {
		t.Errorf("Enqueued = %d, want %d", st.Enqueued, want)
	}
	// What the slow one held, plus the message that did not fit, never reached it.
	if want := uint64(limit/size + 1); st.Dropped != want {
		t.Errorf("Dropped = %d, want %d", st.Dropped, want)
	}
}

func TestHub_Publish_queueLimit(t *testing.T) {
	tests := []struct {
		name     string
		limit    int
		sizes    []int
		wantKept int // messages queued before the cut-off; -1 = never cut off
	}{
		{"exactly at the limit is fine", 100, []int{50, 50}, -1},
		{"one byte over", 100, []int{50, 50, 1}, 2},
		{"single message over the limit", 100, []int{101}, 0},
		{"default limit", 0, []int{DefaultMaxQueueBytes, 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Options{MaxQueueBytes: tt.limit})
			defer h.Close()
			s := subscribe(t, h, Filter{}, "ws")
			for i, n := range tt.sizes {
				h.Publish(&Message{Seq: uint64(i), JSON: make([]byte, n)})
			}
			if tt.wantKept < 0 {
				if s.Err() != nil {
					t.Fatalf("ended: %v", s.Err())
				}
				if got, _ := drain(t, s); len(got) != len(tt.sizes) {
					t.Errorf("got %d messages, want %d", len(got), len(tt.sizes))
				}
				return
			}
			if s.Err() != ErrSlowConsumer {
				t.Fatalf("Err() = %v, want ErrSlowConsumer", s.Err())
			}
			if st := h.Stats(); st.Enqueued != uint64(tt.wantKept) || st.Clients != 0 {
				t.Errorf("stats %+v, want %d enqueued, no clients", st, tt.wantKept)
			}
		})
	}
}

func TestHub_Close(t *testing.T) {
	h := New(Options{})
	s := subscribe(t, h, Filter{}, "ws")
	idle := subscribe(t, h, Filter{Rooms: set("nobody")}, "sse")
	for i := range 3 {
		h.Publish(msg("alice", "chat", uint64(i), 0))
	}
	h.Close()
	h.Close() // idempotent
	h.Publish(msg("alice", "chat", 99, 0))

	if s.Err() != ErrShutdown || idle.Err() != ErrShutdown {
		t.Fatalf("Err() = %v, %v; want ErrShutdown", s.Err(), idle.Err())
	}
	if h.Drained() {
		t.Error("Drained() = true with 3 messages left to flush")
	}
	if st := h.Stats(); st.Clients != 0 || st.QueuedMessages != 3 {
		t.Errorf("stats %+v, want 0 live clients, 3 queued", st)
	}
	got, err := s.Next(context.Background(), nil)
	if err != nil || fmt.Sprint(seqs(got)) != "[0 1 2]" {
		t.Fatalf("Next = %v, %v; want [0 1 2], nil", seqs(got), err)
	}
	if got, err := s.Next(context.Background(), nil); len(got) != 0 || err != ErrShutdown {
		t.Errorf("Next = %v, %v; want nothing, ErrShutdown", seqs(got), err)
	}
	if got, err := idle.Next(context.Background(), nil); len(got) != 0 || err != ErrShutdown {
		t.Errorf("idle Next = %v, %v; want nothing, ErrShutdown", seqs(got), err)
	}
	if !h.Drained() {
		t.Error("Drained() = false after the flush")
	}
	if _, err := h.Subscribe(Filter{}, ClientInfo{}); err != ErrHubClosed {
		t.Errorf("Subscribe after Close: %v, want ErrHubClosed", err)
	}
	s.Close() // the transport still closes its subscription; first reason wins
	if s.Err() != ErrShutdown {
		t.Errorf("Err() = %v after Close, want ErrShutdown", s.Err())
	}
}

func TestHub_Close_wakesBlockedNext(t *testing.T) {
	leakcheck.Check(t)
	h := New(Options{})
	s := subscribe(t, h, Filter{}, "ws")
	errc := make(chan error, 1)
	go func() {
		_, err := s.Next(context.Background(), nil)
		errc <- err
	}()
	h.Close()
	if err := <-errc; err != ErrShutdown {
		t.Errorf("Next = %v, want ErrShutdown", err)
	}
}

func TestHub_Drained(t *testing.T) {
	h := New(Options{})
	a := subscribe(t, h, Filter{}, "ws")
	b := subscribe(t, h, Filter{}, "ws")
	if !h.Drained() {
		t.Fatal("Drained() = false with nothing published")
	}
	h.Publish(msg("r", "chat", 1, 0))
	h.Close()
	if _, err := drain(t, a); err != nil {
		t.Fatal(err)
	}
	if h.Drained() {
		t.Fatal("Drained() = true while b still has a message")
	}
	// b's client went away during the flush: its queue no longer counts.
	b.Fail(ErrWriteTimeout)
	if !h.Drained() {
		t.Fatal("Drained() = false after b failed")
	}
	if b.Err() != ErrShutdown {
		t.Errorf("b.Err() = %v, want ErrShutdown (first reason wins)", b.Err())
	}
	if st := h.Stats(); st.TimeoutCloses != 0 {
		t.Errorf("TimeoutCloses = %d for a subscription already ended by shutdown", st.TimeoutCloses)
	}
}

func TestSubscription_Fail(t *testing.T) {
	h := New(Options{})
	defer h.Close()
	s := subscribe(t, h, Filter{}, "ws")
	other := subscribe(t, h, Filter{}, "ws")
	h.Publish(msg("r", "chat", 1, 10))
	s.Fail(ErrWriteTimeout)
	s.Fail(ErrSlowConsumer) // first reason wins
	if s.Err() != ErrWriteTimeout {
		t.Fatalf("Err() = %v, want ErrWriteTimeout", s.Err())
	}
	if got, err := s.Next(context.Background(), nil); len(got) != 0 || err != ErrWriteTimeout {
		t.Errorf("Next = %d messages, %v; want queue dropped, ErrWriteTimeout", len(got), err)
	}
	h.Publish(msg("r", "chat", 2, 10))
	st := h.Stats()
	if st.TimeoutCloses != 1 || st.SlowCloses != 0 || st.Clients != 1 || st.QueuedMessages != 2 || st.QueuedBytes != 20 {
		t.Errorf("stats %+v", st)
	}
	if got, _ := drain(t, other); fmt.Sprint(seqs(got)) != "[1 2]" {
		t.Errorf("other got %v", seqs(got))
	}
	other.Fail(nil)
	if other.Err() != ErrUnsubscribed {
		t.Errorf("Fail(nil): Err() = %v, want ErrUnsubscribed", other.Err())
	}
}

func TestSubscription_Close(t *testing.T) {
	leakcheck.Check(t)
	h := New(Options{})
	defer h.Close()
	s := subscribe(t, h, Filter{}, "sse")
	if s.Err() != nil {
		t.Fatalf("Err() = %v while live", s.Err())
	}
	h.Publish(msg("r", "chat", 1, 0))
	errc := make(chan error, 1)
	blocked := subscribe(t, h, Filter{Rooms: set("nobody")}, "ws")
	go func() {
		_, err := blocked.Next(context.Background(), nil)
		errc <- err
	}()
	s.Close()
	s.Close()
	blocked.Close()
	if err := <-errc; err != ErrUnsubscribed {
		t.Errorf("blocked Next = %v, want ErrUnsubscribed", err)
	}
	if got, err := s.Next(context.Background(), nil); len(got) != 0 || err != ErrUnsubscribed {
		t.Errorf("Next = %d messages, %v; want none, ErrUnsubscribed", len(got), err)
	}
	if st := h.Stats(); st.Clients != 0 || st.QueuedMessages != 0 || st.SlowCloses+st.TimeoutCloses != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSubscription_Next(t *testing.T) {
	leakcheck.Check(t)
	h := New(Options{})
	defer h.Close()
	s := subscribe(t, h, Filter{}, "ws")

	t.Run("appends to dst", func(t *testing.T) {
		prefix := msg("x", "chat", 100, 0)
		h.Publish(msg("r", "chat", 1, 0))
		h.Publish(msg("r", "chat", 2, 0))
		got, err := s.Next(context.Background(), []*Message{prefix})
		if err != nil || fmt.Sprint(seqs(got)) != "[100 1 2]" {
			t.Errorf("Next = %v, %v; want [100 1 2]", seqs(got), err)
		}
	})
	t.Run("queued messages win over a done ctx", func(t *testing.T) {
		h.Publish(msg("r", "chat", 3, 0))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got, err := s.Next(ctx, nil)
		if err != nil || fmt.Sprint(seqs(got)) != "[3]" {
			t.Errorf("Next = %v, %v; want [3], nil", seqs(got), err)
		}
	})
	t.Run("ctx canceled while blocked", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := s.Next(ctx, nil)
			errc <- err
		}()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Next = %v, want context.Canceled", err)
		}
	})
	t.Run("ctx deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := s.Next(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("blocked Next wakes on Publish", func(t *testing.T) {
		type result struct {
			ms  []*Message
			err error
		}
		rc := make(chan result, 1)
		go func() {
			ms, err := s.Next(context.Background(), nil)
			rc <- result{ms, err}
		}()
		h.Publish(msg("r", "chat", 4, 0))
		r := <-rc
		if r.err != nil || len(r.ms) == 0 || r.ms[0].Seq != 4 {
			t.Errorf("Next = %v, %v; want [4 ...]", seqs(r.ms), r.err)
		}
	})
	if s.Err() != nil {
		t.Errorf("ctx ending Next must not end the subscription: %v", s.Err())
	}
}

func TestSubscription_ID(t *testing.T) {
	h := New(Options{})
	defer h.Close()
	var last uint64
	for i := range 5 {
		s := subscribe(t, h, Filter{}, "ws")
		if s.ID() <= last {
			t.Fatalf("subscription %d: ID %d after %d", i, s.ID(), last)
		}
		last = s.ID()
		if s.Info() != (ClientInfo{Transport: "ws", Remote: "192.0.2.1:1234"}) {
			t.Errorf("Info() = %+v", s.Info())
		}
		if i%2 == 0 {
			s.Close() // ids are not reused
		}
	}
}

func TestHub_Stats(t *testing.T) {
	h := New(Options{})
	defer h.Close()
	subs := map[string][]*Subscription{}
	for _, tr := range []string{"ws-legacy", "ws", "ws", "sse", "sse", "sse"} {
		subs[tr] = append(subs[tr], subscribe(t, h, Filter{}, tr))
	}
	h.Publish(msg("r", "chat", 1, 10))
	h.Publish(msg("r", "chat", 2, 20))
	subs["sse"][0].Close()
	st := h.Stats()
	want := Stats{
		Clients:        5,
		ByTransport:    map[string]int{"ws-legacy": 1, "ws": 2, "sse": 2},
		Published:      2,
		Enqueued:       12,
		Dropped:        2, // the closed subscriber's queue
		QueuedBytes:    5 * 30,
		QueuedMessages: 5 * 2,
	}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("Stats() = %+v\nwant       %+v", st, want)
	}
	for tr, n := range map[string]int{"": 5, "ws-legacy": 1, "ws": 2, "sse": 2, "other": 0} {
		if got := h.Count(tr); got != n {
			t.Errorf("Count(%q) = %d, want %d", tr, got, n)
		}
	}
	if _, err := drain(t, subs["ws"][0]); err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(); st.QueuedMessages != 8 || st.QueuedBytes != 4*30 {
		t.Errorf("after one drain: %+v", st)
	}
}

// TestHub_Publish_noAllocs pins the "no allocation per subscriber" promise: once the queues'
// buffers exist, Publish (and Next into a reused dst) allocate nothing.
func TestHub_Publish_noAllocs(t *testing.T) {
	h := New(Options{})
	defer h.Close()
	subs := make([]*Subscription, 100)
	for i := range subs {
		f := Filter{}
		if i%2 == 0 {
			f.Rooms = set("r")
		}
		subs[i] = subscribe(t, h, f, "ws")
	}
	m := msg("r", "chat", 1, 100)
	ctx := context.Background()
	buf := make([]*Message, 0, 16)
	round := func() {
		for range 4 {
			h.Publish(m)
		}
		for _, s := range subs {
			var err error
			if buf, err = s.Next(ctx, buf[:0]); err != nil {
				t.Fatal(err)
			}
		}
	}
	round() // each subscription grows its two queue buffers, one per round
	round()
	allocs := testing.AllocsPerRun(100, round)
	if allocs != 0 {
		t.Errorf("%v allocations per round, want 0", allocs)
	}
}

// TestHub_concurrent runs every operation at once under the race detector, ending in Close.
func TestHub_concurrent(t *testing.T) {
	leakcheck.Check(t)
	h := New(Options{MaxQueueBytes: 4 << 10})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				h.Publish(msg(fmt.Sprintf("r%d", p%2), "chat", uint64(i), 100))
			}
		})
	}
	for c := range 16 {
		wg.Go(func() {
			for {
				s, err := h.Subscribe(Filter{Rooms: set("r0")}, ClientInfo{Transport: "ws"})
				if err != nil {
					return // hub closed
				}
				var buf []*Message
				for range c % 4 { // some read a little, some never
					if buf, err = s.Next(ctx, buf[:0]); err != nil {
						break
					}
				}
				switch c % 3 {
				case 0:
					s.Close()
				case 1:
					s.Fail(ErrWriteTimeout)
				}
				_ = h.Stats()
				_ = h.Drained()
				_ = h.Count("ws")
			}
		})
	}
	waitFor(t, "publishing", func() bool { return h.Stats().Published == 4*2000 })
	h.Close()
	wg.Wait()
	if h.Count("") != 0 {
		t.Errorf("Count = %d after Close", h.Count(""))
	}
}

// TestHub_SubscribeFunc: a told subscriber is called for every queued message and for its end,
// and drains with TryNext without waiting.
func TestHub_SubscribeFunc(t *testing.T) {
	h := New(Options{MaxQueueBytes: 1 << 10})
	var calls atomic.Int64
	sub, err := h.SubscribeFunc(Filter{}, ClientInfo{Transport: "ws"}, func() { calls.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sub.TryNext(nil); len(got) != 0 || err != nil || sub.Pending() {
		t.Fatalf("empty: %v %v pending=%v", got, err, sub.Pending())
	}
	for i := 1; i <= 3; i++ {
		h.Publish(msg("r", "chat", uint64(i), 0))
	}
	if calls.Load() != 3 || !sub.Pending() {
		t.Fatalf("ready called %d times for 3 messages, pending=%v", calls.Load(), sub.Pending())
	}
	got, err := sub.TryNext(nil)
	if len(got) != 3 || err != nil || got[2].Seq != 3 {
		t.Fatalf("TryNext = %d messages, %v", len(got), err)
	}
	h.Close()
	if calls.Load() != 4 {
		t.Fatalf("ready not called for the end: %d calls", calls.Load())
	}
	if _, err := sub.TryNext(nil); !errors.Is(err, ErrShutdown) {
		t.Fatalf("after Close: %v, want ErrShutdown", err)
	}
}

// TestHub_Publish_byRoom: subscribers are indexed by the rooms their filter names. One naming
// several rooms gets each room's messages once; a room whose last subscriber leaves is forgotten;
// a filter whose rooms are all false matches nothing, as Match says.
func TestHub_Publish_byRoom(t *testing.T) {
	h := New(Options{})
	defer h.Close()
	tests := []struct {
		name string
		f    Filter
		want []uint64
	}{
		{"every room", Filter{}, []uint64{1, 2, 3, 4}},
		{"one room", Filter{Rooms: set("alice")}, []uint64{1, 3}},
		{"two rooms", Filter{Rooms: set("alice", "bob")}, []uint64{1, 2, 3}},
		{"two rooms and a type", Filter{Rooms: set("alice", "bob"), Types: set("chat")}, []uint64{2}},
		{"a room nobody publishes to", Filter{Rooms: set("nobody")}, []uint64{}},
		{"rooms all false", Filter{Rooms: map[string]bool{"alice": false}}, []uint64{}},
	}
	ss := make([]*Subscription, len(tests))
	for i, tt := range tests {
		ss[i] = subscribe(t, h, tt.f, "ws")
	}
	for _, m := range []*Message{msg("alice", "gift", 1, 0), msg("bob", "chat", 2, 0), msg("alice", "like", 3, 0), msg("carol", "like", 4, 0)} {
		h.Publish(m)
	}
	for i, tt := range tests {
		got, err := drain(t, ss[i])
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seqs(got)) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, seqs(got), tt.want)
		}
	}
	if n := len(*h.rooms.Load()); n != 3 {
		t.Errorf("%d rooms indexed, want 3 (alice, bob, nobody)", n)
	}
	for _, s := range ss {
		s.Close()
	}
	if n, every := len(*h.rooms.Load()), len(h.everyRoom.load()); n != 0 || every != 0 {
		t.Errorf("after every Close: %d rooms and %d every-room subscribers indexed, want none", n, every)
	}
	again := subscribe(t, h, Filter{Rooms: set("alice")}, "ws")
	h.Publish(msg("alice", "chat", 5, 0))
	if got, _ := drain(t, again); fmt.Sprint(seqs(got)) != "[5]" {
		t.Errorf("a new subscriber to a forgotten room got %v, want [5]", seqs(got))
	}
}

package hub

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// BenchmarkHub_Publish measures one Publish to n subscribers (ns/op) and per matching
// subscriber (ns/delivery). allocs/op must be 0.
//
// drain=inline: the benchmark itself empties every queue every drainEvery publishes with the timer
// stopped, so this is Publish alone, deterministic, at a steady state of reused queue buffers.
//
// drain=goroutines: each subscriber is drained by its own goroutine as a transport writer would,
// so ns/op includes waking those goroutines and lock contention with them. The queue limit is
// raised so that a drainer the scheduler starves is not cut off. With fewer CPUs than it takes
// to keep up, backlogs grow during the run and B/op shows the queues growing.
func BenchmarkHub_Publish(b *testing.B) {
	for _, bc := range []struct {
		subs   int
		rooms  int // subscribers are spread over this many rooms; 1 = every one matches
		suffix string
	}{
		{subs: 1, rooms: 1},
		{subs: 100, rooms: 1},
		{subs: 1000, rooms: 1},
		{subs: 1000, rooms: 100, suffix: ",match=1%"},
	} {
		name := fmt.Sprintf("subs=%d%s", bc.subs, bc.suffix)
		matching := bc.subs / bc.rooms
		m := msg("room0", "gift", 1, 200)
		setup := func(b *testing.B) (*Hub, []*Subscription) {
			h := New(Options{MaxQueueBytes: 1 << 30})
			subs := make([]*Subscription, bc.subs)
			for i := range subs {
				f := Filter{}
				if bc.rooms > 1 {
					f.Rooms = map[string]bool{fmt.Sprintf("room%d", i%bc.rooms): true}
				}
				var err error
				if subs[i], err = h.Subscribe(f, ClientInfo{Transport: "ws"}); err != nil {
					b.Fatal(err)
				}
			}
			return h, subs
		}

		b.Run(name+"/drain=inline", func(b *testing.B) {
			const drainEvery = 1024
			h, subs := setup(b)
			defer h.Close()
			// Next must not block on a subscriber with nothing queued.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			buf := make([]*Message, 0, drainEvery)
			drainAll := func() {
				for _, s := range subs {
					var err error
					if buf, err = s.Next(ctx, buf[:0]); err != nil && err != context.Canceled {
						b.Fatal(err)
					}
				}
			}
			// Two rounds give every subscription both of its queue buffers at full size.
			for range 2 {
				for range drainEvery {
					h.Publish(m)
				}
				drainAll()
			}
			n := 0
			for b.Loop() {
				h.Publish(m)
				if n++; n == drainEvery {
					n = 0
					b.StopTimer()
					drainAll()
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(matching), "ns/delivery")
		})

		b.Run(name+"/drain=goroutines", func(b *testing.B) {
			h, subs := setup(b)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for _, s := range subs {
				wg.Go(func() {
					buf := make([]*Message, 0, 64)
					for {
						var err error
						if buf, err = s.Next(ctx, buf[:0]); err != nil {
							return
						}
					}
				})
			}
			for b.Loop() {
				h.Publish(m)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(matching), "ns/delivery")
			cancel()
			wg.Wait()
			if n := h.Count(""); n != bc.subs {
				b.Fatalf("%d of %d subscribers were cut off", bc.subs-n, bc.subs)
			}
			h.Close()
		})
	}
}

// BenchmarkSubscription_Next measures taking a batch of queued messages (the Publish calls that
// fill the queue are included). allocs/op must be 0.
func BenchmarkSubscription_Next(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			h := New(Options{})
			defer h.Close()
			s, err := h.Subscribe(Filter{}, ClientInfo{Transport: "ws"})
			if err != nil {
				b.Fatal(err)
			}
			m := msg("room0", "chat", 1, 200)
			ctx := context.Background()
			buf := make([]*Message, 0, batch)
			for b.Loop() {
				for range batch {
					h.Publish(m)
				}
				if buf, err = s.Next(ctx, buf[:0]); err != nil || len(buf) != batch {
					b.Fatalf("Next = %d messages, %v", len(buf), err)
				}
			}
		})
	}
}

// BenchmarkHub_Publish1000Rooms measures one Publish to one room of many: 1,000 rooms with 10
// subscribers each, plus 3 subscribers to every room, so each Publish has 13 deliveries out of
// 10,003 subscribers. What it costs should follow the 13, not the 10,003. allocs/op must be 0.
// The benchmark empties the matching queues every drainEvery publishes with the timer stopped.
func BenchmarkHub_Publish1000Rooms(b *testing.B) {
	const (
		rooms, perRoom, allRooms = 1000, 10, 3
		drainEvery               = 1024
	)
	b.ReportAllocs()
	h := New(Options{MaxQueueBytes: 1 << 30})
	defer h.Close()
	var matching []*Subscription
	for r := range rooms {
		f := Filter{Rooms: map[string]bool{fmt.Sprintf("room%d", r): true}}
		for range perRoom {
			s, err := h.Subscribe(f, ClientInfo{Transport: "ws"})
			if err != nil {
				b.Fatal(err)
			}
			if r == 0 {
				matching = append(matching, s)
			}
		}
	}
	for range allRooms {
		s, err := h.Subscribe(Filter{}, ClientInfo{Transport: "sse"})
		if err != nil {
			b.Fatal(err)
		}
		matching = append(matching, s)
	}
	m := msg("room0", "gift", 1, 200)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Next must not block on a subscriber with nothing queued
	buf := make([]*Message, 0, drainEvery)
	drain := func() {
		for _, s := range matching {
			var err error
			if buf, err = s.Next(ctx, buf[:0]); err != nil && err != context.Canceled {
				b.Fatal(err)
			}
			if len(buf) == 0 {
				b.Fatal("a subscriber of room0 got nothing")
			}
		}
	}
	for range 2 { // both queue buffers of every matching subscription at full size
		for range drainEvery {
			h.Publish(m)
		}
		drain()
	}
	n := 0
	for b.Loop() {
		h.Publish(m)
		if n++; n == drainEvery {
			n = 0
			b.StopTimer()
			drain()
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(matching)), "ns/delivery")
}

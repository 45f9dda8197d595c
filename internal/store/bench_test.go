package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// BenchmarkStore_Append measures events persisted per second: appended, group-committed to a WAL
// database on disk and delivered.
//
//	go test -run '^$' -bench BenchmarkStore_Append ./internal/store
func BenchmarkStore_Append(b *testing.B) {
	for _, mode := range []struct {
		name string
		dir  func() string
	}{{"disk", b.TempDir}, {"memory", func() string { return "" }}} {
		b.Run(mode.name, func(b *testing.B) {
			delivered := make(chan struct{}, 1)
			var n, want int
			s, err := Open(context.Background(), Options{Dir: mode.dir(), QueueLimit: 1 << 30, Deliver: func(*event.Encoded) {
				n++
				if n == want {
					delivered <- struct{}{}
				}
			}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			u := event.User{UserID: "1", UniqueID: "bob", Nickname: "Bob"}
			e := event.Event{Type: event.TypeChat, Username: "alice", Epoch: "00000000000000e1", Time: time.Now(),
				Data: event.ChatData{Sender: "bob", User: u, Comment: "a chat line of ordinary length"}}
			js, _ := json.Marshal(e)
			msg := &event.Encoded{JSON: js} // read-only to the store, so one serves every append
			want = b.N
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ev := e
				ev.Seq, ev.ID = uint64(i+1), "7000000000000000001"
				s.Append(&ev, msg)
			}
			<-delivered
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkStore_Resume10k measures the read side of resuming a client that missed 10,000 events:
// the Resumable check and reading them back.
func BenchmarkStore_Resume10k(b *testing.B) {
	const missed = 10_000
	s, f := openStore(b, Options{Dir: b.TempDir(), QueueLimit: 1 << 30})
	f.connected("r1")
	for range missed {
		f.chat(user("1", "bob"), "a chat line of ordinary length")
	}
	f.waitDelivered(missed + 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := s.Resumable(ctx, "alice", event.Position{Epoch: f.epoch, Seq: 1})
		if err != nil || !res.OK {
			b.Fatal(res, err)
		}
		last := res.Now.Seq
		n := 0
		if _, err := s.Events(ctx, Query{Room: "alice", Epoch: f.epoch, SinceSeq: 1, UntilSeq: last}, func(*Row) error { n++; return nil }); err != nil || n != missed {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkStore_CommitLatency measures one event's way through the log when it is alone: append,
// commit, deliver. This is what the log adds to the latency of a quiet room.
func BenchmarkStore_CommitLatency(b *testing.B) {
	for _, mode := range []struct {
		name string
		dir  func() string
	}{{"disk", b.TempDir}, {"memory", func() string { return "" }}} {
		b.Run(mode.name, func(b *testing.B) {
			delivered := make(chan struct{}, 1)
			s, err := Open(context.Background(), Options{Dir: mode.dir(), Deliver: func(*event.Encoded) { delivered <- struct{}{} }})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			e := event.Event{Type: event.TypeChat, Username: "alice", Epoch: "00000000000000e1", Time: time.Now(),
				Data: event.ChatData{Sender: "bob", User: event.User{UserID: "1", UniqueID: "bob"}, Comment: "a chat line"}}
			js, _ := json.Marshal(e)
			msg := &event.Encoded{JSON: js}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ev := e
				ev.Seq = uint64(i + 1)
				s.Append(&ev, msg)
				<-delivered
			}
		})
	}
}

// BenchmarkStore_ManyRooms measures the log with many quiet rooms: 1,000 rooms with a live session
// each, events arriving one or two at a time (each group waits for its delivery before the next),
// so every commit carries 1.5 events of different rooms. This is the shape that limits a box
// watching many rooms (docs/benchmarks-rooms.md): the cost of a commit, not of an event.
//
//	go test -run '^$' -bench BenchmarkStore_ManyRooms -count 5 ./internal/store
func BenchmarkStore_ManyRooms(b *testing.B) {
	const rooms = 1000
	delivered := make(chan struct{}, 1)
	var n, want int
	s, err := Open(context.Background(), Options{Dir: b.TempDir(), QueueLimit: 1 << 30, Deliver: func(*event.Encoded) {
		n++
		if n == want {
			delivered <- struct{}{}
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	names := make([]string, rooms)
	seqs := make([]uint64, rooms)
	at := time.Date(2026, 11, 1, 20, 0, 0, 0, time.UTC)
	appendEvent := func(r int, typ string, d event.Data, id string) {
		seqs[r]++
		e := &event.Event{Type: typ, Username: names[r], RoomID: "7001", Seq: seqs[r], Epoch: "00000000000000e1", Time: at, ID: id, Data: d}
		js, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		s.Append(e, &event.Encoded{Room: e.Username, Type: e.Type, Seq: e.Seq, Epoch: e.Epoch, JSON: js})
	}
	want = rooms
	for r := range rooms {
		names[r] = fmt.Sprintf("rm%05d", r)
		appendEvent(r, event.TypeConnectionCreated, event.ConnectionCreatedData{RoomID: "7001", IsLive: true}, "")
	}
	<-delivered
	// The events, encoded up front: the benchmark measures the log, not json.Marshal.
	type pending struct {
		e *event.Event
		m *event.Encoded
	}
	evs := make([]pending, b.N)
	u := event.User{UserID: "1", UniqueID: "bob", Nickname: "Bob"}
	for i := range evs {
		r := i % rooms
		seqs[r]++
		e := &event.Event{Type: event.TypeChat, Username: names[r], RoomID: "7001", Seq: seqs[r], Epoch: "00000000000000e1",
			Time: at.Add(time.Duration(i) * time.Millisecond), ID: fmt.Sprint(7000000000000000000 + i),
			Data: event.ChatData{Sender: "bob", User: u, Comment: "a chat line of ordinary length"}}
		js, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		evs[i] = pending{e, &event.Encoded{Room: e.Username, Type: e.Type, Seq: e.Seq, Epoch: e.Epoch, JSON: js}}
	}
	batches := s.Stats().Batches
	b.ReportAllocs()
	b.ResetTimer()
	for i, g := 0, 0; i < len(evs); g++ {
		k := min(1+g%2, len(evs)-i) // groups of 1 and 2
		n, want = 0, k
		for _, p := range evs[i : i+k] {
			s.Append(p.e, p.m)
		}
		<-delivered
		i += k
	}
	b.StopTimer()
	commits := s.Stats().Batches - batches
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(commits), "events/commit")
}

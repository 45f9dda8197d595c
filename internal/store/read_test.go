package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// TestStore_ReadsReleaseReaders: Events and Capture hand rows to their callback with no query
// open, so callbacks stuck on slow HTTP clients (one per reader connection, and more) leave the
// readers free for everyone else: here Position, as a room start asks it.
func TestStore_ReadsReleaseReaders(t *testing.T) {
	leakcheck.Check(t)
	const events, raws = 3*chunk + 7, 2*chunk + 3
	s, f := openStore(t, Options{Dir: t.TempDir(), Record: true})
	f.connected("7001")
	for i := range raws {
		s.AppendRaw("alice", "WebcastChatMessage", int64(i+1), []byte{byte(i)}, f.at.Add(time.Duration(i)*time.Millisecond))
	}
	for i := range events - 1 {
		f.chat(user("1", "bob"), fmt.Sprint("hello ", i))
	}
	f.waitDelivered(events)
	testutil.Eventually(t, 10*time.Second, func() bool { return s.Stats().Captured == raws }, "captured %d of %d", s.Stats().Captured, raws)
	list, err := s.Sessions(context.Background(), "alice", 0, 1)
	if err != nil || len(list) != 1 {
		t.Fatalf("sessions %v, %v", list, err)
	}
	sess := list[0].ID

	// walk reads everything through fn; the walk's own keys (seq or msgId) come back in order.
	type walk func(ctx context.Context, fn func(key int64) error) error
	eventsWalk := func(q Query) walk {
		return func(ctx context.Context, fn func(int64) error) error {
			_, err := s.Events(ctx, q, func(r *Row) error { return fn(int64(r.Seq)) })
			return err
		}
	}
	captureWalk := func(ctx context.Context, fn func(int64) error) error {
		_, err := s.Capture(ctx, sess, func(l capture.Line) error { return fn(l.MsgID) })
		return err
	}
	tests := []struct {
		name string
		walk walk
		want int
	}{
		{"room events", eventsWalk(Query{Room: "alice"}), events},
		{"session events", eventsWalk(Query{Session: sess}), events},
		{"chat events", eventsWalk(Query{Room: "alice", Types: []string{"chat"}}), events - 1},
		{"capture", captureWalk, raws},
		{"room events again", eventsWalk(Query{Room: "alice", SinceSeq: 10}), events - 10},
	}
	var (
		entered sync.WaitGroup
		release = make(chan struct{})
		results = make([][]int64, len(tests))
		errs    = make([]error, len(tests))
		done    sync.WaitGroup
	)
	entered.Add(len(tests)) // more walks than reader connections
	for i, tt := range tests {
		done.Go(func() {
			first := true
			errs[i] = tt.walk(context.Background(), func(k int64) error {
				if first {
					first = false
					entered.Done()
					<-release // a client that stopped reading
				}
				results[i] = append(results[i], k)
				return nil
			})
		})
	}
	stuck := make(chan struct{})
	go func() { entered.Wait(); close(stuck) }()
	select {
	case <-stuck:
	case <-time.After(10 * time.Second):
		inUse := s.r.Stats().InUse
		close(release)
		done.Wait()
		t.Fatalf("the walks did not all reach their callback: readers are held across callbacks (%d in use)", inUse)
	}

	if n := s.r.Stats().InUse; n != 0 {
		t.Errorf("%d reader connections in use while every callback waits, want 0", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	pos, err := s.Position(ctx, "alice")
	cancel()
	if err != nil || pos != (event.Position{Epoch: f.epoch, Seq: uint64(events)}) {
		t.Errorf("Position while the callbacks wait = %+v, %v; want %q, %d", pos, err, f.epoch, events)
	}

	close(release)
	done.Wait()
	for i, tt := range tests {
		if errs[i] != nil {
			t.Errorf("%s: %v", tt.name, errs[i])
		}
		if len(results[i]) != tt.want || !slices.IsSorted(results[i]) || len(slices.Compact(slices.Clone(results[i]))) != tt.want {
			t.Errorf("%s: %d keys (sorted %v, distinct %d), want %d distinct in order", tt.name, len(results[i]),
				slices.IsSorted(results[i]), len(slices.Compact(slices.Clone(results[i]))), tt.want)
		}
	}
}

// TestStore_EventsPagesAcrossChunks: pages whose limit is not a multiple of the read chunk, and
// callbacks that stop the walk, see each event once, in order, with the next page's cursor.
func TestStore_EventsPagesAcrossChunks(t *testing.T) {
	const events = 2*chunk + 100
	s, f := openStore(t, Options{})
	f.connected("r1")
	for i := range events - 1 {
		f.chat(user("1", "bob"), fmt.Sprint(i))
	}
	f.waitDelivered(events)
	ctx := context.Background()
	for _, limit := range []int{37, chunk - 1, chunk, chunk + 1, 700, events - 1, events, events + 1, 0} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			var all []uint64
			q := Query{Room: "alice", Limit: limit}
			for page := 0; ; page++ {
				want, err := s.NextCursor(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				var got []uint64
				next, err := s.Events(ctx, q, func(r *Row) error { got = append(got, r.Seq); return nil })
				if err != nil || next != want {
					t.Fatalf("page %d: next %d (NextCursor %d), %v", page, next, want, err)
				}
				if limit > 0 && len(got) > limit {
					t.Fatalf("page %d: %d events, limit %d", page, len(got), limit)
				}
				all = append(all, got...)
				if next == 0 {
					break
				}
				q.After = next
			}
			if !slices.Equal(all, seqRange(1, events)) {
				t.Fatalf("paged %d events (first %v), want seqs 1 to %d once each", len(all), all[:min(len(all), 3)], events)
			}
		})
	}

	stop := errors.New("stop")
	n := 0
	_, err := s.Events(ctx, Query{Room: "alice"}, func(r *Row) error {
		if n++; n == chunk+3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != chunk+3 {
		t.Fatalf("a callback's error: Events = %v after %d rows, want it back after %d", err, n, chunk+3)
	}
}

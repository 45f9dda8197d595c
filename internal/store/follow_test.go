package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
)

// TestStore_CursorsNeverReused: retention deletes every event, the newest included, and the store
// restarts; the next events still get cursors past every cursor ever given, so a reader that
// follows the log by a persisted cursor (webhooks) sees them.
func TestStore_CursorsNeverReused(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	ctx := context.Background()
	s, f := openStore(t, Options{Dir: dir, Retention: time.Hour})
	f.connected("r1")
	f.chat(user("1", "bob"), "old")
	f.add(event.TypeStreamEnd, event.StreamEndData{Action: "ended"}, true)
	f.waitDelivered(3)
	last, err := s.LastCursor(ctx)
	if err != nil || last != 3 {
		t.Fatalf("LastCursor = %d, %v; want 3", last, err)
	}
	if n, err := s.Prune(ctx, f.at.Add(48*time.Hour)); err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want all 3 events gone", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, f2 := openStore(t, Options{Dir: dir})
	if got, err := s2.LastCursor(ctx); err != nil || got != last {
		t.Fatalf("LastCursor after prune and restart = %d, %v; want %d", got, err, last)
	}
	f2.seq, f2.epoch = f.seq, f.epoch
	f2.connected("r2")
	f2.chat(user("1", "bob"), "new")
	f2.waitDelivered(2)
	rows, next, err := s2.EventsAfter(ctx, last, nil, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Cursor <= last || next != rows[1].Cursor {
		t.Fatalf("after cursor %d: %d rows (first cursor %v), next %d; want the 2 new events past it", last, len(rows), cursors(rows), next)
	}
}

func cursors(rows []Row) []int64 {
	var out []int64
	for _, r := range rows {
		out = append(out, r.Cursor)
	}
	return out
}

// TestStore_EventsAfter: types filter, paging by limit, and next past the events of other types.
func TestStore_EventsAfter(t *testing.T) {
	leakcheck.Check(t)
	ctx := context.Background()
	s, f := openStore(t, Options{})
	bob := user("1", "bob")
	f.connected("r1")                         // 1
	f.chat(bob, "a")                          // 2
	f.gift(bob, 5655, "Rose", 1, 1, "single") // 3
	f.chat(bob, "b")                          // 4
	f.social(bob, "follow")                   // 5
	f.gift(bob, 5655, "Rose", 1, 2, "final")  // 6
	f.chat(bob, "c")                          // 7
	f.waitDelivered(7)
	types := []string{event.TypeGift, event.TypeSocial}
	tests := []struct {
		name      string
		after     int64
		limit     int
		wantSeqs  []uint64
		wantAfter int64
	}{
		{"all, from the start", 0, 10, []uint64{3, 5, 6}, 7},
		{"limit cuts", 0, 2, []uint64{3, 5}, 5},
		{"the rest", 5, 2, []uint64{6}, 7},
		{"caught up", 7, 10, nil, 7},
		{"ahead of the log", 50, 10, nil, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, next, err := s.EventsAfter(ctx, tt.after, types, tt.limit, nil)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, r := range rows {
				seqs = append(seqs, r.Seq)
			}
			if !slices.Equal(seqs, tt.wantSeqs) || next != tt.wantAfter {
				t.Errorf("EventsAfter(%d, limit %d) = seqs %v next %d; want %v next %d", tt.after, tt.limit, seqs, next, tt.wantSeqs, tt.wantAfter)
			}
		})
	}
}

// TestStore_EventsAfterScanBound: a long run of other types is crossed in bounded steps, each
// moving the cursor on.
func TestStore_EventsAfterScanBound(t *testing.T) {
	leakcheck.Check(t)
	ctx := context.Background()
	s, f := openStore(t, Options{})
	bob := user("1", "bob")
	n := followScan + 10
	for range n {
		f.chat(bob, "x")
	}
	f.gift(bob, 5655, "Rose", 1, 1, "single")
	f.waitDelivered(n + 1)
	rows, next, err := s.EventsAfter(ctx, 0, []string{event.TypeGift}, 10, nil)
	if err != nil || len(rows) != 0 || next != followScan {
		t.Fatalf("first step: %d rows, next %d, %v; want none and next %d", len(rows), next, err, followScan)
	}
	rows, next, err = s.EventsAfter(ctx, next, []string{event.TypeGift}, 10, nil)
	if err != nil || len(rows) != 1 || next != int64(n+1) {
		t.Fatalf("second step: %d rows, next %d, %v; want the gift and next %d", len(rows), next, err, n+1)
	}
}

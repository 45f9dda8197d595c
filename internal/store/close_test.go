package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// lockDatabase holds the write lock of dir's events.db from another connection, as a backup tool
// or a sqlite3 shell in a transaction would, until the returned function (also a cleanup) runs.
func lockDatabase(t *testing.T, dir string) (unlock func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "events.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("lock the database: %v", err)
	}
	done := false
	unlock = func() {
		if done {
			return
		}
		done = true
		conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		db.Close()
	}
	t.Cleanup(unlock)
	return unlock
}

// TestStore_CloseContext: with the writer stuck behind a backlog, CloseContext returns by its
// deadline. What was committed stays; the rest is neither stored nor delivered, and is reported;
// when the database still takes a small write, the dropped seqs are recorded as a gap with the
// room's position past them, so the next start neither reuses them nor resumes across them.
func TestStore_CloseContext(t *testing.T) {
	const (
		committed = 100
		queued    = 10_000
		deadline  = 5 * time.Second // a fifth of it (1s) is kept back: ample, even on a loaded machine, for the gap's one small write
		margin    = 3 * time.Second // generous: only a writer that ignores the deadline takes longer
	)
	tests := []struct {
		name         string
		stall        func(t *testing.T, dir string, hang *atomic.Bool) (unlock func())
		wantRecorded bool
	}{
		{"commits hang", func(t *testing.T, dir string, hang *atomic.Bool) func() {
			hang.Store(true)
			return func() {}
		}, true},
		{"another connection holds the write lock", func(t *testing.T, dir string, hang *atomic.Bool) func() {
			return lockDatabase(t, dir)
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			dir := t.TempDir()
			var hang atomic.Bool
			release := make(chan struct{})
			s, f := openStore(t, Options{Dir: dir, QueueLimit: 2 * queued, commitHook: func(ctx context.Context) error {
				if hang.Load() {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-release: // the test is over
					}
				}
				return nil
			}})
			t.Cleanup(func() { close(release) })
			f.connected("r1")
			for range committed - 1 {
				f.chat(user("1", "bob"), "stored")
			}
			f.waitDelivered(committed)
			unlock := tc.stall(t, dir, &hang)
			for range queued {
				f.chat(user("1", "bob"), "queued")
			}

			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			type closed struct {
				res CloseResult
				err error
			}
			done := make(chan closed, 1)
			start := time.Now()
			go func() {
				res, err := s.CloseContext(ctx)
				done <- closed{res, err}
			}()
			var got closed
			select {
			case got = <-done:
			case <-time.After(deadline + margin):
				t.Fatalf("CloseContext did not return within %v of its %v deadline", margin, deadline)
			}
			t.Logf("CloseContext returned after %v: %+v, %v", time.Since(start), got.res, got.err)
			if !errors.Is(got.err, context.DeadlineExceeded) {
				t.Errorf("CloseContext error %v, want one wrapping context.DeadlineExceeded", got.err)
			}
			wantGap := []Gap{{Room: "alice", Epoch: f.epoch, From: committed + 1, To: committed + queued}}
			if got.res.Dropped != queued || got.res.Committed != 0 || got.res.GapRecorded != tc.wantRecorded || !slices.Equal(got.res.Gaps, wantGap) {
				t.Errorf("CloseContext result %+v; want %d dropped, 0 committed, gap %v recorded %v", got.res, queued, wantGap, tc.wantRecorded)
			}
			if d := f.deliveredSeqs(); !slices.Equal(d, seqRange(1, committed)) {
				t.Errorf("delivered %d events (last %d); want exactly the %d committed: a dropped event must not reach clients",
					len(d), d[len(d)-1], committed)
			}

			// The log is consistent on the next start: the committed events, and a position that
			// reuses no seq a client could have seen.
			unlock()
			s2, _ := openStore(t, Options{Dir: dir})
			bg := context.Background()
			var n int
			if err := s2.r.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil || n != committed {
				t.Errorf("after reopening: %d events stored (%v), want the %d committed", n, err, committed)
			}
			wantPos := uint64(committed)
			if tc.wantRecorded {
				wantPos = committed + queued
			}
			if pos, err := s2.Position(bg, "alice"); err != nil || pos != (event.Position{Epoch: f.epoch, Seq: wantPos}) {
				t.Errorf("after reopening: position %s/%d (%v), want %s/%d", pos.Epoch, pos.Seq, err, f.epoch, wantPos)
			}
			res, err := s2.Resumable(bg, "alice", event.Position{Epoch: f.epoch, Seq: committed})
			if err != nil || res.OK == tc.wantRecorded {
				t.Errorf("resume from the last committed seq: %+v, %v; want OK %v (false across a recorded gap)", res, err, !tc.wantRecorded)
			}
		})
	}
}

// TestStore_RetentionUnderBacklog: retention runs while the writer never catches up (every commit
// leaves more queued), in bounded turns with commits in between.
func TestStore_RetentionUnderBacklog(t *testing.T) {
	leakcheck.Check(t)
	var (
		now         atomic.Int64 // the store's clock, unix ns
		backlog     atomic.Bool
		commits     atomic.Int64 // commits while the backlog ran
		interleaved atomic.Int64 // commits while an old session was partly pruned
		s           *Store
		f           *feed
	)
	const oldEvents = 3*pruneChunk + 2 // connected, chats, streamEnd: more than one turn's work
	s, f = openStore(t, Options{Dir: t.TempDir(), Retention: time.Hour, pruneInterval: 10 * time.Millisecond,
		Now: func() time.Time { return time.Unix(0, now.Load()) },
		commitHook: func(context.Context) error {
			if !backlog.Load() {
				return nil
			}
			commits.Add(1)
			if p := s.pruned.Load(); p > 0 && p < oldEvents {
				interleaved.Add(1)
			}
			for range 50 { // only the writer appends now: the queue is never empty when it looks
				f.chat(user("1", "bob"), "backlog")
			}
			return nil
		}})
	t.Cleanup(func() { backlog.Store(false) }) // before Close, which would drain for ever
	now.Store(f.at.UnixNano())
	f.connected("r1")
	for range oldEvents - 2 {
		f.chat(user("1", "bob"), "old")
	}
	f.add(event.TypeStreamEnd, event.StreamEndData{Action: "ended"}, true)
	f.connected("r2") // the live session: never pruned
	f.waitDelivered(int(f.seq))

	now.Store(f.at.Add(48 * time.Hour).UnixNano())
	backlog.Store(true)
	f.chat(user("1", "bob"), "kick") // the writer is idle until this; from here on only it appends
	if !testutil.Poll(15*time.Second, func() bool { return s.Stats().Pruned >= oldEvents }) {
		t.Fatalf("retention pruned %d of %d old events in 15s while the writer was behind (%d commits since)",
			s.Stats().Pruned, oldEvents, commits.Load())
	}
	backlog.Store(false)
	testutil.Eventually(t, 15*time.Second, func() bool { return s.Stats().Pending == 0 }, "the backlog did not drain")
	if st := s.Stats(); st.Pruned != oldEvents {
		t.Errorf("pruned %d events, want the %d of the old session", st.Pruned, oldEvents)
	}
	if interleaved.Load() == 0 {
		t.Errorf("no commit ran while the old session was partly pruned: retention held the writer for its whole pass")
	}
	list, err := s.Sessions(context.Background(), "alice", 0, 0)
	if err != nil || len(list) != 1 || list[0].RoomID != "r2" {
		t.Errorf("sessions after retention: %+v, %v; want only the live r2", list, err)
	}
}

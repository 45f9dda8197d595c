package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// logFeed appends events to a real store the way a room stream does.
type logFeed struct {
	t   *testing.T
	st  *store.Store
	seq uint64
	at  time.Time
}

func openLog(t *testing.T, dir string, deliver func(*event.Encoded)) *logFeed {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: dir, Deliver: deliver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &logFeed{t: t, st: st, at: time.Now()} // now: gifts expire an hour after their event
}

var viewer = event.User{UserID: "42", UniqueID: "viewer", Nickname: "Viewer"}

func (f *logFeed) add(typ string, d event.Data) {
	f.seq++
	f.at = f.at.Add(time.Second)
	e := &event.Event{Type: typ, Username: "creator", RoomID: "7001", Seq: f.seq, Epoch: "e1", ID: strconv.FormatUint(9000+f.seq, 10), Time: f.at, Data: d}
	f.st.Append(e, &event.Encoded{Room: e.Username, Type: e.Type, Seq: e.Seq, Epoch: e.Epoch, JSON: e.AppendJSON(nil)})
}

// mix appends a gift, a chat, a follow, a like and a share: three webhooks' worth.
func (f *logFeed) mix() {
	f.add(event.TypeGift, event.GiftData{User: viewer, GiftID: 5655, GiftName: "Rose", DiamondCount: 1, RepeatCount: 1, StreakState: event.StreakSingle, TotalDiamonds: 1})
	f.add(event.TypeChat, event.ChatData{User: viewer, Comment: "hi"})
	f.add(event.TypeSocial, event.SocialData{User: viewer, Action: "follow"})
	f.add(event.TypeLike, event.LikeData{User: viewer, LikeCount: 3})
	f.add(event.TypeSocial, event.SocialData{User: viewer, Action: "share"})
}

func (f *logFeed) waitCommitted() {
	f.t.Helper()
	testutil.Eventually(f.t, 10*time.Second, func() bool {
		last, err := f.st.LastCursor(context.Background())
		return err == nil && last == int64(f.seq)
	}, "the log committed %d events", f.seq)
}

func newFollower(t *testing.T, q *SQLiteQueue, log Log) *Follower {
	t.Helper()
	f, err := NewFollower(FollowerOptions{Queue: q, Log: log, Coalesce: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return f
}

// runFollower runs f until the test ends.
func runFollower(t *testing.T, f *Follower) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func queued(t *testing.T, q *SQLiteQueue, ep Endpoint) []string {
	t.Helper()
	ds, err := q.Deliveries(t.Context(), ListFilter{EndpointID: ep.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, d := range ds {
		types = append(types, d.Type)
	}
	slices.Sort(types)
	return types
}

var mixTypes = []string{TypeFollow, TypeGift, TypeShare}

// TestFollower_CatchesUpAfterCrash: the log commits events while nothing follows it (the process
// died between the commit and the enqueue); the next start queues each of their webhooks, once,
// and a start after that (or a cursor moved back) queues none again.
func TestFollower_CatchesUpAfterCrash(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	lf := openLog(t, dir, nil)
	q := openQueue(t, filepath.Join(dir, FileName))
	ep := addEndpoint(t, q, "http://receiver.example/hook", Filter{})
	newFollower(t, q, lf.st) // the first start: the cursor is the (empty) log's end

	lf.mix() // committed, never followed: the crash
	lf.waitCommitted()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q2 := openQueue(t, filepath.Join(dir, FileName))
	f := newFollower(t, q2, lf.st)
	if f.Cursor() != 0 {
		t.Fatalf("restart: cursor %d, want the persisted 0", f.Cursor())
	}
	runFollower(t, f)
	testutil.Eventually(t, 10*time.Second, func() bool { return f.Cursor() == int64(lf.seq) }, "follower caught up to %d (at %d)", lf.seq, f.Cursor())
	if got := queued(t, q2, ep); !slices.Equal(got, mixTypes) {
		t.Fatalf("queued %v after the restart, want %v", got, mixTypes)
	}

	// The cursor moved back (as if the Advance had been lost): mapping again queues nothing new.
	if _, err := q2.Advance(t.Context(), t0, 0); err != nil {
		t.Fatal(err)
	}
	f2 := newFollower(t, q2, lf.st)
	if err := f2.catchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := queued(t, q2, ep); !slices.Equal(got, mixTypes) {
		t.Fatalf("queued %v after reading the log again, want still %v", got, mixTypes)
	}
}

// TestFollower_Start: where a follower begins, by what the queue and the log hold.
func TestFollower_Start(t *testing.T) {
	leakcheck.Check(t)
	tests := []struct {
		name       string
		cursor     int64 // -1: none persisted
		wantCursor int64
		wantQueued []string // for the log's 5 events, from the start
	}{
		{"first start begins at the log's end", -1, 5, nil},
		{"persisted cursor", 0, 0, mixTypes},
		{"persisted cursor, part read", 3, 3, []string{TypeShare}},
		{"cursor past the log: a new events.db", 100, 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lf := openLog(t, "", nil)
			lf.mix()
			lf.waitCommitted()
			q := openQueue(t, "")
			ep := addEndpoint(t, q, "http://receiver.example/hook", Filter{})
			if tt.cursor >= 0 {
				if _, err := q.Advance(t.Context(), t0, tt.cursor); err != nil {
					t.Fatal(err)
				}
			}
			f := newFollower(t, q, lf.st)
			if f.Cursor() != tt.wantCursor {
				t.Fatalf("cursor %d, want %d", f.Cursor(), tt.wantCursor)
			}
			if err := f.catchUp(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := queued(t, q, ep); !slices.Equal(got, tt.wantQueued) {
				t.Errorf("queued %v, want %v", got, tt.wantQueued)
			}
			if pos, _, _ := q.Cursor(t.Context()); pos != 5 {
				t.Errorf("persisted cursor %d after catching up, want 5", pos)
			}
		})
	}
}

// TestFollower_NoEndpoints: with no enabled endpoint the log is skipped unread; an endpoint
// created afterwards gets what is committed after it, not what came before.
func TestFollower_NoEndpoints(t *testing.T) {
	leakcheck.Check(t)
	lf := openLog(t, "", nil)
	q := openQueue(t, "")
	off := addEndpoint(t, q, "http://off.example/hook", Filter{})
	if err := q.SetEnabled(t.Context(), off.ID, false, "test", t0); err != nil {
		t.Fatal(err)
	}
	f := newFollower(t, q, lf.st)
	lf.mix()
	lf.waitCommitted()
	if err := f.catchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if f.Cursor() != 5 {
		t.Fatalf("cursor %d, want the log's end 5", f.Cursor())
	}
	on := addEndpoint(t, q, "http://on.example/hook", Filter{Types: []string{TypeFollow}})
	lf.mix()
	lf.waitCommitted()
	if err := f.catchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := queued(t, q, on); !slices.Equal(got, []string{TypeFollow}) {
		t.Errorf("new endpoint queued %v, want the one follow committed after it", got)
	}
	if got := queued(t, q, off); len(got) != 0 {
		t.Errorf("disabled endpoint queued %v", got)
	}
}

// TestService_DeliversCommittedEvents: the wiring the server does, in small: the store's Deliver
// nudges the service, which follows the log and delivers signed webhooks to a real receiver.
func TestService_DeliversCommittedEvents(t *testing.T) {
	leakcheck.Check(t)
	rc := newReceiver(t, nil)
	svc, err := Open(t.Context(), Options{Dispatcher: DispatcherOptions{Guard: Guard{AllowPrivate: true}}, Follower: FollowerOptions{Coalesce: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	lf := openLog(t, "", func(*event.Encoded) { svc.Notify() })
	ep, err := svc.Create(t.Context(), rc.URL(), "test", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Follow(t.Context(), lf.st); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	defer func() { cancel(); <-done }()

	lf.mix()
	testutil.Eventually(t, 10*time.Second, func() bool { return rc.count() == 3 }, "receiver got %d of 3 webhooks", rc.count())
	var types []string
	for _, r := range rc.requests() {
		if err := Verify(ep.Secret, r.Header, r.Body, time.Now(), 0); err != nil {
			t.Errorf("signature: %v", err)
		}
		var b struct{ Type string }
		json.Unmarshal(r.Body, &b)
		types = append(types, b.Type)
	}
	slices.Sort(types)
	if !slices.Equal(types, mixTypes) {
		t.Errorf("received %v, want %v", types, mixTypes)
	}
	// The receiver answered before the outcomes were recorded: wait for them.
	var st EndpointStatus
	testutil.Eventually(t, 10*time.Second, func() bool {
		st, err = svc.EndpointStatus(t.Context(), ep.ID)
		return err == nil && st.Stats.Delivered == 3 && !st.LastDeliveredAt.IsZero() && st.Queue == (QueueCounts{})
	}, "the status to show 3 delivered, a last success and nothing queued")
}

// TestSQLiteQueue_MigratesV1: a webhooks.db of schema 1 (before the cursor) opens, keeps its
// endpoints, and has no cursor yet.
func TestSQLiteQueue_MigratesV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(schema + `; PRAGMA user_version = 1;
		INSERT INTO webhook_endpoints (id, url, secret, filter_json, created_at, updated_at) VALUES ('ep_1', 'http://a.example/', 'whsec_x', '{}', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	q := openQueue(t, path)
	ep, err := q.Endpoint(t.Context(), "ep_1")
	if err != nil || ep.URL != "http://a.example/" || !ep.LastDeliveredAt.IsZero() {
		t.Fatalf("endpoint after migration: %+v, %v", ep, err)
	}
	if _, ok, err := q.Cursor(t.Context()); ok || err != nil {
		t.Fatalf("cursor after migration: %v, %v; want none", ok, err)
	}
}

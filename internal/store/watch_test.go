package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// TestStore_WatchList: the watch list's rows, their options and state, across a restart.
func TestStore_WatchList(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, Options{Dir: dir})
	ctx := context.Background()
	added := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	live := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	rows := []WatchedRoom{
		{Username: "Alice", Priority: 5, Proxy: "socks5://10.0.0.1:1080", Upstream: "eu-1", AddedAt: added},
		{Username: "bob", GiveUpOffline: true, AddedAt: added.Add(time.Minute)},
	}
	for _, w := range rows {
		if err := s.Watch(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	st := WatchState{LastLiveAt: live, LiveRoomID: "7001", LiveTitle: "hello", LiveStartedAt: live.Add(-time.Hour)}
	if err := s.SaveWatchState(ctx, "alice", st); err != nil {
		t.Fatal(err)
	}
	// Updating options keeps when the room was added.
	if err := s.Watch(ctx, WatchedRoom{Username: "bob", Priority: -2, AddedAt: added.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// The state of a room not listed is not saved (it does not come back).
	if err := s.SaveWatchState(ctx, "carol", WatchState{LastLiveAt: live}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, _ = openStore(t, Options{Dir: dir})
	got, err := s.WatchList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []WatchedRoom{
		{Username: "alice", Priority: 5, Proxy: "socks5://10.0.0.1:1080", Upstream: "eu-1", AddedAt: added, WatchState: st},
		{Username: "bob", Priority: -2, AddedAt: added.Add(time.Minute)},
	}
	if len(got) != len(want) {
		t.Fatalf("watch list %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d\n  %+v\nwant\n  %+v", i, got[i], want[i])
		}
	}
	for _, tt := range []struct {
		name string
		want bool
	}{{"ALICE", true}, {"alice", false}, {"nobody", false}} {
		if ok, err := s.Unwatch(ctx, tt.name); err != nil || ok != tt.want {
			t.Errorf("Unwatch(%q) = %v, %v; want %v", tt.name, ok, err, tt.want)
		}
	}
	if got, _ := s.WatchList(ctx); len(got) != 1 || got[0].Username != "bob" {
		t.Errorf("after Unwatch: %+v", got)
	}
}

// TestStore_BroadcastSummary: the figures of a broadcast a restart interrupted come from its
// session, as long as that session is of the same TikTok room and did not end with the stream.
func TestStore_BroadcastSummary(t *testing.T) {
	s, f := openStore(t, Options{})
	ctx := context.Background()
	a := user("1", "ann")
	f.connected("7001")
	f.like(a, 30)
	f.chat(a, "hi")
	f.add(event.TypeConnectionClosed, event.ConnectionClosedData{Reason: "shutdown"}, false)
	f.waitDelivered(4)
	sum, ok, err := s.BroadcastSummary(ctx, "alice", "7001")
	if err != nil || !ok || sum.Likes != 30 || sum.Chats != 1 {
		t.Errorf("BroadcastSummary after a shutdown = %+v, %v, %v; want the session's figures", sum, ok, err)
	}
	if _, ok, err := s.BroadcastSummary(ctx, "alice", "7002"); ok || err != nil {
		t.Errorf("another room id: ok %v, %v; want not the broadcast", ok, err)
	}
	f.connected("7001")
	f.add(event.TypeStreamEnd, event.StreamEndData{Action: "ended"}, true)
	f.waitDelivered(6)
	if _, ok, err := s.BroadcastSummary(ctx, "alice", "7001"); ok || err != nil {
		t.Errorf("after the stream ended: ok %v, %v; want not the broadcast", ok, err)
	}
	if _, ok, err := s.BroadcastSummary(ctx, "nobody", "7001"); ok || err != nil {
		t.Errorf("a room without sessions: ok %v, %v", ok, err)
	}
}

// TestMigrate_FromSchema1: an events.db written by a build of schema 1 is migrated in place: its
// events and positions stay, and the watch list works.
func TestMigrate_FromSchema1(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := migrationFiles.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{string(first), "PRAGMA user_version = 1",
		"INSERT INTO rooms (username, epoch, last_seq) VALUES ('alice', '00000000000000e1', 41)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	db.Close()

	s, _ := openStore(t, Options{Dir: dir})
	if v := s.Stats().SchemaVersion; v != SchemaVersion() || v < 2 {
		t.Fatalf("schema version %d, want %d", v, SchemaVersion())
	}
	var have int
	if err := s.r.QueryRow("PRAGMA user_version").Scan(&have); err != nil || have != SchemaVersion() {
		t.Fatalf("user_version %d, %v; want %d", have, err, SchemaVersion())
	}
	if p, err := s.Position(context.Background(), "alice"); err != nil || p.Seq != 41 || p.Epoch != "00000000000000e1" {
		t.Errorf("position after the migration = %+v, %v", p, err)
	}
	if err := s.Watch(context.Background(), WatchedRoom{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.WatchList(context.Background()); err != nil || len(got) != 1 || got[0].AddedAt.IsZero() {
		t.Errorf("watch list after the migration: %+v, %v", got, err)
	}
}

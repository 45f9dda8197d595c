package store

import (
	"context"
	"encoding/json"
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

// feed sequences events for one room the way a stream does and appends them, recording what the
// store delivers.
type feed struct {
	t         testing.TB
	s         *Store
	room      string
	epoch     string
	seq       uint64
	at        time.Time
	msgID     int64
	mu        sync.Mutex
	delivered []uint64
}

func openStore(t testing.TB, opts Options) (*Store, *feed) {
	t.Helper()
	f := &feed{t: t, room: "alice", epoch: "00000000000000e1", at: time.Date(2026, 11, 1, 20, 0, 0, 0, time.UTC)}
	opts.Deliver = func(m *event.Encoded) {
		f.mu.Lock()
		f.delivered = append(f.delivered, m.Seq)
		f.mu.Unlock()
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	t.Cleanup(func() { s.Close() })
	return s, f
}

func (f *feed) add(typ string, d event.Data, tiktok bool) *event.Event {
	f.seq++
	f.at = f.at.Add(time.Second)
	e := &event.Event{Type: typ, Username: f.room, RoomID: "7001", Seq: f.seq, Epoch: f.epoch, Time: f.at, Data: d}
	if tiktok {
		f.msgID++
		e.ID = fmt.Sprint(9000 + f.msgID)
	}
	js, err := json.Marshal(e)
	if err != nil {
		f.t.Fatal(err)
	}
	f.s.Append(e, &event.Encoded{Room: e.Username, Type: e.Type, Seq: e.Seq, Epoch: e.Epoch, JSON: js})
	return e
}

func (f *feed) deliveredSeqs() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.delivered)
}

func (f *feed) waitDelivered(n int) {
	f.t.Helper()
	testutil.Eventually(f.t, 10*time.Second, func() bool { return len(f.deliveredSeqs()) >= n }, "delivered %d of %d", len(f.deliveredSeqs()), n)
}

func user(id, name string) event.User {
	return event.User{UserID: id, UniqueID: name, Nickname: "N" + name}
}

func (f *feed) connected(roomID string) {
	f.add(event.TypeConnectionCreated, event.ConnectionCreatedData{RoomID: roomID, IsLive: true}, false)
}
func (f *feed) chat(u event.User, text string) {
	f.add(event.TypeChat, event.ChatData{Sender: u.UniqueID, User: u, Comment: text}, true)
}
func (f *feed) like(u event.User, n int64) {
	f.add(event.TypeLike, event.LikeData{Sender: u.UniqueID, User: u, LikeCount: n}, true)
}
func (f *feed) viewers(n int64) {
	f.add(event.TypeRoomUser, event.RoomUserData{ViewerCount: n}, true)
}
func (f *feed) gift(u event.User, giftID int64, name string, diamonds, repeat int, state string) {
	f.add(event.TypeGift, event.GiftData{Sender: u.UniqueID, User: u, GiftID: giftID, GiftName: name, GiftType: 1, DiamondCount: diamonds,
		RepeatCount: repeat, StreakState: state, StreakID: "1", TotalDiamonds: event.TotalDiamonds(diamonds, repeat)}, true)
}
func (f *feed) social(u event.User, action string) {
	f.add(event.TypeSocial, event.SocialData{Sender: u.UniqueID, User: u, Action: action}, true)
}
func (f *feed) member(u event.User, action string) {
	f.add(event.TypeMember, event.MemberData{Sender: u.UniqueID, User: u, Action: action}, true)
}

func TestStore_AppendReadAcrossRestart(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	s, f := openStore(t, Options{Dir: dir})
	f.connected("7001")
	for i := range 50 {
		f.chat(user("1", "bob"), fmt.Sprint("hello ", i))
	}
	f.waitDelivered(51)
	if got := f.deliveredSeqs(); !slices.Equal(got, seqRange(1, 51)) {
		t.Fatalf("delivered %v, want 1..51 in order", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, f2 := openStore(t, Options{Dir: dir})
	pos, err := s2.Position(context.Background(), "ALICE")
	if err != nil || pos != (event.Position{Epoch: f.epoch, Seq: 51}) {
		t.Fatalf("Position = %+v, %v; want %q, 51", pos, err, f.epoch)
	}
	var got []event.Event
	if _, err := s2.Events(context.Background(), Query{Room: "alice"}, func(r *Row) error {
		var e event.Event
		if err := json.Unmarshal(r.JSON, &e); err != nil {
			return err
		}
		if e.Seq != r.Seq || e.ID != r.MsgID {
			return fmt.Errorf("row %d: json seq %d id %q, columns seq %d id %q", r.Cursor, e.Seq, e.ID, r.Seq, r.MsgID)
		}
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 51 || got[0].Type != event.TypeConnectionCreated || got[50].Data.(event.ChatData).Comment != "hello 49" {
		t.Fatalf("read back %d events", len(got))
	}
	// The stream continues: the next seq is 52 in the same epoch.
	f2.epoch, f2.seq = pos.Epoch, pos.Seq
	f2.chat(user("1", "bob"), "after restart")
	f2.waitDelivered(1)
	if pos, _ := s2.Position(context.Background(), "alice"); pos.Seq != 52 {
		t.Fatalf("after restart, last seq %d, want 52", pos.Seq)
	}
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestStore_Sessions(t *testing.T) {
	leakcheck.Check(t)
	s, f := openStore(t, Options{Dir: t.TempDir()})
	ctx := context.Background()
	steps := []struct {
		name string
		do   func()
		want []string // per session, newest first: "roomId:endReason" ("" while live)
	}{
		{"before any connection", func() { f.add(event.TypeWaitingForLive, event.WaitingForLiveData{}, false) }, nil},
		{"connect", func() { f.connected("r1"); f.chat(user("1", "a"), "x") }, []string{"r1:"}},
		{"drop and reconnect to the same broadcast", func() {
			f.add(event.TypeDisconnected, event.DisconnectedData{Reason: "upstream_closed", WillRetry: true}, false)
			f.add(event.TypeReconnecting, event.ReconnectingData{Attempt: 1}, false)
			f.connected("r1")
		}, []string{"r1:"}},
		{"stream ends", func() { f.add(event.TypeStreamEnd, event.StreamEndData{Action: "ended"}, true) }, []string{"r1:ended"}},
		{"next broadcast", func() { f.connected("r2") }, []string{"r2:", "r1:ended"}},
		{"server shuts down", func() { f.add(event.TypeConnectionClosed, event.ConnectionClosedData{Reason: "shutdown"}, false) }, []string{"r2:shutdown", "r1:ended"}},
		{"server back, same broadcast: the session goes on", func() { f.connected("r2") }, []string{"r2:", "r1:ended"}},
		{"a new room id while connected", func() { f.connected("r3") }, []string{"r3:", "r2:new_broadcast", "r1:ended"}},
		{"host goes offline", func() { f.add(event.TypeWaitingForLive, event.WaitingForLiveData{}, false) }, []string{"r3:offline", "r2:new_broadcast", "r1:ended"}},
	}
	n := 0
	for _, st := range steps {
		st.do()
		n = int(f.seq)
		f.waitDelivered(n)
		list, err := s.Sessions(ctx, "alice", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range list {
			why := ""
			if x.EndReason != nil {
				why = *x.EndReason
			}
			if (x.EndedAt == nil) != (why == "") {
				t.Errorf("%s: session %d endedAt %v but reason %q", st.name, x.ID, x.EndedAt, why)
			}
			got = append(got, x.RoomID+":"+why)
		}
		if !slices.Equal(got, st.want) {
			t.Fatalf("%s: sessions %v, want %v", st.name, got, st.want)
		}
	}
	// The first session holds its events: connect, chat, disconnected, reconnecting, connect, streamEnd.
	list, _ := s.Sessions(ctx, "alice", 0, 0)
	first := list[len(list)-1]
	if first.Events != 6 || first.FirstSeq != 2 || first.LastSeq != 7 {
		t.Fatalf("first session %+v: want 6 events, seq 2..7", first)
	}
	var types []string
	if _, err := s.Events(ctx, Query{Session: first.ID}, func(r *Row) error { types = append(types, r.Type); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"connection_created", "chat", "disconnected", "reconnecting", "connection_created", "streamEnd"}; !slices.Equal(types, want) {
		t.Fatalf("first session's events %v, want %v", types, want)
	}
	if _, err := s.Session(ctx, 999); err == nil {
		t.Fatal("Session(999): want ErrNotFound")
	}
}

// TestStore_Summary checks every figure against a scripted session whose totals are known.
func TestStore_Summary(t *testing.T) {
	s, f := openStore(t, Options{})
	bob, carol, dave := user("1", "bob"), user("2", "carol"), user("3", "dave")
	f.connected("r1")
	f.viewers(100)
	f.chat(bob, "hi")
	f.chat(bob, "again")
	f.chat(carol, "hello")
	f.like(bob, 5)
	f.like(carol, 15)
	f.like(bob, 7)
	f.viewers(300)
	// A streak of 3 roses (1 diamond each): two progress steps, then the end.
	f.gift(dave, 5655, "Rose", 1, 1, event.StreakProgress)
	f.gift(dave, 5655, "Rose", 1, 2, event.StreakProgress)
	f.gift(dave, 5655, "Rose", 1, 3, event.StreakFinal)
	f.add(event.TypeGift, event.GiftData{Sender: "carol", User: carol, GiftID: 7934, GiftName: "Lion", GiftType: 2, DiamondCount: 500,
		RepeatCount: 1, StreakState: event.StreakSingle, TotalDiamonds: 500}, true)
	f.social(bob, "follow")
	f.social(carol, "follow")
	f.social(carol, "share")
	f.member(dave, "join")
	f.member(dave, "subscribe")
	f.add(event.TypeSubscribe, event.SubscribeData{Sender: "dave", User: dave, SubMonth: 1}, true) // the same subscriber
	f.viewers(200)
	sim := f.add(event.TypeChat, event.ChatData{Sender: "x", User: user("9", "x"), Comment: "simulated"}, false)
	_ = sim
	f.add(event.TypeStreamEnd, event.StreamEndData{Action: "ended"}, true)
	f.waitDelivered(int(f.seq))

	list, err := s.Sessions(context.Background(), "alice", 0, 1)
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	sum, err := s.Summary(context.Background(), list[0], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(f.at.Sub(list[0].StartedAt).Milliseconds()); sum.DurationMs != want || want != 21000 {
		t.Errorf("duration %d ms, want %d", sum.DurationMs, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"peak viewers", sum.Viewers.Peak, int64(300)},
		{"average viewers", sum.Viewers.Average, 200.0},
		{"likes", sum.Likes, int64(27)},
		{"diamonds", sum.Diamonds, int64(503)},
		{"gifts", fmt.Sprint(sum.Gifts), "[{7934 Lion 1 500} {5655 Rose 3 3}]"},
		{"chats", sum.Chats, int64(4)},
		{"unique chatters", sum.UniqueChatters, int64(3)},
		{"follows", sum.Follows, int64(2)},
		{"shares", sum.Shares, int64(1)},
		{"joins", sum.Joins, int64(1)},
		{"subscribers", sum.Subscribers, int64(1)},
		{"top gifters", fmt.Sprint(sum.TopGifters), "[{1 {2 carol Ncarol} 500} {2 {3 dave Ndave} 3}]"},
		{"top likers", fmt.Sprint(sum.TopLikers), "[{1 {2 carol Ncarol} 15} {2 {1 bob Nbob} 12}]"},
		{"top chatters", fmt.Sprint(sum.TopChatters[:2]), "[{1 {1 bob Nbob} 2} {2 {2 carol Ncarol} 1}]"},
		{"gift events", sum.EventCounts["gift"], 4},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	room, err := s.Leaderboard(context.Background(), Scope{Room: "alice"}, ByDiamonds, 1)
	if err != nil || len(room) != 1 || room[0].User.UniqueID != "carol" {
		t.Errorf("room leaderboard %v, %v", room, err)
	}
	if _, err := s.Leaderboard(context.Background(), Scope{Room: "alice"}, "bogus", 1); err == nil {
		t.Error("leaderboard by bogus: want an error")
	}
}

func TestStore_SimulatedLeftOutOfSummary(t *testing.T) {
	s, f := openStore(t, Options{})
	f.connected("r1")
	e := &event.Event{Type: event.TypeGift, Username: "alice", Seq: 2, Epoch: f.epoch, Time: f.at, Simulated: true,
		Data: event.GiftData{User: user("5", "sim"), GiftID: 1, GiftName: "Big", StreakState: event.StreakSingle, TotalDiamonds: 1000}}
	f.seq = 2
	s.Append(e, &event.Encoded{Seq: 2, JSON: []byte(`{}`)})
	f.waitDelivered(2)
	list, _ := s.Sessions(context.Background(), "alice", 0, 1)
	sum, err := s.Summary(context.Background(), list[0], time.Now())
	if err != nil || sum.Diamonds != 0 || len(sum.TopGifters) != 0 {
		t.Fatalf("summary counts a simulated gift: %+v %v", sum, err)
	}
}

func TestStore_Resumable(t *testing.T) {
	s, f := openStore(t, Options{})
	f.connected("r1")
	for range 9 {
		f.chat(user("1", "bob"), "x")
	}
	f.waitDelivered(10)
	ctx := context.Background()
	tests := []struct {
		name   string
		epoch  string
		since  uint64
		wantOK bool
	}{
		{"from the start", f.epoch, 0, true},
		{"from the middle", f.epoch, 4, true},
		{"up to date", f.epoch, 10, true},
		{"ahead of the stream", f.epoch, 11, false},
		{"another epoch", "0123456789abcdef", 4, false},
	}
	for _, tc := range tests {
		res, err := s.Resumable(ctx, "alice", event.Position{Epoch: tc.epoch, Seq: tc.since})
		if err != nil || res.OK != tc.wantOK || res.Now != (event.Position{Epoch: f.epoch, Seq: 10}) {
			t.Errorf("%s: Resumable = %+v, %v; want OK %v, last 10, current %s", tc.name, res, err, tc.wantOK, f.epoch)
		}
	}
	// Pruned history no longer reaches back.
	if _, err := s.w.Exec("DELETE FROM events WHERE seq <= 3"); err != nil {
		t.Fatal(err)
	}
	if res, _ := s.Resumable(ctx, "alice", event.Position{Epoch: f.epoch, Seq: 1}); res.OK {
		t.Error("resume from 1 after seqs 1-3 were pruned: want false")
	}
	if res, _ := s.Resumable(ctx, "alice", event.Position{Epoch: f.epoch, Seq: 3}); !res.OK {
		t.Error("resume from 3 after seqs 1-3 were pruned: want true")
	}
}

// TestStore_WriterBehind checks the back-pressure policy: ingest never blocks; past QueueLimit
// events are delivered unstored (and recorded as a gap), past twice that they are shed.
func TestStore_WriterBehind(t *testing.T) {
	leakcheck.Check(t)
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{}, 1)
	s, f := openStore(t, Options{QueueLimit: 10, beforeCommit: func() {
		select {
		case entered <- struct{}{}:
		default:
		}
		once.Do(func() { <-release })
	}})
	t.Cleanup(func() { closeOnce(release) })
	f.connected("r1")
	<-entered // the writer holds event 1 in its first, blocked, commit
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 30 {
			f.chat(user("1", "bob"), "x")
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Append blocked while the writer was stuck")
	}
	st := s.Stats()
	// 1 in the writer's hands and 9 chats to store after it, then 10 unstored; the last 11 shed.
	if st.Pending != 20 || !st.Behind || st.Shed != 11 {
		t.Fatalf("while stuck: %+v; want 20 pending, behind, 11 shed", st)
	}
	closeOnce(release)
	f.waitDelivered(20)
	got := f.deliveredSeqs()
	if !slices.Equal(got, seqRange(1, 20)) {
		t.Fatalf("delivered %v, want 1..20 in order", got)
	}
	st = s.Stats()
	if st.Stored != 10 || st.Unstored != 10 || st.Shed != 11 || st.Behind {
		t.Fatalf("after: %+v; want 10 stored, 10 unstored, 11 shed", st)
	}
	ctx := context.Background()
	if res, _ := s.Resumable(ctx, "alice", event.Position{Epoch: f.epoch, Seq: 5}); res.OK {
		t.Error("resume across unstored events: want recovered false")
	}
	if pos, _ := s.Position(ctx, "alice"); pos.Seq != 20 {
		t.Errorf("position %d after unstored events up to 20: a restart would reuse seqs clients saw", pos.Seq)
	}
}

var closeMu sync.Mutex

func closeOnce(c chan struct{}) {
	closeMu.Lock()
	defer closeMu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

func TestStore_Retention(t *testing.T) {
	s, f := openStore(t, Options{Retention: 24 * time.Hour})
	ctx := context.Background()
	f.connected("r1")
	f.chat(user("1", "bob"), "old")
	f.add(event.TypeStreamEnd, event.StreamEndData{Action: "ended"}, true)
	f.at = f.at.Add(48 * time.Hour)
	f.connected("r2")
	f.chat(user("1", "bob"), "new")
	f.waitDelivered(int(f.seq))
	n, err := s.Prune(ctx, f.at.Add(time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want the 3 events of the old session", n, err)
	}
	list, _ := s.Sessions(ctx, "alice", 0, 0)
	if len(list) != 1 || list[0].RoomID != "r2" {
		t.Fatalf("sessions after prune: %+v", list)
	}
	// The live session is kept, however old.
	if n, _ := s.Prune(ctx, f.at.Add(1000*time.Hour)); n != 0 {
		t.Fatalf("pruned %d events of a live session", n)
	}
}

func TestStore_MemoryBound(t *testing.T) {
	s, f := openStore(t, Options{MemoryMaxEvents: 100})
	if !s.Memory() {
		t.Fatal("no Dir: want memory")
	}
	f.connected("r1")
	for range 3000 {
		f.chat(user("1", "bob"), "x")
	}
	f.waitDelivered(3001)
	var n int
	if err := s.r.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n > 100+maxBatch+1024 {
		t.Fatalf("%d events kept in memory, bound 100 (+ one prune interval)", n)
	}
}

func TestStore_EventsPaging(t *testing.T) {
	s, f := openStore(t, Options{})
	f.connected("r1")
	for i := range 25 {
		if i%5 == 0 {
			f.like(user("1", "bob"), 1)
		} else {
			f.chat(user("1", "bob"), "x")
		}
	}
	f.waitDelivered(26)
	ctx := context.Background()
	tests := []struct {
		name      string
		q         Query
		wantSeqs  int
		wantFirst uint64
	}{
		{"all", Query{Room: "alice"}, 26, 1},
		{"since seq", Query{Room: "alice", SinceSeq: 20}, 6, 21},
		{"until seq", Query{Room: "alice", UntilSeq: 5}, 5, 1},
		{"types", Query{Room: "alice", Types: []string{"like"}}, 5, 2},
		{"since time", Query{Room: "alice", SinceTime: f.at.Add(-2 * time.Second)}, 3, 24},
		{"other room", Query{Room: "bob"}, 0, 0},
	}
	for _, tc := range tests {
		var seqs []uint64
		if _, err := s.Events(ctx, tc.q, func(r *Row) error { seqs = append(seqs, r.Seq); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(seqs) != tc.wantSeqs || (len(seqs) > 0 && seqs[0] != tc.wantFirst) {
			t.Errorf("%s: got %v", tc.name, seqs)
		}
	}
	// Pages of 10 cover everything once, and NextCursor agrees with Events.
	var all []uint64
	q := Query{Room: "alice", Limit: 10}
	for pages := 0; ; pages++ {
		want, err := s.NextCursor(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		next, err := s.Events(ctx, q, func(r *Row) error { all = append(all, r.Seq); return nil })
		if err != nil || next != want {
			t.Fatalf("page %d: next %d (NextCursor %d), %v", pages, next, want, err)
		}
		if next == 0 {
			break
		}
		q.After = next
	}
	if !slices.Equal(all, seqRange(1, 26)) {
		t.Fatalf("paged %v", all)
	}
}

func TestStore_Capture(t *testing.T) {
	s, f := openStore(t, Options{Record: true})
	t0 := f.at
	s.AppendRaw("alice", "WebcastChatMessage", 1, []byte("before"), t0) // no session yet: not kept
	f.connected("r1")
	s.AppendRaw("alice", "WebcastChatMessage", 2, []byte{1, 2}, t0)
	s.AppendRaw("alice", "WebcastGiftMessage", 3, []byte{3}, t0.Add(250*time.Millisecond))
	f.chat(user("1", "bob"), "x")
	f.waitDelivered(2)
	list, _ := s.Sessions(context.Background(), "alice", 0, 1)
	var got []string
	n, err := s.Capture(context.Background(), list[0].ID, func(l capture.Line) error {
		got = append(got, fmt.Sprintf("%s/%d/%v/%d", l.Method, l.MsgID, l.Payload, l.DelayMs))
		return nil
	})
	if err != nil || n != 2 {
		t.Fatal(n, err)
	}
	if want := []string{"WebcastChatMessage/2/[1 2]/0", "WebcastGiftMessage/3/[3]/250"}; !slices.Equal(got, want) {
		t.Fatalf("capture %v, want %v", got, want)
	}
}

func TestMigrate_RefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, Options{Dir: dir})
	if _, err := s.w.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), Options{Dir: dir})
	if err == nil || !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

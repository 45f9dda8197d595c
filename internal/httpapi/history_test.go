package httpapi

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// get fetches a path and returns the status, the headers and the body.
func (s *stack) get(path string) (int, http.Header, []byte) {
	s.t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// awaitLogged waits until a chat with this text is in the room's stored history.
func (s *stack) awaitLogged(room, text string) {
	s.t.Helper()
	testutil.Eventually(s.t, wait, func() bool {
		_, _, b := s.get("/v1/rooms/" + room + "/events?types=chat&format=ndjson")
		return bytes.Contains(b, []byte(`"comment":"`+text+`"`))
	}, "chat %q is not in the log", text)
}

// seqsOf lists the seqs of a room's events (those with one), in arrival order.
func seqsOf(evs []map[string]any, room string) []uint64 {
	var out []uint64
	for _, e := range evs {
		if e["username"] != room || e["type"] == event.TypeResume {
			continue
		}
		var n uint64
		fmt.Sscan(fmt.Sprint(e["seq"]), &n)
		out = append(out, n)
	}
	return out
}

func contiguous(seqs []uint64) bool {
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return false
		}
	}
	return true
}

// watchThenLeave has a client watch room while 5 chats arrive, then leave; it returns the last
// event's position, as a client that comes back would resume from it.
func (s *stack) watchThenLeave(t *testing.T, room string) (uint64, string) {
	t.Helper()
	first := s.dial("/v1/ws?rooms=" + room)
	for i := range 5 {
		s.fake.Inject(room, webcast.MethodChat, chatMsg(i, fmt.Sprint("before ", i)))
	}
	first.await(t, "chat", room, map[string]any{"comment": "before 4"})
	evs := first.events()
	last := evs[len(evs)-1]
	var seq uint64
	fmt.Sscan(fmt.Sprint(last["seq"]), &seq)
	epoch := last["epoch"].(string)
	first.Conn.CloseNow()
	<-first.Done()
	testutil.Eventually(t, wait, func() bool { return s.hub.Count("") == 0 }, "the first client is still subscribed")
	return seq, epoch
}

// TestServer_ResumeWebSocket: a client that drops and comes back with since/epoch gets every event
// it missed, then live ones, with no gap and no duplicate; a stale epoch says recovered: false.
func TestServer_ResumeWebSocket(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{})
	s.connect("hosta")
	seq, epoch := s.watchThenLeave(t, "hosta")
	lastSeq := fmt.Sprint(seq)

	// Missed while away.
	for i := range 20 {
		s.fake.Inject("hosta", webcast.MethodChat, chatMsg(10+i, fmt.Sprint("missed ", i)))
	}
	missed := "missed 19"
	s.awaitLogged("hosta", missed)

	back := s.dial("/v1/ws?rooms=hosta&since=" + lastSeq + "&epoch=" + epoch)
	back.await(t, "chat", "hosta", map[string]any{"comment": missed})
	for i := range 5 {
		s.fake.Inject("hosta", webcast.MethodChat, chatMsg(40+i, fmt.Sprint("live ", i)))
	}
	back.await(t, "chat", "hosta", map[string]any{"comment": "live 4"})
	got := back.events()
	if got[0]["type"] != event.TypeResume || testutil.Dig(got[0], "data", "recovered") != true || fmt.Sprint(testutil.Dig(got[0], "data", "since")) != lastSeq {
		t.Fatalf("first message %v, want a resume with recovered true since %s", got[0], lastSeq)
	}
	seqs := seqsOf(got, "hosta")
	var want uint64
	fmt.Sscan(lastSeq, &want)
	if len(seqs) < 25 || seqs[0] != want+1 || !contiguous(seqs) {
		t.Fatalf("after resume from %d got seqs %v: want %d, %d, ... with no gap or duplicate", want, seqs, want+1, want+2)
	}

	// A stale epoch (say the server's memory was wiped) cannot be resumed: the client must reload.
	stale := s.dial("/v1/ws?rooms=hosta&since=3&epoch=0123456789abcdef")
	r := stale.await(t, event.TypeResume, "hosta", nil)
	if testutil.Dig(r, "data", "recovered") != false || r["epoch"] != epoch || testutil.Dig(r, "data", "reason") != "epoch_changed" {
		t.Fatalf("stale epoch: %v; want recovered false with the current epoch", r)
	}
	// Ahead of the stream: also not recoverable.
	ahead := s.dial("/v1/ws?rooms=hosta&since=999999&epoch=" + epoch)
	if r := ahead.await(t, event.TypeResume, "hosta", nil); testutil.Dig(r, "data", "recovered") != false {
		t.Fatalf("since past the end: %v", r)
	}
}

// TestServer_ResumeCatchUp: with ResumeCatchUp (cluster mode, where a node's log trails the
// cluster's stream), a client that resumes from a position this log has not reached yet waits for
// it and is recovered, with no gap and no duplicate; past the deadline it is told recovered:false
// (ahead) as a single node would at once.
func TestServer_ResumeCatchUp(t *testing.T) {
	tests := []struct {
		name      string
		catchUp   time.Duration
		ahead     uint64 // how far past the log's end the client resumes
		more      int    // chats sent after the client is back
		recovered bool
	}{
		{"the log gets there", 30 * time.Second, 3, 6, true},
		{"it never does", 200 * time.Millisecond, 1000, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := newStackWith(t, stackOptions{}, stackHooks{config: func(c *Config) { c.ResumeCatchUp = tt.catchUp }})
			s.connect("hosta")
			lastSeq, epoch := s.watchThenLeave(t, "hosta")

			since := lastSeq + tt.ahead
			back := s.dial(fmt.Sprintf("/v1/ws?rooms=hosta&since=%d&epoch=%s", since, epoch))
			for i := range tt.more {
				s.fake.Inject("hosta", webcast.MethodChat, chatMsg(10+i, fmt.Sprint("after ", i)))
			}
			r := back.await(t, event.TypeResume, "hosta", nil)
			if testutil.Dig(r, "data", "recovered") != tt.recovered {
				t.Fatalf("resume %v, want recovered %v", r, tt.recovered)
			}
			if !tt.recovered {
				if reason := testutil.Dig(r, "data", "reason"); reason != event.ResumeAhead {
					t.Fatalf("resume reason %v, want %s", reason, event.ResumeAhead)
				}
				return
			}
			back.await(t, "chat", "hosta", map[string]any{"comment": fmt.Sprint("after ", tt.more-1)})
			seqs := seqsOf(back.events(), "hosta")
			if len(seqs) == 0 || seqs[0] != since+1 || !contiguous(seqs) || seqs[len(seqs)-1] != lastSeq+uint64(tt.more) {
				t.Fatalf("resumed from %d (the log ended at %d): seqs %v, want %d ... %d with no gap or duplicate",
					since, lastSeq, seqs, since+1, lastSeq+uint64(tt.more))
			}
		})
	}
}

// TestServer_ResumeSSE resumes through Last-Event-ID, as a browser's EventSource does.
func TestServer_ResumeSSE(t *testing.T) {
	s := newStack(t, stackOptions{maxRooms: 2})
	s.connect("hosta")
	for i := range 3 {
		s.fake.Inject("hosta", webcast.MethodChat, chatMsg(i, fmt.Sprint("one ", i)))
	}
	s.awaitLogged("hosta", "one 2")
	c := s.sse("/v1/events?rooms=hosta&types=chat")
	for i := range 3 {
		s.fake.Inject("hosta", webcast.MethodChat, chatMsg(10+i, fmt.Sprint("two ", i)))
	}
	// Wait for "two 2" by content, not by count: "one 2" may still reach this client live (the log
	// is committed before the hub publishes), so the third event it got need not be "two 2".
	lastID := ""
	testutil.Eventually(t, wait, func() bool {
		for _, e := range c.snapshot() {
			if testutil.Dig(e.Data, "data", "comment") == "two 2" {
				lastID = e.ID
				return true
			}
		}
		return false
	}, "SSE never got \"two 2\": %d events", len(c.snapshot()))
	c.cancel()
	<-c.done
	for i := range 4 {
		s.fake.Inject("hosta", webcast.MethodChat, chatMsg(20+i, fmt.Sprint("three ", i)))
	}
	s.awaitLogged("hosta", "three 3")

	req, _ := http.NewRequest("GET", s.url+"/v1/events?rooms=hosta&types=chat", nil)
	req.Header.Set("Last-Event-ID", lastID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var comments []string
	var resumed bool
	for sc.Scan() && len(comments) < 4 {
		line := sc.Text()
		if strings.HasPrefix(line, "data: ") {
			var e map[string]any
			json.Unmarshal([]byte(line[6:]), &e)
			if e["type"] == event.TypeResume {
				resumed = testutil.Dig(e, "data", "recovered") == true
				continue
			}
			comments = append(comments, fmt.Sprint(testutil.Dig(e, "data", "comment")))
		}
	}
	if want := []string{"three 0", "three 1", "three 2", "three 3"}; !resumed || !slices.Equal(comments, want) {
		t.Fatalf("after Last-Event-ID %q: resumed %v, %v; want %v", lastID, resumed, comments, want)
	}
}

func TestServer_ResumeBadParams(t *testing.T) {
	s := newStack(t, stackOptions{})
	tests := []string{
		"/v1/ws?rooms=a&since=5",                                     // no epoch
		"/v1/ws?since=5&epoch=0123456789abcdef",                      // no single room
		"/v1/ws?rooms=a&since=x&epoch=0123456789abcdef",              // not a seq
		"/v1/ws?rooms=a&since=5&epoch=xyz",                           // not an epoch
		"/v1/ws?rooms=a&epoch=0123456789abcdef",                      // epoch without since
		"/v1/ws?rooms=a&since=b:1:0123456789abcdef",                  // a room outside rooms=
		"/v1/events?since=a:1",                                       // short item
		"/v1/events?since=a:1:0123456789abcdef,a:2:0123456789abcdef", // twice
	}
	for _, path := range tests {
		if code, body := s.do("GET", path); code != http.StatusBadRequest || body["code"] != "bad_resume" {
			t.Errorf("GET %s = %d %v, want 400 bad_resume", path, code, body)
		}
	}
}

// TestServer_History: sessions, summary, leaderboards and the three export formats of the same
// events, parsed back and compared.
func TestServer_History(t *testing.T) {
	s := newStack(t, stackOptions{record: true})
	ws := s.dial("/v1/ws?rooms=hosta")
	s.connect("hosta")
	bob := viewer(2002, "bob")
	for i := range 5 {
		s.fake.Inject("hosta", webcast.MethodChat, chatMsg(i, fmt.Sprint("line ", i)))
	}
	for i, step := range []int32{1, 2, 3} {
		s.fake.Inject("hosta", webcast.MethodGift, giftStep(10+i, bob, 77, step, step == 3))
	}
	ws.await(t, "gift", "hosta", map[string]any{"streakState": "final"})
	if code, body := s.do("DELETE", "/connect/hosta"); code != http.StatusOK {
		t.Fatalf("disconnect: %d %v", code, body)
	}
	ws.await(t, "connection_closed", "hosta", nil)

	code, _, b := s.get("/v1/rooms/hosta/sessions")
	var list struct{ Sessions []map[string]any }
	json.Unmarshal(b, &list)
	if code != 200 || len(list.Sessions) != 1 || list.Sessions[0]["endReason"] != "requested" {
		t.Fatalf("sessions: %d %s", code, b)
	}
	id := fmt.Sprint(list.Sessions[0]["id"])

	_, _, b = s.get("/v1/sessions/" + id + "/summary")
	var sum map[string]any
	json.Unmarshal(b, &sum)
	if fmt.Sprint(sum["chats"], sum["uniqueChatters"], sum["diamonds"]) != "5 1 3" {
		t.Fatalf("summary: %s", b)
	}
	_, _, b = s.get("/v1/sessions/" + id + "/leaderboard?by=diamonds")
	if !bytes.Contains(b, []byte(`"uniqueId":"bob"`)) || !bytes.Contains(b, []byte(`"value":3`)) {
		t.Fatalf("leaderboard: %s", b)
	}

	// json, ndjson and csv hold the same events as the session's stream.
	_, _, b = s.get("/v1/sessions/" + id + "/events")
	var page struct {
		NextCursor *string
		Events     []map[string]any
	}
	if err := json.Unmarshal(b, &page); err != nil || page.NextCursor != nil {
		t.Fatalf("json export: %v %s", err, b)
	}
	code, h, b := s.get("/v1/sessions/" + id + "/events?format=ndjson")
	var nd []map[string]any
	for line := range bytes.Lines(b) {
		var e map[string]any
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("ndjson line %q: %v", line, err)
		}
		nd = append(nd, e)
	}
	if code != 200 || h.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("ndjson: %d %v", code, h)
	}
	code, h, b = s.get("/v1/sessions/" + id + "/events?format=csv")
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v %v", code, h, err)
	}
	if !slices.Equal(rows[0], csvHeader) {
		t.Fatalf("csv header %v", rows[0])
	}
	var fromCSV []map[string]any
	for _, r := range rows[1:] {
		var e map[string]any
		json.Unmarshal([]byte(r[len(r)-1]), &e)
		if fmt.Sprint(e["seq"]) != r[0] || e["type"] != r[3] {
			t.Fatalf("csv row %v disagrees with its json", r)
		}
		fromCSV = append(fromCSV, e)
	}
	live := ws.events()
	if len(page.Events) != len(live) || len(nd) != len(live) || len(fromCSV) != len(live) {
		t.Fatalf("exports have %d/%d/%d events, the stream had %d", len(page.Events), len(nd), len(fromCSV), len(live))
	}
	for i := range live {
		a, _ := json.Marshal(live[i])
		for _, exp := range [][]map[string]any{page.Events, nd, fromCSV} {
			if b, _ := json.Marshal(exp[i]); !bytes.Equal(a, b) {
				t.Fatalf("event %d: stream %s, export %s", i, a, b)
			}
		}
	}

	// Paging: limit=4 pages cover everything once.
	var paged []string
	path := "/v1/rooms/hosta/events?format=ndjson&limit=4"
	for range 100 {
		_, h, b := s.get(path)
		for line := range bytes.Lines(b) {
			var e map[string]any
			json.Unmarshal(line, &e)
			paged = append(paged, fmt.Sprint(e["seq"]))
		}
		next := h.Get("X-Next-Cursor")
		if next == "" {
			break
		}
		path = "/v1/rooms/hosta/events?format=ndjson&limit=4&cursor=" + next
	}
	var all []string
	for _, e := range live {
		all = append(all, fmt.Sprint(e["seq"]))
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("paged %v, want %v", paged, all)
	}

	// The writer's figures are in /healthz and /metrics.
	_, _, b = s.get("/healthz")
	var hz struct{ Store struct{ Stored, Pending int } }
	json.Unmarshal(b, &hz)
	_, _, m := s.get("/metrics")
	if hz.Store.Stored < len(live) || !bytes.Contains(m, []byte("tiktok_live_store_stored_total ")) || !bytes.Contains(m, []byte("tiktok_live_store_behind 0")) {
		t.Errorf("store figures missing: /healthz %s", b)
	}

	for _, bad := range []string{
		"/v1/rooms/hosta/events?limit=0", "/v1/rooms/hosta/events?since=yesterday", "/v1/rooms/hosta/events?format=xml",
		"/v1/rooms/hosta/events?cursor=-1", "/v1/rooms/hosta/events?epoch=zz", "/v1/rooms/hosta/leaderboard?by=coins",
		"/v1/rooms/hosta/events?types=bad!",
	} {
		if code, body := s.do("GET", bad); code != 400 || body["code"] == nil {
			t.Errorf("GET %s = %d %v, want 400 with a code", bad, code, body)
		}
	}
	for path, want := range map[string]int{"/v1/sessions/0": 400, "/v1/sessions/abc/summary": 400, "/v1/sessions/9999": 404, "/v1/sessions/9999/capture": 404} {
		if code, body := s.do("GET", path); code != want || body["code"] == nil {
			t.Errorf("GET %s = %d %v, want %d", path, code, body, want)
		}
	}
}

// TestServer_CaptureReplay records a session, exports its capture, replays it through the fake as
// another host, and checks that the server makes the same events of it.
func TestServer_CaptureReplay(t *testing.T) {
	s := newStack(t, stackOptions{record: true, maxRooms: 2})
	s.connect("hosta")
	ws := s.dial("/v1/ws?rooms=hosta,hostb")
	bob := viewer(2002, "bob")
	for i := range 4 {
		s.fake.Inject("hosta", webcast.MethodChat, chatMsg(i, fmt.Sprint("line ", i)))
	}
	for i, step := range []int32{1, 2} {
		s.fake.Inject("hosta", webcast.MethodGift, giftStep(10+i, bob, 78, step, step == 2))
	}
	ws.await(t, "gift", "hosta", map[string]any{"streakState": "final"})
	_, _, b := s.get("/v1/rooms/hosta/sessions")
	var list struct{ Sessions []struct{ ID int64 } }
	json.Unmarshal(b, &list)
	code, h, b := s.get(fmt.Sprintf("/v1/sessions/%d/capture", list.Sessions[0].ID))
	lines, err := capture.ReadAll(bytes.NewReader(b))
	if code != 200 || h.Get("Content-Type") != "application/x-ndjson" || err != nil || len(lines) != 6 {
		t.Fatalf("capture: %d %v %d lines %v: %s", code, h, len(lines), err, b)
	}

	s.fake.SetUser("hostb", faketiktok.UserConfig{Kind: faketiktok.KindLive, Stream: faketiktok.StreamConfig{Capture: lines, HistorySize: -1}})
	s.do("POST", "/connect/hostb")
	testutil.Eventually(t, wait, func() bool { return len(tiktokEvents(ws.events(), "hostb")) >= 6 }, "replay gave %d events", len(tiktokEvents(ws.events(), "hostb")))
	a, bb := tiktokEvents(ws.events(), "hosta"), tiktokEvents(ws.events(), "hostb")
	if !slices.Equal(a, bb) {
		t.Fatalf("replayed events differ:\n%s\nvs\n%s", strings.Join(a, "\n"), strings.Join(bb, "\n"))
	}
}

// tiktokEvents are a room's events from TikTok messages, without what depends on the room.
func tiktokEvents(evs []map[string]any, room string) []string {
	var out []string
	for _, e := range evs {
		if e["username"] != room || e["id"] == nil {
			continue
		}
		c := map[string]any{}
		for k, v := range e {
			switch k {
			case "username", "roomId", "seq", "epoch":
			default:
				c[k] = v
			}
		}
		b, _ := json.Marshal(c)
		out = append(out, string(b))
	}
	return out
}

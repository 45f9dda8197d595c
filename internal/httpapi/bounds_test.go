package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// seedRoom stores a session of chats of about 2 kB for room through a stream of its own (not the
// manager's), with a raw message of 4 kB beside every other chat when raw is set, and returns the
// stream's epoch and last seq.
func seedRoom(t *testing.T, st *store.Store, room string, chats int, raw bool) (string, uint64) {
	t.Helper()
	at := time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)
	sr := stream.New(room, nil, stream.Options{Log: st})
	defer sr.Close()
	sr.Publish(event.Lifecycle(event.TypeConnectionCreated, event.Room{Username: room, RoomID: "7001"}, at,
		event.ConnectionCreatedData{RoomID: "7001", IsLive: true}))
	pad := strings.Repeat("a chat long enough to fill socket buffers quickly ", 40)
	payload := []byte(strings.Repeat(pad, 2))
	for i := range chats {
		u := event.User{UserID: fmt.Sprint(1000 + i%50), UniqueID: fmt.Sprint("viewer", i%50), Nickname: "Viewer", Badges: []event.Badge{}}
		sr.Publish(event.Event{Type: event.TypeChat, Username: room, RoomID: "7001", Time: at.Add(time.Duration(i) * time.Millisecond),
			Data: event.ChatData{Sender: u.UniqueID, User: u, Comment: fmt.Sprint(i, " ", pad)}})
		if raw && i%2 == 0 {
			st.AppendRaw(room, webcast.MethodChat, int64(i+1), payload, at.Add(time.Duration(i)*time.Millisecond))
		}
	}
	snap := sr.Snapshot()
	return snap.Epoch, snap.Seq
}

// sendBufferListener sets the send buffer of the connections it accepts.
type sendBufferListener struct {
	net.Listener
	size int
}

func (l sendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// smallReadBuffer dials with a small receive buffer, so a client that stops reading stalls the
// server after little data, whatever the machine's TCP autotuning.
func smallReadBuffer(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(8 << 10)
	}
	return c, err
}

// TestServer_StalledExports: four clients that start big exports (one per reader connection of
// the store) and stop reading do not stall anything else: status, metrics and starting another
// room answer promptly, and the room continues its stored stream (the log's position was read,
// not given up on). The write deadline then cuts the stalled clients off, and a client that keeps
// reading, however long the export takes in all, gets all of it.
func TestServer_StalledExports(t *testing.T) {
	leakcheck.Check(t)
	const (
		chats  = 8000            // ~17 MB of JSON, ~22 MB of capture: far more than sockets buffer
		cut    = 3 * time.Second // the test's write deadline
		prompt = 5 * time.Second // generous: before the fix these waited 10 s for the log
	)
	var inflight atomic.Int32 // export handlers running
	isExport := func(p string) bool {
		return strings.HasSuffix(p, "/capture") || (strings.HasSuffix(p, "/events") && p != "/v1/events")
	}
	s := newStackWith(t, stackOptions{maxRooms: 3, dataDir: t.TempDir(), record: true}, stackHooks{
		config: func(c *Config) { c.ResponseWriteTimeout = cut },
		handler: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if isExport(r.URL.Path) {
					inflight.Add(1)
					defer inflight.Add(-1)
				}
				h.ServeHTTP(w, r)
			})
		},
		// Small socket buffers on both ends (see smallReadBuffer): a client that stops reading
		// stalls its export in the first chunk the store reads (1 MB and more), so once it has
		// its first bytes the export is stuck in the middle of a chunk for good.
		sendBuffer: 16 << 10,
	})
	_, bigSeq := seedRoom(t, s.store, "big", chats, true)
	otherEpoch, otherSeq := seedRoom(t, s.store, "other", 3, false)
	testutil.Eventually(t, 60*time.Second, func() bool {
		ss := s.store.Stats()
		return ss.Stored == bigSeq+otherSeq && ss.Captured == chats/2
	}, "the seed is not stored")
	var sessions struct {
		Sessions []store.Session `json:"sessions"`
	}
	_, _, b := s.get("/v1/rooms/big/sessions")
	if err := json.Unmarshal(b, &sessions); err != nil || len(sessions.Sessions) != 1 {
		t.Fatalf("big's sessions: %s (%v)", b, err)
	}
	sess := sessions.Sessions[0].ID
	if code, body := s.do("PUT", "/v1/rooms/hosta"); code != http.StatusCreated {
		t.Fatalf("PUT hosta: %d %v", code, body)
	}

	// Four clients start an export each, read its first bytes and stop reading.
	stalledTr := &http.Transport{DialContext: smallReadBuffer, DisableCompression: true}
	stalledClient := &http.Client{Transport: stalledTr}
	var stalled []*http.Response
	t.Cleanup(func() {
		for _, r := range stalled {
			r.Body.Close()
		}
		stalledTr.CloseIdleConnections()
	})
	for _, p := range []string{
		"/v1/rooms/big/events?format=json",
		"/v1/rooms/big/events?format=ndjson",
		fmt.Sprintf("/v1/sessions/%d/events?format=csv", sess),
		fmt.Sprintf("/v1/sessions/%d/capture", sess),
	} {
		resp, err := stalledClient.Get(s.url + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		stalled = append(stalled, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", p, resp.StatusCode)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 64)); err != nil {
			t.Fatalf("GET %s: first bytes: %v", p, err)
		}
	}
	t.Logf("%d exports stalled", inflight.Load())

	// While they are stalled, the rest of the server answers at once.
	type answer struct {
		code int
		body []byte
		err  error
		took time.Duration
	}
	ask := func(method, path string) answer {
		ctx, cancel := context.WithTimeout(context.Background(), prompt)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, s.url+path, nil)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return answer{err: err, took: time.Since(t0)}
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return answer{code: resp.StatusCode, body: b, err: err, took: time.Since(t0)}
	}
	checks := []struct {
		method, path string
		want         int
	}{
		{"PUT", "/v1/rooms/other", http.StatusCreated}, // first: before the fix it held the manager's lock
		{"GET", "/v1/rooms/hosta", http.StatusOK},
		{"GET", "/metrics", http.StatusOK},
		{"GET", "/v1/rooms", http.StatusOK},
	}
	answers := make([]answer, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { answers[i] = ask(c.method, c.path) })
	}
	wg.Wait()
	t.Logf("%d exports still stalled after the checks", inflight.Load())
	for i, c := range checks {
		a := answers[i]
		if a.err != nil || a.code != c.want {
			t.Errorf("%s %s with stalled exports: %d, %v after %v; want %d within %v", c.method, c.path, a.code, a.err,
				a.took.Round(time.Millisecond), c.want, prompt)
		}
	}
	var other struct {
		Epoch string `json:"epoch"`
		Seq   uint64 `json:"seq"`
	}
	if a := ask("GET", "/v1/rooms/other"); a.err != nil || json.Unmarshal(a.body, &other) != nil {
		t.Errorf("GET /v1/rooms/other: %d %s %v", a.code, a.body, a.err)
	}
	if other.Epoch != otherEpoch || other.Seq < otherSeq {
		t.Errorf("other started at epoch %q seq %d; want its stored stream, epoch %q from seq %d", other.Epoch, other.Seq, otherEpoch, otherSeq)
	}

	// The write deadline cuts the stalled clients off: their answers end short.
	testutil.Eventually(t, 10*cut, func() bool { return inflight.Load() == 0 }, "%d stalled exports still running", inflight.Load())
	for i, resp := range stalled {
		if _, err := io.Copy(io.Discard, resp.Body); err == nil {
			t.Errorf("stalled export %d ended complete, want it cut off", i)
		}
	}

	// The readers are free again, for several exports at once.
	for i := range 4 {
		wg.Go(func() {
			a := ask("GET", fmt.Sprintf("/v1/rooms/big/events?limit=1000&cursor=%d", i*1000))
			var page struct {
				Events []json.RawMessage `json:"events"`
			}
			if a.err != nil || a.code != http.StatusOK || json.Unmarshal(a.body, &page) != nil || len(page.Events) != 1000 {
				t.Errorf("page %d after the cut-off: %d, %d bytes, %v", i, a.code, len(a.body), a.err)
			}
		})
	}
	wg.Wait()

	// A client that keeps reading is never cut off, though its export takes longer than the
	// deadline in all: the deadline is per chunk.
	const slowLines = 8 * 512 // 8 chunks, ~8.7 MB: 5.4 s at least at the reader's pace, 0.7 s a chunk
	resp, err := http.Get(s.url + fmt.Sprintf("/v1/rooms/big/events?format=ndjson&limit=%d", slowLines))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	t0 := time.Now()
	tick := time.NewTicker(10 * time.Millisecond) // a reader of at most 1.6 MB/s
	defer tick.Stop()
	buf := make([]byte, 16<<10)
	total, lines := 0, 0
	for {
		<-tick.C
		n, err := io.ReadFull(resp.Body, buf)
		total += n
		lines += strings.Count(string(buf[:n]), "\n")
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break // the end of the answer (a short last read)
		}
		if err != nil {
			t.Fatalf("slow reader: cut off after %d bytes, %v: %v", total, time.Since(t0), err)
		}
	}
	if lines != slowLines {
		t.Errorf("slow reader got %d lines (%d bytes in %v), want %d", lines, total, time.Since(t0), slowLines)
	}
	t.Logf("slow reader: %d bytes in %v (deadline %v per chunk)", total, time.Since(t0).Round(time.Millisecond), cut)
}

// TestServer_SimulateBounded: in demo mode anyone may simulate, for any name. The streams (and
// metric series) of names never started stay bounded, and a name simulated into, dropped for
// newer ones and then started for real continues its stored stream and takes simulated events.
func TestServer_SimulateBounded(t *testing.T) {
	const (
		names = 200
		bound = 64 // the room package's maxSimulatedKept
	)
	s := newStack(t, stackOptions{demo: true, maxRooms: 2})
	simulate := func(name, comment string) {
		t.Helper()
		resp, err := http.Post(s.url+"/v1/rooms/"+name+"/simulate", "application/json",
			strings.NewReader(`{"type":"chat","comment":"`+comment+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("simulate %s: %d %s", name, resp.StatusCode, b)
		}
	}
	// logged returns the stored chat of name with this comment, once it is stored.
	logged := func(name, comment string) map[string]any {
		t.Helper()
		var found map[string]any
		testutil.Eventually(t, wait, func() bool {
			_, _, b := s.get("/v1/rooms/" + name + "/events?types=chat&format=ndjson")
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var e map[string]any
				if json.Unmarshal([]byte(line), &e) == nil && testutil.Dig(e, "data", "comment") == comment {
					found = e
				}
			}
			return found != nil
		}, "%s's chat %q is not in the log", name, comment)
		return found
	}

	simulate("first", "one")
	first := logged("first", "one")
	for i := range names {
		simulate(fmt.Sprint("flood", i), "x")
	}
	if n := len(s.rooms.Streams()); n > bound {
		t.Errorf("%d streams after simulating for %d names, want at most %d", n, names+1, bound)
	}
	_, _, metrics := s.get("/metrics")
	series := map[string]bool{}
	for _, line := range strings.Split(string(metrics), "\n") {
		if rest, ok := strings.CutPrefix(line, "tiktok_live_events_total{"); ok {
			if _, r, ok := strings.Cut(rest, `room="`); ok {
				series[r[:strings.IndexByte(r, '"')]] = true
			}
		}
	}
	if len(series) == 0 || len(series) > bound {
		t.Errorf("events_total has series for %d rooms, want 1 to %d", len(series), bound)
	}
	if series["first"] {
		t.Error("first, simulated into before all the others, still has its series")
	}

	// first is started for real: its stream continues the stored one and takes simulated events.
	if code, body := s.do("PUT", "/v1/rooms/first"); code != http.StatusCreated {
		t.Fatalf("PUT first: %d %v", code, body)
	}
	_, st := s.do("GET", "/v1/rooms/first")
	if st["epoch"] != first["epoch"] {
		t.Errorf("started first at epoch %v, want its stored epoch %v", st["epoch"], first["epoch"])
	}
	testutil.Eventually(t, wait, func() bool {
		_, st := s.do("GET", "/v1/rooms/first")
		return st["state"] == "connected"
	}, "first does not connect")
	simulate("first", "two")
	second := logged("first", "two")
	seq := func(e map[string]any) float64 { f, _ := e["seq"].(float64); return f }
	if second["epoch"] != first["epoch"] || fmt.Sprint(second["roomId"]) == "" || seq(second) <= seq(first) {
		t.Errorf("simulated into the started room: %v; want its epoch %v, its room id, after seq %v", second, first["epoch"], first["seq"])
	}
}

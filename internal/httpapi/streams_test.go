package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// TestServer_Filters: rooms=, types= and gifts=final on both stream transports.
func TestServer_Filters(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{maxRooms: 2})
	all := s.dial("/v1/ws")
	onlyA := s.dial("/v1/ws?rooms=@RoomA&types=chat,gift&gifts=final")
	sseB := s.sse("/v1/events?rooms=roomb&types=gift")
	for _, u := range []string{"rooma", "roomb"} {
		if code, body := s.do("PUT", "/v1/rooms/"+u); code != 201 {
			t.Fatalf("PUT %s: %d %v", u, code, body)
		}
		all.await(t, "connection_created", u, nil)
	}
	bob := viewer(2002, "bob")
	for _, u := range []string{"rooma", "roomb"} {
		s.fake.Inject(u, webcast.MethodChat, chatMsg(0, "hi "+u))
		for i, n := range []int32{1, 2, 3} {
			s.fake.Inject(u, webcast.MethodGift, giftStep(i+1, bob, 77, n, n == 3))
		}
		s.fake.Inject(u, webcast.MethodLike, &pb.LikeMessage{Common: &pb.MessageCommon{CreateTimeMs: msgTime}, Count: 3, Total: 9, User: bob})
	}
	for _, u := range []string{"rooma", "roomb"} {
		all.await(t, "like", u, nil)
	}
	// The unfiltered client has everything; the filtered ones only their share, in the same order.
	testutil.Eventually(t, wait, func() bool { return len(onlyA.events()) >= 2 }, "rooms=rooma client got %d events", len(onlyA.events()))
	var got []string
	for _, e := range onlyA.events() {
		d := e["data"].(map[string]any)
		got = append(got, fmt.Sprint(e["username"], " ", e["type"], " ", d["streakState"]))
	}
	if want := []string{"rooma chat <nil>", "rooma gift final"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("filtered WS got %q, want %q", got, want)
	}
	testutil.Eventually(t, wait, func() bool { return len(sseB.snapshot()) >= 3 }, "SSE client got %d events", len(sseB.snapshot()))
	var prev uint64
	for i, e := range sseB.snapshot() {
		if e.Type != "gift" || e.Data["username"] != "roomb" {
			t.Errorf("SSE event %d = %s for %v, want gifts of roomb", i, e.Type, e.Data["username"])
		}
		// The id is the client's position: room:seq:epoch.
		var seq uint64
		parts := strings.Split(e.ID, ":")
		if len(parts) == 3 {
			fmt.Sscan(parts[1], &seq)
		}
		if len(parts) != 3 || parts[0] != "roomb" || parts[2] != e.Data["epoch"] || seq <= prev || fmt.Sprint(e.Data["seq"]) != parts[1] {
			t.Errorf("SSE id %q after %d (data seq %v, epoch %v): want roomb:<rising seq>:<epoch>", e.ID, prev, e.Data["seq"], e.Data["epoch"])
		}
		prev = seq
	}
	// Bad filters are refused before any upgrade.
	for _, path := range []string{"/v1/ws?gifts=some", "/v1/events?rooms=a%20b", "/v1/events?types=no-such!"} {
		if code, body := s.do("GET", path); code != http.StatusBadRequest || body["code"] != "bad_filter" {
			t.Errorf("GET %s = %d %v, want 400 bad_filter", path, code, body)
		}
	}
}

// TestServer_StreakTimeout: a streak whose end never comes is finalised once, after the timeout,
// and a gifts=final client sees exactly one alert for it.
func TestServer_StreakTimeout(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{streakTimeout: 150 * time.Millisecond})
	final := s.dial("/v1/ws?types=gift&gifts=final")
	all := s.dial("/v1/ws?types=gift")
	s.connect("streamer")
	carol := viewer(3003, "carol")
	for i, n := range []int32{1, 2, 3} {
		s.fake.Inject("streamer", webcast.MethodGift, giftStep(i, carol, 99, n, false))
	}
	all.await(t, "gift", "streamer", map[string]any{"streakState": "final", "repeatCount": 3})
	// Another gift after the timeout proves the stream went on; the final must still be alone.
	s.fake.Inject("streamer", webcast.MethodGift, giftStep(9, carol, 100, 1, true))
	final.await(t, "gift", "streamer", map[string]any{"streakId": "100"})
	finals := match(final.events(), "gift", "streamer", map[string]any{"streakId": "99"})
	if len(finals) != 1 || finals[0]["data"].(map[string]any)["streakState"] != "final" {
		t.Fatalf("gifts=final client got %d events for streak 99, want exactly one final: %v", len(finals), finals)
	}
	if _, ok := finals[0]["id"]; ok {
		t.Errorf("a timeout final carries a TikTok id: %v", finals[0])
	}
	if n := len(match(all.events(), "gift", "streamer", map[string]any{"streakId": "99"})); n != 4 {
		t.Errorf("unfiltered client got %d events for streak 99, want 3 steps + 1 final", n)
	}
	_, st := s.do("GET", "/v1/rooms/streamer")
	if c := st["counters"].(map[string]any); c["diamonds"] != float64(4) || c["streaksTimedOut"] != float64(1) {
		t.Errorf("counters = %v, want diamonds 4 (3 + 1), streaksTimedOut 1", c)
	}
}

// TestServer_SlowClientClosed: a client that stops reading is cut off (4001/4002) while a fast
// client on the same room receives every event, in order.
func TestServer_SlowClientClosed(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{queueBytes: 256 << 10, writeTimeout: 300 * time.Millisecond})
	fast := s.dial("/v1/ws?rooms=streamer")
	slow := s.rawStalledClient("/v1/ws?rooms=streamer")
	testutil.Eventually(t, wait, func() bool { return s.hub.Count(transportWS) == 2 }, "clients not subscribed")

	// Big events, straight into the hub, fill the stalled client's socket buffers and then its queue.
	const n = 600 // 19 MiB: more than the kernel's socket buffers absorb
	payload := strings.Repeat("x", 32<<10)
	for i := 1; i <= n; i++ {
		// Stay within what a reading client can follow: the fast client is never more than a few
		// events behind, so only the stalled one can overflow its queue.
		testutil.Eventually(t, wait, func() bool { return len(fast.events()) >= i-4 }, "fast client stuck at %d", len(fast.events()))
		s.hub.Publish(&hub.Message{Room: "streamer", Type: "chat", Seq: uint64(i),
			JSON: fmt.Appendf(nil, `{"type":"chat","username":"streamer","seq":%d,"data":{"comment":%q}}`, i, payload)})
	}
	testutil.Eventually(t, wait, func() bool { return len(fast.events()) == n }, "fast client got %d of %d", len(fast.events()), n)
	for i, e := range fast.events() {
		if e["seq"] != float64(i+1) {
			t.Fatalf("fast client event %d has seq %v", i, e["seq"])
		}
	}
	testutil.Eventually(t, wait, func() bool {
		st := s.hub.Stats()
		return st.SlowCloses+st.TimeoutCloses == 1 && s.hub.Count(transportWS) == 1
	}, "the stalled client was not cut off: %+v", s.hub.Stats())
	// Its buffers are full, so the close frame may not fit: a TCP close without one is fine, but
	// the connection must end.
	start := time.Now()
	if code, err := slow.closeCode(); err != nil || code != 0 && code != 4001 && code != 4002 {
		t.Errorf("stalled client: close code %d, %v; want the connection closed (4001, 4002 or no frame)", code, err)
	}
	t.Logf("stalled client saw the end after %v", time.Since(start))
}

// stalledClient is a WebSocket client that stops reading after the handshake, like a frozen
// browser tab; its socket buffers fill up.
type stalledClient struct {
	conn net.Conn
	br   *bufio.Reader
}

func (s *stack) rawStalledClient(path string) *stalledClient {
	s.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		s.t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		s.t.Fatalf("handshake: %v %v", resp, err)
	}
	s.t.Cleanup(func() { conn.Close() })
	return &stalledClient{conn: conn, br: br}
}

// closeCode reads (now, at last) until the close frame and returns its code; 0 if the server cut
// the TCP connection without one. An error means the connection stayed open.
func (c *stalledClient) closeCode() (int, error) {
	c.conn.SetReadDeadline(time.Now().Add(wait))
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return 0, err
			}
			return 0, nil
		}
		op, n := h[0]&0x0f, uint64(h[1]&0x7f)
		switch n {
		case 126:
			var b [2]byte
			io.ReadFull(c.br, b[:])
			n = uint64(b[0])<<8 | uint64(b[1])
		case 127:
			var b [8]byte
			io.ReadFull(c.br, b[:])
			n = 0
			for _, x := range b {
				n = n<<8 | uint64(x)
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(c.br, body); err != nil {
			return 0, nil
		}
		if op == 8 && len(body) >= 2 {
			return int(body[0])<<8 | int(body[1]), nil
		}
	}
}

// TestServer_ClientMessagesIgnored: the original server ignored what WebSocket clients sent (some
// overlays send keep-alive text); so do we, and the client keeps receiving events.
func TestServer_ClientMessagesIgnored(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{})
	ws := s.dial("/")
	for i := range 3 {
		if err := ws.Conn.Write(t.Context(), websocket.MessageText, fmt.Appendf(nil, `{"ping":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	s.connect("streamer")
	s.fake.Inject("streamer", webcast.MethodChat, chatMsg(0, "still here"))
	ws.await(t, "chat", "streamer", map[string]any{"comment": "still here"})
	if s.hub.Count(transportLegacy) != 1 {
		t.Errorf("legacy clients = %d, want 1", s.hub.Count(transportLegacy))
	}
}

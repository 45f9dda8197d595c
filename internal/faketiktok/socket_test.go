package faketiktok

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// commoner is implemented by every generated event message.
type commoner interface{ GetCommon() *pb.MessageCommon }

func TestServer_SocketSession(t *testing.T) {
	f := start(t, Options{Default: StreamConfig{Rate: 200}})
	id := f.srv.RoomID("streamer")
	c, s := f.dial(id)

	// What the JS client sends: a heartbeat, im_enter_room, and an ack per needs_ack frame.
	c.send(&pb.PushFrame{PayloadEncoding: "pb", PayloadType: "hb", Payload: mustMarshal(t, &pb.HeartbeatRequest{RoomId: uint64(id), SendPacketSeqId: 1})})
	c.send(&pb.PushFrame{PayloadEncoding: "pb", PayloadType: "im_enter_room", Payload: mustMarshal(t, &pb.EnterRoomRequest{
		RoomId: id, LiveId: 12, Identity: "audience", FilterWelcomeMsg: "0", EnterUniqueId: 42,
	})})
	var (
		lastSeq, lastLog, lastMsg int64
		gotEnterResp              bool
		msgs                      int
		acked                     []int64
	)
	for msgs < 60 || !gotEnterResp {
		fr, res := c.frame()
		if fr.GetSeqId() <= lastSeq || fr.GetLogId() <= lastLog {
			t.Fatalf("seq %d / log %d not rising (after %d / %d)", fr.GetSeqId(), fr.GetLogId(), lastSeq, lastLog)
		}
		lastSeq, lastLog = fr.GetSeqId(), fr.GetLogId()
		if fr.GetPayloadType() == webcast.FrameEnterRoomResp {
			gotEnterResp = true
			continue
		}
		if fr.GetPayloadType() != webcast.FrameMsg || fr.GetPayloadEncoding() != "pb" {
			t.Fatalf("frame type %q/%q", fr.GetPayloadType(), fr.GetPayloadEncoding())
		}
		if fr.GetHeaders()["compress_type"] != "gzip" || !bytes.HasPrefix(fr.GetPayload(), []byte{0x1f, 0x8b, 0x08}) {
			t.Fatalf("payload not gzip (headers %v)", fr.GetHeaders())
		}
		if !res.GetNeedsAck() || res.GetInternalExt() == "" || res.GetCursor() == "" || res.GetServerNowMs() == 0 {
			t.Fatalf("fetch result without needs_ack/internal_ext/cursor/now: %v", res)
		}
		for _, w := range res.GetMessages() {
			msgs++
			if w.GetMsgId() <= lastMsg {
				t.Fatalf("msg id %d not rising after %d", w.GetMsgId(), lastMsg)
			}
			lastMsg = w.GetMsgId()
			d, err := webcast.DecodePayload(w.GetMethod(), w.GetPayload())
			if err != nil || d == nil {
				t.Fatalf("%s does not decode: %v", w.GetMethod(), err)
			}
			cm := d.(commoner).GetCommon()
			if cm.GetMsgId() != w.GetMsgId() || cm.GetRoomId() != id || cm.GetMethod() != w.GetMethod() {
				t.Fatalf("common %v does not match wire message %d %s", cm, w.GetMsgId(), w.GetMethod())
			}
			if age := time.Since(time.UnixMilli(cm.GetCreateTimeMs())); age < -time.Second || age > time.Minute {
				t.Fatalf("create_time_ms %d is not the send time", cm.GetCreateTimeMs())
			}
		}
		c.send(&pb.PushFrame{LogId: fr.GetLogId(), PayloadEncoding: "pb", PayloadType: "ack", Payload: []byte(res.GetInternalExt())})
		acked = append(acked, fr.GetLogId())
	}
	c.send(&pb.PushFrame{PayloadEncoding: "pb", PayloadType: "hb", Payload: mustMarshal(t, &pb.HeartbeatRequest{RoomId: uint64(id), SendPacketSeqId: 2})})

	var sock SocketRecord
	eventually(t, "acks and heartbeats recorded", func() bool {
		rec := f.srv.Record("streamer")
		if len(rec.Sockets) != 1 {
			return false
		}
		sock = rec.Sockets[0]
		return len(sock.Heartbeats) == 2 && len(sock.Acks) == len(acked)
	})
	for i, hb := range sock.Heartbeats {
		if hb.RoomID != uint64(id) || hb.SeqID != int64(i+1) || time.Since(hb.At) > time.Minute {
			t.Errorf("heartbeat %d = %+v", i, hb)
		}
	}
	if len(sock.EnterRoom) != 1 {
		t.Fatalf("%d enter-room frames recorded", len(sock.EnterRoom))
	}
	if e := sock.EnterRoom[0]; e.GetRoomId() != id || e.GetLiveId() != 12 || e.GetIdentity() != "audience" || e.GetEnterUniqueId() != 42 {
		t.Errorf("enter room = %v", e)
	}
	if len(sock.SentLogIDs) < len(acked) || len(sock.SentInternalExt) != len(sock.SentLogIDs) {
		t.Fatalf("sent %d log ids / %d exts, acked %d", len(sock.SentLogIDs), len(sock.SentInternalExt), len(acked))
	}
	for i, a := range sock.Acks {
		if a.LogID != sock.SentLogIDs[i] || a.InternalExt != sock.SentInternalExt[i] {
			t.Errorf("ack %d = %+v, want log id %d and internal_ext %q", i, a, sock.SentLogIDs[i], sock.SentInternalExt[i])
		}
	}
	if sock.Query.Get("cursor") != s.result.GetCursor() || !strings.HasPrefix(sock.Header.Get("Cookie"), "ttwid=") || sock.Refused || sock.Closed {
		t.Errorf("socket record: query %v, cookie %q, refused %v, closed %v", sock.Query, sock.Header.Get("Cookie"), sock.Refused, sock.Closed)
	}
	_ = c.conn.Close(websocket.StatusNormalClosure, "bye")
	eventually(t, "socket marked closed", func() bool { return f.srv.Record("streamer").Sockets[0].Closed })
}

// The socket resumes right after the sign answer's batch, so a client misses nothing and sees
// nothing twice; every message is in Emitted, in order.
func TestServer_SocketResumesAfterSign(t *testing.T) {
	f := start(t, Options{Default: StreamConfig{Rate: 400, HistorySize: 5}})
	c, s := f.dial(f.srv.RoomID("streamer"))
	var got []int64
	for _, w := range s.result.GetMessages() {
		got = append(got, w.GetMsgId())
	}
	for _, w := range c.messages(100) {
		got = append(got, w.GetMsgId())
	}
	em := f.srv.Emitted("streamer")
	if len(em) < len(got) {
		t.Fatalf("emitted %d < received %d", len(em), len(got))
	}
	var want []int64
	for _, e := range em[:len(got)] {
		want = append(want, e.MsgID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("history + socket ids differ from Emitted:\n got %v\nwant %v", got, want)
	}
}

func TestServer_HistoryBatch(t *testing.T) {
	tests := []struct {
		name    string
		history int
		want    int
	}{
		{"default", 0, 10},
		{"three", 3, 3},
		{"none", -1, 0},
		{"more than there is", 50, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, Options{Default: StreamConfig{HistorySize: tt.history}})
			var ids []int64
			for i := range 15 {
				ids = append(ids, f.srv.Inject("streamer", webcast.MethodChat, &pb.ChatMessage{Comment: fmt.Sprint("msg ", i)}))
			}
			s := f.sign(f.srv.RoomID("streamer"))
			var got []int64
			for _, w := range s.result.GetMessages() {
				got = append(got, w.GetMsgId())
			}
			if want := ids[len(ids)-tt.want:]; !slices.Equal(got, want) {
				t.Errorf("history %v, want %v", got, want)
			}
		})
	}
}

// A synthetic room's first sign answer already carries history, starting with the live intro.
func TestServer_SyntheticBacklog(t *testing.T) {
	f := start(t, Options{Default: StreamConfig{Rate: 1, HistorySize: 6}})
	s := f.sign(f.srv.RoomID("streamer"))
	msgs := s.result.GetMessages()
	if len(msgs) != 6 || msgs[0].GetMethod() != webcast.MethodLiveIntro {
		t.Fatalf("first batch: %d messages, first %q; want 6 starting with the live intro", len(msgs), msgs[0].GetMethod())
	}
	for i, w := range msgs {
		if e := f.srv.Emitted("streamer")[i]; e.MsgID != w.GetMsgId() || e.Method != w.GetMethod() {
			t.Errorf("history[%d] = %d %s, Emitted[%d] = %+v", i, w.GetMsgId(), w.GetMethod(), i, e)
		}
	}
}

func TestServer_CaptureReplay(t *testing.T) {
	lines := []capture.Line{
		{Method: "WebcastChatMessage", Payload: []byte{0x1a, 0x02, 'h', 'i'}, DelayMs: 0, MsgID: 7000000000000000001},
		{Method: "WebcastUnknownThing", Payload: []byte("not a protobuf \xff\x00"), DelayMs: 0},
		{Method: "WebcastLikeMessage", Payload: []byte{0x10, 0x05}, DelayMs: 30, MsgID: 7000000000000000009},
		{Method: "WebcastChatMessage", Payload: []byte{}, DelayMs: 20},
	}
	tests := []struct {
		name   string
		loop   bool
		passes int
	}{
		{"once", false, 1},
		{"loop", true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No history, so the socket (resuming at the sign's cursor) gets every line.
			f := start(t, Options{Default: StreamConfig{Capture: lines, Loop: tt.loop, HistorySize: -1}})
			c, _ := f.dial(f.srv.RoomID("streamer"))
			var frames [][]*pb.WireMessage
			for n := 0; n < tt.passes*len(lines); {
				if _, res := c.frame(); res != nil {
					frames = append(frames, res.GetMessages())
					n += len(res.GetMessages())
				}
			}
			got := slices.Concat(frames...)
			seen := map[int64]bool{}
			for i, w := range got[:tt.passes*len(lines)] {
				l := lines[i%len(lines)]
				if w.GetMethod() != l.Method || !bytes.Equal(w.GetPayload(), l.Payload) {
					t.Errorf("message %d = %s %q, want %s %q (byte-for-byte)", i, w.GetMethod(), w.GetPayload(), l.Method, l.Payload)
				}
				if i < len(lines) && l.MsgID != 0 && w.GetMsgId() != l.MsgID {
					t.Errorf("message %d id %d, want the line's %d", i, w.GetMsgId(), l.MsgID)
				}
				if w.GetMsgId() == 0 || seen[w.GetMsgId()] {
					t.Errorf("message %d id %d is zero or repeated", i, w.GetMsgId())
				}
				seen[w.GetMsgId()] = true
			}
			// A line with DelayMs 0 is due with the one before it: lines 0 and 1 share a frame.
			for _, fr := range frames {
				if slices.ContainsFunc(fr, func(w *pb.WireMessage) bool { return w.GetMsgId() == got[0].GetMsgId() }) &&
					!slices.ContainsFunc(fr, func(w *pb.WireMessage) bool { return w.GetMsgId() == got[1].GetMsgId() }) {
					t.Errorf("lines 0 and 1 (due together) went out in different frames")
				}
			}
		})
	}
}

func TestServer_Inject(t *testing.T) {
	f := start(t, Options{})
	id := f.srv.RoomID("streamer")
	c, _ := f.dial(id)
	tests := []struct {
		name   string
		msg    proto.Message
		method string
		wantID int64 // 0: a fresh id
	}{
		{"fills common", &pb.ChatMessage{Comment: "injected"}, webcast.MethodChat, 0},
		{"keeps a set msg id", &pb.GiftMessage{Common: &pb.MessageCommon{MsgId: 7777777777777777777, CreateTimeMs: 1}, GiftId: 5655}, webcast.MethodGift, 7777777777777777777},
		{"no common field", &pb.Image{Urls: []string{"x"}}, "WebcastSomethingElse", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := proto.Clone(tt.msg)
			got := f.srv.Inject("streamer", tt.method, tt.msg)
			if tt.wantID != 0 && got != tt.wantID {
				t.Errorf("id %d, want %d", got, tt.wantID)
			}
			if !proto.Equal(before, tt.msg) {
				t.Errorf("Inject modified the caller's message")
			}
			w := c.messages(1)[0]
			if w.GetMsgId() != got || w.GetMethod() != tt.method {
				t.Fatalf("socket got %d %s, want %d %s", w.GetMsgId(), w.GetMethod(), got, tt.method)
			}
			d, err := webcast.DecodePayload(tt.method, w.GetPayload())
			if err != nil {
				t.Fatal(err)
			}
			if cm, ok := d.(commoner); ok {
				want := &pb.MessageCommon{Method: tt.method, MsgId: got, RoomId: id, CreateTimeMs: cm.GetCommon().GetCreateTimeMs()}
				if tt.wantID != 0 {
					want.CreateTimeMs = 1 // set by the caller: kept
				}
				if !proto.Equal(cm.GetCommon(), want) {
					t.Errorf("common = %v, want %v", cm.GetCommon(), want)
				}
			}
			if em := f.srv.Emitted("streamer"); em[len(em)-1] != (Emitted{MsgID: got, Method: tt.method}) {
				t.Errorf("last emitted %+v", em[len(em)-1])
			}
		})
	}
}

func TestServer_TwoSocketsOneRoom(t *testing.T) {
	f := start(t, Options{Default: StreamConfig{Rate: 300}})
	id := f.srv.RoomID("streamer")
	a, _ := f.dial(id)
	b, _ := f.dial(id)
	// Read both in turn (so neither backs up) until both have seen plenty; from the first id both
	// saw on, they must see the same ids.
	var fromA, fromB []int64
	for len(fromA) < 150 || len(fromB) < 150 {
		for _, c := range []struct {
			ws  *wsClient
			ids *[]int64
		}{{a, &fromA}, {b, &fromB}} {
			if _, res := c.ws.frame(); res != nil {
				for _, w := range res.GetMessages() {
					*c.ids = append(*c.ids, w.GetMsgId())
				}
			}
		}
	}
	common := max(fromA[0], fromB[0])
	ia, ib := slices.Index(fromA, common), slices.Index(fromB, common)
	if ia < 0 || ib < 0 {
		t.Fatalf("no id seen by both:\n a %v\n b %v", fromA, fromB)
	}
	fromA, fromB = fromA[ia:], fromB[ib:]
	n := min(len(fromA), len(fromB))
	if n < 100 || !slices.Equal(fromA[:n], fromB[:n]) {
		t.Errorf("the sockets saw different ids:\n a %v\n b %v", fromA, fromB)
	}
	other, _ := f.dial(f.srv.RoomID("other"))
	for _, w := range other.messages(20) {
		d, _ := webcast.DecodePayload(w.GetMethod(), w.GetPayload())
		if cm, ok := d.(commoner); ok && cm.GetCommon().GetRoomId() != f.srv.RoomID("other") {
			t.Fatalf("room other got a message of room %d", cm.GetCommon().GetRoomId())
		}
	}
}

func TestServer_SocketFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, f *fixture, c *wsClient)
	}{
		{
			name: "abrupt close", fault: Fault{Kind: FaultAbruptClose, AfterMessages: 5},
			check: func(t *testing.T, f *fixture, c *wsClient) {
				msgs, err := c.readUntilClosed()
				if len(msgs) != 5 {
					t.Errorf("%d messages before the close, want 5", len(msgs))
				}
				if websocket.CloseStatus(err) != -1 || isTimeout(err) {
					t.Errorf("err %v: want a dropped connection without a close frame", err)
				}
			},
		},
		{
			name: "garbage frame", fault: Fault{Kind: FaultGarbageFrame, AfterMessages: 3},
			check: func(t *testing.T, f *fixture, c *wsClient) { checkBadFrame(t, c, 3) },
		},
		{
			name: "truncated frame", fault: Fault{Kind: FaultTruncatedFrame, AfterMessages: 2},
			check: func(t *testing.T, f *fixture, c *wsClient) { checkBadFrame(t, c, 2) },
		},
		{
			name: "oversized gzip bomb", fault: Fault{Kind: FaultOversizedFrame, AfterMessages: 1},
			check: func(t *testing.T, f *fixture, c *wsClient) { checkOversized(t, c, 1, false) },
		},
		{
			name: "oversized plain", fault: Fault{Kind: FaultOversizedFrame, AfterMessages: 1, Message: "plain"},
			check: func(t *testing.T, f *fixture, c *wsClient) { checkOversized(t, c, 1, true) },
		},
		{
			name: "stall", fault: Fault{Kind: FaultStall, AfterMessages: 4},
			check: func(t *testing.T, f *fixture, c *wsClient) {
				c.messages(4)
				n := len(f.srv.Emitted("streamer"))
				eventually(t, "the room to go on", func() bool { return len(f.srv.Emitted("streamer")) > n+20 })
				_, err := c.read(300 * time.Millisecond)
				if !isTimeout(err) {
					t.Errorf("read after the stall: %v, want a timeout (nothing sent, socket open)", err)
				}
			},
		},
		{
			name: "stream end", fault: Fault{Kind: FaultStreamEnd, AfterMessages: 3},
			check: func(t *testing.T, f *fixture, c *wsClient) {
				msgs, err := c.readUntilClosed()
				if len(msgs) != 4 {
					t.Fatalf("%d messages, want 3 and the end", len(msgs))
				}
				if m := decodeControl(t, msgs[3]); m.GetAction() != webcast.ControlEnded {
					t.Errorf("action %d, want 3", m.GetAction())
				}
				if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
					t.Errorf("close: %v, want a normal close", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, Options{Default: StreamConfig{Rate: 200, HistorySize: -1}})
			f.srv.AddFault("streamer", tt.fault)
			c, _ := f.dial(f.srv.RoomID("streamer"))
			tt.check(t, f, c)
			// The fault hit one connection only.
			c2, _ := f.dial(f.srv.RoomID("streamer"))
			c2.messages(10)
		})
	}
}

// checkBadFrame expects n good messages, one undecodable frame, then the stream going on.
func checkBadFrame(t *testing.T, c *wsClient, n int) {
	t.Helper()
	good := 0
	for good < n {
		b, err := c.read(waitFor)
		if err != nil {
			t.Fatal(err)
		}
		f, err := webcast.DecodeFrame(b)
		if err != nil {
			t.Fatalf("undecodable frame after %d messages, want after %d", good, n)
		}
		if r, err := webcast.DecodeFetchResult(f.GetPayload()); err == nil && f.GetPayloadType() == webcast.FrameMsg {
			good += len(r.GetMessages())
		}
	}
	b, err := c.read(waitFor)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := webcast.DecodeFrame(b); err == nil {
		t.Fatalf("frame after %d messages decodes; want garbage", n)
	}
	c.messages(5) // the stream goes on
}

func checkOversized(t *testing.T, c *wsClient, n int, plain bool) {
	t.Helper()
	c.messages(n)
	b, err := c.read(waitFor)
	if err != nil {
		t.Fatal(err)
	}
	if plain != (len(b) > oversizedBytes) {
		t.Errorf("frame of %d bytes on the wire (plain=%v)", len(b), plain)
	}
	f, err := webcast.DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	_, err = webcast.DecodeFetchResult(f.GetPayload())
	if plain {
		if len(f.GetPayload()) <= webcast.MaxFrameBytes {
			t.Errorf("payload %d bytes, want above %d", len(f.GetPayload()), webcast.MaxFrameBytes)
		}
	} else if err == nil {
		t.Errorf("gzip bomb decoded; want the inflate limit to reject it")
	}
}

func TestServer_HandshakeRefused(t *testing.T) {
	tests := []struct {
		msg, want string
	}{
		{"", "DEVICE_BLOCKED"},
		{"illegal secret key", "illegal secret key"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			f := start(t, Options{})
			id := f.srv.RoomID("streamer")
			f.srv.AddFault("streamer", Fault{Kind: FaultHandshake, Message: tt.msg})
			u := fmt.Sprintf("%s/webcast/im/ws_proxy/ws_reuse_supplement/?room_id=%d", f.srv.URLs().Web, id)
			// A plain GET with the upgrade headers shows the raw answer: 200, not 101.
			r := f.do(http.MethodGet, strings.TrimPrefix(u, f.srv.URLs().Web), nil, http.Header{
				"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
				"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
			})
			if r.status != http.StatusOK || r.header.Get("Handshake-Msg") != tt.want {
				t.Fatalf("status %d, Handshake-Msg %q; want 200, %q", r.status, r.header.Get("Handshake-Msg"), tt.want)
			}
			rec := f.srv.Record("streamer")
			if len(rec.Sockets) != 1 || !rec.Sockets[0].Refused {
				t.Errorf("socket records %+v, want one refused", rec.Sockets)
			}
			if _, err := f.dialURL("ws"+strings.TrimPrefix(u, "http"), nil); err != nil {
				t.Errorf("second connection (fault used up): %v", err)
			}
		})
	}
}

func TestServer_EndAfter(t *testing.T) {
	f := start(t, Options{Default: StreamConfig{Rate: 300, EndAfter: 25, HistorySize: 4}})
	id := f.srv.RoomID("streamer")
	c, s := f.dial(id)
	msgs, err := c.readUntilClosed()
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("close: %v, want normal", err)
	}
	if len(msgs) == 0 {
		t.Fatal("no messages")
	}
	if m := decodeControl(t, msgs[len(msgs)-1]); m.GetAction() != webcast.ControlEnded {
		t.Errorf("last message action %d, want 3", m.GetAction())
	}
	// 25 live messages after the 4 of history, then the end.
	if got := len(s.result.GetMessages()) + len(msgs); got != 4+25+1 {
		t.Errorf("history + socket = %d messages, want 30", got)
	}
	// The host stays live: the next sign starts a new broadcast with fresh history.
	if _, m := f.getJSON(fmt.Sprintf("/webcast/room/info/?room_id=%d", id)); testutil.Dig(m, "data", "status") != float64(2) {
		t.Errorf("room status after the end: %v", testutil.Dig(m, "data", "status"))
	}
	c2, s2 := f.dial(id)
	if h := s2.result.GetMessages(); len(h) != 4 || h[0].GetMethod() != webcast.MethodLiveIntro {
		t.Errorf("new broadcast's history: %d messages", len(h))
	}
	c2.messages(5)
}

func TestServer_OfflineRoom(t *testing.T) {
	f := start(t, Options{Default: StreamConfig{Rate: 100}})
	// Signing an offline room still gives a socket, which says right away that the stream ended.
	c, s := f.dial(f.srv.RoomID("offline_anna"))
	if len(s.result.GetMessages()) != 0 {
		t.Errorf("offline sign answer has %d messages", len(s.result.GetMessages()))
	}
	msgs, err := c.readUntilClosed()
	if len(msgs) != 1 || decodeControl(t, msgs[0]).GetAction() != webcast.ControlEnded {
		t.Errorf("offline socket sent %v", msgs)
	}
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("close: %v", err)
	}
	// An unknown room behaves the same.
	u, err := f.dialURL(fmt.Sprintf("ws://%s/webcast/im/ws_proxy/ws_reuse_supplement/?room_id=7499999999999999998", f.srv.HostPort()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if msgs, _ := u.readUntilClosed(); len(msgs) != 1 || decodeControl(t, msgs[0]).GetAction() != webcast.ControlEnded {
		t.Errorf("unknown-room socket sent %v", msgs)
	}
}

func TestServer_SetLive(t *testing.T) {
	f := start(t, Options{Default: StreamConfig{Rate: 100}})
	id := f.srv.RoomID("streamer")
	c, _ := f.dial(id)
	c.messages(3)
	f.srv.SetLive("streamer", false)
	msgs, err := c.readUntilClosed()
	if len(msgs) == 0 || decodeControl(t, msgs[len(msgs)-1]).GetAction() != webcast.ControlEnded {
		t.Errorf("going offline did not end the socket with action 3")
	}
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("close: %v", err)
	}
	status := func() any {
		m := sigiRE.FindSubmatch(f.get("/@streamer/live").body)
		if m == nil {
			t.Fatal("no SIGI_STATE")
		}
		return testutil.Dig(jsonObj(t, m[1]), "LiveRoom", "liveRoomUserInfo", "liveRoom", "status")
	}
	if got := status(); got != float64(4) {
		t.Errorf("status after SetLive(false) = %v, want 4", got)
	}
	f.srv.SetLive("streamer", true)
	if got := status(); got != float64(2) || f.srv.RoomID("streamer") != id {
		t.Errorf("status after SetLive(true) = %v, room %d; want 2, %d", got, f.srv.RoomID("streamer"), id)
	}
	c2, _ := f.dial(id)
	c2.messages(3)
}

func TestServer_SetUser(t *testing.T) {
	f := start(t, Options{})
	f.srv.SetUser("vip", UserConfig{Kind: KindRestricted, RoomID: 7412345678901234567, Stream: StreamConfig{Rate: 50}})
	if got := f.srv.RoomID("vip"); got != 7412345678901234567 {
		t.Fatalf("RoomID %d", got)
	}
	_, m := f.getJSON("/webcast/room/info/?room_id=7412345678901234567")
	if testutil.Dig(m, "data", "prompts") == nil {
		t.Errorf("restricted room info = %v", m)
	}
	c, _ := f.dial(7412345678901234567)
	c.messages(5)
	// Reconfigured while a socket is open: the broadcast restarts at the new rate, same socket.
	f.srv.SetUser("vip", UserConfig{RoomID: 7412345678901234567, Stream: StreamConfig{Rate: 0}})
	f.srv.Inject("vip", webcast.MethodChat, &pb.ChatMessage{Comment: "after the change"})
	eventually(t, "the injected message", func() bool {
		for _, w := range c.messages(1) {
			if w.GetMethod() == webcast.MethodChat {
				if cm := new(pb.ChatMessage); proto.Unmarshal(w.GetPayload(), cm) == nil && cm.GetComment() == "after the change" {
					return true
				}
			}
		}
		return false
	})
}

func TestServer_Close(t *testing.T) {
	f := start(t, Options{Default: StreamConfig{Rate: 500}})
	var clients []*wsClient
	for _, u := range []string{"a", "b", "c"} {
		c, _ := f.dial(f.srv.RoomID(u))
		c.messages(1)
		clients = append(clients, c)
	}
	f.srv.AddFault("d", Fault{Kind: FaultStall})
	f.dial(f.srv.RoomID("d"))
	// Close with sockets open: they get a close frame, and (checked by start's cleanup) every
	// goroutine ends.
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		_, err := c.readUntilClosed()
		if websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Errorf("client saw %v, want going away", err)
		}
	}
	if err := f.srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.hc.Get(f.srv.URLs().Web + "/@a/live"); err == nil {
		t.Errorf("server still answers after Close")
	}
}

func jsonObj(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The Python client asks for the echo-protocol subprotocol; the fake accepts what is asked.
func TestServer_SocketSubprotocol(t *testing.T) {
	tests := []struct {
		asked []string
		want  string
	}{
		{nil, ""},
		{[]string{"echo-protocol"}, "echo-protocol"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			f := start(t, Options{})
			id := f.srv.RoomID("streamer")
			// A cursor from before any message: the socket sends everything, however late it subscribes.
			u := fmt.Sprintf("ws://%s/webcast/im/push/v2/?room_id=%d&compress=gzip&cursor=t-0_r-0_d-1_u-1", f.srv.HostPort(), id)
			conn, _, err := websocket.Dial(t.Context(), u, &websocket.DialOptions{Subprotocols: tt.asked, HTTPClient: f.hc})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			if conn.Subprotocol() != tt.want {
				t.Errorf("subprotocol %q, want %q", conn.Subprotocol(), tt.want)
			}
			id2 := f.srv.Inject("streamer", webcast.MethodChat, &pb.ChatMessage{Comment: "hi"})
			c := &wsClient{t: t, conn: conn}
			if w := c.messages(1); w[len(w)-1].GetMsgId() != id2 {
				t.Errorf("got %v, want the injected %d", w, id2)
			}
		})
	}
}

package webcast_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

const testAPIKey = "sk_test_0123456789abcdef"

// startFake starts an in-process fake TikTok with no synthetic traffic (tests inject what they need).
func startFake(t *testing.T, o faketiktok.Options) *faketiktok.Server {
	t.Helper()
	if o.Default.Rate == 0 && o.Default.HistorySize == 0 {
		o.Default.HistorySize = 5
	}
	ctx, cancel := context.WithCancel(context.Background())
	fake, err := faketiktok.Start(ctx, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fake.Close()
		cancel()
	})
	return fake
}

func newClient(t *testing.T, fake *faketiktok.Server) (*webcast.Client, *webcast.EulerSigner) {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	u := fake.URLs()
	c := webcast.New(webcast.Config{WebURL: u.Web, WebcastURL: u.Webcast, HTTPClient: hc})
	return c, &webcast.EulerSigner{BaseURL: u.Sign, APIKey: testAPIKey, HTTPClient: hc}
}

func TestClient_Resolve(t *testing.T) {
	leakcheck.Check(t)
	fake := startFake(t, faketiktok.Options{})
	c, _ := newClient(t, fake)
	tests := []struct {
		input   string
		user    string
		live    bool
		wantErr error
	}{
		{input: "streamer", user: "streamer", live: true},
		{input: "@streamer", user: "streamer", live: true},
		{input: "https://www.tiktok.com/@streamer/live", user: "streamer", live: true},
		{input: "offline_bob", user: "offline_bob", wantErr: webcast.ErrOffline},
		{input: "notfound_carol", user: "notfound_carol", wantErr: webcast.ErrUserNotFound},
		{input: "restricted_dave", user: "restricted_dave", wantErr: webcast.ErrAgeRestricted},
		{input: "blocked_eve", user: "blocked_eve", wantErr: webcast.ErrBlocked},
		{input: "not a name", wantErr: webcast.ErrUserNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			info, err := c.Resolve(context.Background(), tt.input)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve(%q) err = %v, want %v", tt.input, err, tt.wantErr)
				}
				if errors.Is(err, webcast.ErrOffline) {
					// Offline still tells the room id, so a supervisor can poll cheaply.
					if info.RoomID != strconv.FormatInt(fake.RoomID(tt.user), 10) || info.Live {
						t.Errorf("offline info = %+v", info)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.input, err)
			}
			want := strconv.FormatInt(fake.RoomID(tt.user), 10)
			if info.RoomID != want || info.Live != tt.live || info.Username != tt.user {
				t.Errorf("Resolve(%q) = %+v, want room %s live %v", tt.input, info, want, tt.live)
			}
			// The fake's LIVE began 17 minutes ago: the title and start time are read too.
			if ago := time.Since(info.StartedAt); info.Title == "" || ago < 16*time.Minute || ago > 18*time.Minute {
				t.Errorf("Resolve(%q): title %q, started %v ago; want the fake's title and about 17m", tt.input, info.Title, ago)
			}
		})
	}
}

func TestClient_ResolveNetworkFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := webcast.New(webcast.Config{WebURL: "http://" + addr, WebcastURL: "http://" + addr})
	_, err = c.Resolve(context.Background(), "streamer")
	if !errors.Is(err, webcast.ErrNetwork) {
		t.Fatalf("err = %v, want ErrNetwork", err)
	}
	s := &webcast.EulerSigner{BaseURL: "http://" + addr, APIKey: testAPIKey}
	_, err = c.Connect(context.Background(), s, webcast.ConnectRequest{RoomID: "7400000000000000001"})
	if !errors.Is(err, webcast.ErrNetwork) {
		t.Fatalf("sign err = %v, want ErrNetwork", err)
	}
	if strings.Contains(err.Error(), testAPIKey) {
		t.Errorf("error leaks the API key: %v", err)
	}
}

func TestClient_CheckLive(t *testing.T) {
	fake := startFake(t, faketiktok.Options{})
	c, _ := newClient(t, fake)
	room := strconv.FormatInt(fake.RoomID("flipper"), 10)
	for _, live := range []bool{true, false, true} {
		fake.SetLive("flipper", live)
		got, err := c.CheckLive(context.Background(), room)
		if err != nil || got != live {
			t.Fatalf("CheckLive after SetLive(%v) = %v, %v", live, got, err)
		}
	}
}

// collector gathers delivered messages for a test to wait on.
type collector struct{ ch chan webcast.Message }

func newCollector() *collector { return &collector{ch: make(chan webcast.Message, 1024)} }

func (c *collector) deliver(m webcast.Message) { c.ch <- m }

// next waits for the next message, failing the test after a deadline.
func (c *collector) next(t *testing.T) webcast.Message {
	t.Helper()
	select {
	case m := <-c.ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5 s")
		return webcast.Message{}
	}
}

// runSession runs s in the background and returns a channel with Run's result.
func runSession(s *webcast.Session, col *collector) (context.CancelFunc, <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, col.deliver) }()
	return cancel, done
}

func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s")
		return nil
	}
}

// poll waits for cond with a deadline.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, cond, "waiting for %s", what)
}

func chat(text string) *pb.ChatMessage {
	return &pb.ChatMessage{User: &pb.User{Id: 42, UniqueId: "alice", Nickname: "Alice"}, Comment: text}
}

func TestClient_Connect(t *testing.T) {
	leakcheck.Check(t)
	fake := startFake(t, faketiktok.Options{})
	c, signer := newClient(t, fake)
	const user = "streamer"
	room := strconv.FormatInt(fake.RoomID(user), 10)

	// Two messages before we connect: they come back in the sign answer's first batch.
	var before []int64
	for _, text := range []string{"early one", "early two"} {
		before = append(before, fake.Inject(user, webcast.MethodChat, chat(text)))
	}
	s, err := c.Connect(context.Background(), signer, webcast.ConnectRequest{RoomID: room, HeartbeatInterval: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	cancel, done := runSession(s, col)
	defer cancel()

	for _, id := range before {
		m := col.next(t)
		if !m.History || m.MsgID != id || m.Method != webcast.MethodChat {
			t.Fatalf("history message = %v history=%v, want #%d as history", &m, m.History, id)
		}
	}
	// Every typed method arrives decoded, in order, not flagged as history.
	live := []struct {
		method string
		msg    proto.Message
	}{
		{webcast.MethodChat, chat("hello")},
		{webcast.MethodGift, &pb.GiftMessage{GiftId: 5655, RepeatCount: 3, RepeatEnd: 1, GroupId: 99, Gift: &pb.GiftInfo{Id: 5655, Name: "Rose", Type: 1, DiamondCount: 1}}},
		{webcast.MethodLike, &pb.LikeMessage{Count: 15, Total: 300}},
		{webcast.MethodMember, &pb.MemberMessage{Action: 1, MemberCount: 12}},
		{webcast.MethodSocial, &pb.SocialMessage{Action: 1, Common: &pb.MessageCommon{DisplayText: &pb.Text{Key: "pm_main_follow_message_viewer_2"}}}},
		{webcast.MethodRoomUserSeq, &pb.RoomUserSeqMessage{ViewerCount: 77}},
		{webcast.MethodSubNotify, &pb.SubNotifyMessage{SubMonth: 2}},
		{webcast.MethodQuestionNew, &pb.QuestionNewMessage{Question: &pb.Question{Text: "why?"}}},
		{webcast.MethodEmoteChat, &pb.EmoteChatMessage{Emotes: []*pb.Emote{{EmoteId: "e1"}}}},
		{webcast.MethodEnvelope, &pb.EnvelopeMessage{Info: &pb.EnvelopeInfo{DiamondCount: 100, PeopleCount: 5}}},
		{webcast.MethodLiveIntro, &pb.LiveIntroMessage{Description: "hi all"}},
		{webcast.MethodLinkMicBattle, &pb.LinkMicBattleMessage{BattleId: 5, Action: 4}},
		{webcast.MethodLinkMicArmies, &pb.LinkMicArmiesMessage{BattleId: 5}},
		{webcast.MethodControl, &pb.ControlMessage{Action: webcast.ControlPaused}},
		{"WebcastHourlyRankMessage", &pb.ChatMessage{Comment: "raw bytes of a method we have no schema for"}},
	}
	for _, l := range live {
		id := fake.Inject(user, l.method, l.msg)
		m := col.next(t)
		if m.MsgID != id || m.Method != l.method || m.History {
			t.Fatalf("got %v history=%v, want %s#%d", &m, m.History, l.method, id)
		}
		if webcast.KnownMethod(l.method) {
			if m.Decoded == nil || m.Err != nil {
				t.Fatalf("%s not decoded: %v", l.method, m.Err)
			}
			if got, want := proto.MessageName(m.Decoded), proto.MessageName(l.msg); got != want {
				t.Fatalf("%s decoded as %s, want %s", l.method, got, want)
			}
		} else if m.Decoded != nil || len(m.Payload) == 0 {
			t.Fatalf("unknown method %s: decoded %v, %d payload bytes", l.method, m.Decoded, len(m.Payload))
		}
	}

	// What the fake saw: one socket, enter-room with our room id, rising heartbeats, acks for every frame.
	rec := func() faketiktok.SocketRecord {
		r := fake.Record(user)
		if len(r.Sockets) != 1 {
			t.Fatalf("fake saw %d sockets, want 1", len(r.Sockets))
		}
		return r.Sockets[0]
	}
	poll(t, "3 heartbeats", func() bool { return len(rec().Heartbeats) >= 3 })
	sock := rec()
	if len(sock.EnterRoom) != 1 || strconv.FormatInt(sock.EnterRoom[0].GetRoomId(), 10) != room ||
		sock.EnterRoom[0].GetIdentity() != "audience" || sock.EnterRoom[0].GetLiveId() != 12 {
		t.Errorf("enter room = %v", sock.EnterRoom)
	}
	for i, hb := range sock.Heartbeats {
		if strconv.FormatUint(hb.RoomID, 10) != room || hb.SeqID != int64(i+1) {
			t.Errorf("heartbeat %d = room %d seq %d, want room %s seq %d", i, hb.RoomID, hb.SeqID, room, i+1)
		}
	}
	q := sock.Query
	if q.Get("room_id") != room || q.Get("compress") != "gzip" || q.Get("cursor") == "" || len(q["version_code"]) != 2 {
		t.Errorf("socket query = %v", q)
	}
	if !strings.Contains(sock.Header.Get("Cookie"), "ttwid=") || sock.Header.Get("User-Agent") != c.UserAgent() {
		t.Errorf("socket headers: Cookie %q, User-Agent %q", sock.Header.Get("Cookie"), sock.Header.Get("User-Agent"))
	}
	poll(t, "an ack for every frame", func() bool { return len(rec().Acks) >= len(rec().SentLogIDs) })
	sock = rec()
	acked := map[int64]string{}
	for _, a := range sock.Acks {
		acked[a.LogID] = a.InternalExt
	}
	for _, id := range sock.SentLogIDs {
		if ext, ok := acked[id]; !ok || ext == "" {
			t.Errorf("frame log id %d not acked (acks %v)", id, sock.Acks)
		}
	}
	calls := fake.Record(user).SignCalls
	if len(calls) != 1 || calls[0].Header.Get("X-Api-Key") != testAPIKey || !strings.HasSuffix(calls[0].Path, "/connect") {
		t.Errorf("sign calls = %+v", calls)
	}

	cancel()
	if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
	poll(t, "the fake to see the close", func() bool { return rec().Closed })
}

func TestEulerSigner_Sign(t *testing.T) {
	leakcheck.Check(t)
	fake := startFake(t, faketiktok.Options{APIKey: testAPIKey})
	c, signer := newClient(t, fake)
	tests := []struct {
		name    string
		fault   *faketiktok.Fault
		route   webcast.SignRoute
		apiKey  string
		wantErr error
		check   func(t *testing.T, err error)
	}{
		{name: "connect route", route: webcast.RouteConnect},
		{name: "2.0.7 fetch route", route: webcast.RouteFetch},
		{name: "429 with Retry-After", fault: &faketiktok.Fault{Kind: faketiktok.FaultSign429, RetryAfter: 30 * time.Second},
			wantErr: webcast.ErrSignRateLimited, check: func(t *testing.T, err error) {
				at := webcast.RetryAt(err)
				if d := time.Until(at); d < 25*time.Second || d > 35*time.Second {
					t.Errorf("RetryAt in %v, want about 30 s", d)
				}
			}},
		{name: "402", fault: &faketiktok.Fault{Kind: faketiktok.FaultSign402}, wantErr: webcast.ErrSignPayment},
		{name: "5xx", fault: &faketiktok.Fault{Kind: faketiktok.FaultSign5xx}, wantErr: webcast.ErrSignStatus},
		{name: "missing cookie", fault: &faketiktok.Fault{Kind: faketiktok.FaultSignNoCookie}, wantErr: webcast.ErrSignMissingCookie},
		{name: "empty body", fault: &faketiktok.Fault{Kind: faketiktok.FaultSignEmpty}, wantErr: webcast.ErrSignEmpty},
		{name: "wrong API key", apiKey: "sk_wrong_key_000000", wantErr: webcast.ErrSignStatus, check: func(t *testing.T, err error) {
			if strings.Contains(err.Error(), "sk_wrong_key_000000") {
				t.Errorf("error leaks the API key: %v", err)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := "signer" + strconv.Itoa(i)
			room := strconv.FormatInt(fake.RoomID(user), 10)
			if tt.fault != nil {
				fake.AddFault(user, *tt.fault)
			}
			s := *signer
			s.Route = tt.route
			if tt.apiKey != "" {
				s.APIKey = tt.apiKey
			}
			res, err := s.Sign(context.Background(), webcast.SignRequest{RoomID: room, UserAgent: c.UserAgent()})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), testAPIKey) {
					t.Errorf("error leaks the API key: %v", err)
				}
				if tt.check != nil {
					tt.check(t, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Fetch.GetCursor() == "" || res.Fetch.GetWsUrl() == "" || len(res.Cookies) == 0 {
				t.Errorf("sign result = %+v", res)
			}
			calls := fake.Record(user).SignCalls
			wantPath := "/webcast/rooms/" + room + "/connect"
			if tt.route == webcast.RouteFetch {
				wantPath = "/webcast/fetch"
			}
			if len(calls) != 1 || calls[0].Path != wantPath {
				t.Errorf("sign calls = %+v, want one to %s", calls, wantPath)
			}
		})
	}
}

func TestSession_Run_Faults(t *testing.T) {
	leakcheck.Check(t)
	fake := startFake(t, faketiktok.Options{})
	c, signer := newClient(t, fake)
	tests := []struct {
		name       string
		fault      faketiktok.Fault
		connectErr error
		runErr     error
		frameErrs  bool // the session survives bad frames and goes on
	}{
		{name: "handshake refused", fault: faketiktok.Fault{Kind: faketiktok.FaultHandshake}, connectErr: webcast.ErrHandshake},
		{name: "abrupt close", fault: faketiktok.Fault{Kind: faketiktok.FaultAbruptClose, AfterMessages: 1}, runErr: webcast.ErrClosed},
		// Past the read limit on the wire: the socket is given up.
		{name: "oversized frame", fault: faketiktok.Fault{Kind: faketiktok.FaultOversizedFrame, AfterMessages: 1, Message: "plain"}, runErr: webcast.ErrClosed},
		// Small on the wire, past MaxFrameBytes inflated: that frame is dropped, the session goes on.
		{name: "gzip bomb", fault: faketiktok.Fault{Kind: faketiktok.FaultOversizedFrame, AfterMessages: 1}, frameErrs: true},
		{name: "stall", fault: faketiktok.Fault{Kind: faketiktok.FaultStall, AfterMessages: 1}, runErr: webcast.ErrStalled},
		{name: "stream end", fault: faketiktok.Fault{Kind: faketiktok.FaultStreamEnd, AfterMessages: 1}, runErr: webcast.ErrStreamEnded},
		{name: "garbage frame", fault: faketiktok.Fault{Kind: faketiktok.FaultGarbageFrame, AfterMessages: 1}, frameErrs: true},
		{name: "truncated frame", fault: faketiktok.Fault{Kind: faketiktok.FaultTruncatedFrame, AfterMessages: 1}, frameErrs: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := "faulty" + strconv.Itoa(i)
			room := strconv.FormatInt(fake.RoomID(user), 10)
			fake.AddFault(user, tt.fault)
			frameErrs := make(chan error, 16)
			stall := 10 * time.Second // the fake may take a while to build a fault frame (gzip under -race)
			if tt.runErr == webcast.ErrStalled {
				stall = 300 * time.Millisecond
			}
			s, err := c.Connect(context.Background(), signer, webcast.ConnectRequest{
				RoomID: room, StallTimeout: stall, HeartbeatInterval: time.Hour,
				OnFrameError: func(err error) { frameErrs <- err },
			})
			if tt.connectErr != nil {
				if !errors.Is(err, tt.connectErr) {
					t.Fatalf("Connect err = %v, want %v", err, tt.connectErr)
				}
				if tt.connectErr == webcast.ErrHandshake && !strings.Contains(err.Error(), "DEVICE_BLOCKED") {
					t.Errorf("handshake error lacks Handshake-Msg: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			col := newCollector()
			cancel, done := runSession(s, col)
			defer cancel()
			first := fake.Inject(user, webcast.MethodChat, chat("before the fault"))
			// An abrupt close may reset the connection before the frame sent just ahead of it is
			// read (the kernel drops it with the RST), so only the surviving cases wait for it.
			if tt.frameErrs || tt.runErr == webcast.ErrStreamEnded {
				if m := col.next(t); m.MsgID != first {
					t.Fatalf("first message #%d, want #%d", m.MsgID, first)
				}
			}
			if tt.frameErrs {
				select {
				case err := <-frameErrs:
					if !errors.Is(err, webcast.ErrDecode) {
						t.Errorf("frame error = %v, want ErrDecode", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no frame error reported")
				}
				// Keep injecting until a message gets through: the session must survive the bad frame.
				after := fake.Inject(user, webcast.MethodChat, chat("after the fault"))
				for m := col.next(t); m.MsgID != after; m = col.next(t) {
				}
				if st := s.Stats(); st.DecodeErrors == 0 {
					t.Errorf("stats = %+v, want decode errors counted", st)
				}
				cancel()
				if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v, want context.Canceled", err)
				}
				return
			}
			if tt.runErr == webcast.ErrStreamEnded {
				m := col.next(t)
				ctl, ok := m.Decoded.(*pb.ControlMessage)
				if !ok || ctl.GetAction() != webcast.ControlEnded {
					t.Fatalf("last message = %v, want a control message with action 3", &m)
				}
			}
			if err := waitErr(t, done); !errors.Is(err, tt.runErr) {
				t.Fatalf("Run = %v, want %v", err, tt.runErr)
			}
		})
	}
}

func TestClient_LiveStatus(t *testing.T) {
	fake := startFake(t, faketiktok.Options{})
	c, _ := newClient(t, fake)
	for _, live := range []bool{true, false, true} {
		fake.SetLive("flipper", live)
		info, err := c.LiveStatus(context.Background(), "@flipper")
		if err != nil || info.Live != live || info.RoomID != strconv.FormatInt(fake.RoomID("flipper"), 10) {
			t.Fatalf("LiveStatus after SetLive(%v) = %+v, %v", live, info, err)
		}
		if live && (info.Title == "" || info.StartedAt.IsZero()) {
			t.Errorf("LiveStatus of a live host: title %q, startedAt %v; want both", info.Title, info.StartedAt)
		}
	}
	// A new broadcast in a new room: the answer names it.
	fake.SetUser("flipper", faketiktok.UserConfig{Kind: faketiktok.KindLive, RoomID: 7_200_000_000_000_000_001})
	if info, err := c.LiveStatus(context.Background(), "flipper"); err != nil || info.RoomID != "7200000000000000001" || !info.Live {
		t.Errorf("after a new room: %+v, %v", info, err)
	}
	for name, want := range map[string]error{"notfounduser": webcast.ErrUserNotFound, "blockeduser": webcast.ErrBlocked, "a b": webcast.ErrUserNotFound} {
		if _, err := c.LiveStatus(context.Background(), name); !errors.Is(err, want) {
			t.Errorf("LiveStatus(%q) = %v, want %v", name, err, want)
		}
	}
}

package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webhook"
)

const wait = 15 * time.Second

// stack is the whole server in-process against a fake TikTok, over real sockets.
type stack struct {
	t        *testing.T
	fake     *faketiktok.Server
	hub      *hub.Hub
	rooms    *room.Manager
	store    *store.Store
	api      *Server
	srv      *httptest.Server
	url      string
	shutdown chan struct{}
}

type stackOptions struct {
	maxRooms      int
	rate          float64 // synthetic messages per second; 0 = only injected ones
	queueBytes    int
	writeTimeout  time.Duration
	streakTimeout time.Duration
	dataDir       string // "" = the store in memory
	record        bool
	security      Security
	demo          bool
	// webhooks runs a webhook.Service (in memory) following the store; webhooksGuard is its SSRF
	// guard (the zero value refuses loopback receivers).
	webhooks      bool
	webhooksGuard webhook.Guard
	logger        *slog.Logger
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	return newStackWith(t, o, stackHooks{})
}

// stackHooks change what newStackWith builds.
type stackHooks struct {
	config     func(*Config)                   // changes the server's Config
	handler    func(http.Handler) http.Handler // wraps the server's handler
	sendBuffer int                             // the server's socket send buffer; 0 = the system's
}

// newStackWith is newStack with hooks.
func newStackWith(t *testing.T, o stackOptions, hooks stackHooks) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fake, err := faketiktok.Start(ctx, faketiktok.Options{Default: faketiktok.StreamConfig{Rate: o.rate, HistorySize: -1, Seed: 7}})
	if err != nil {
		t.Fatal(err)
	}
	u := fake.URLs()
	h := hub.New(hub.Options{MaxQueueBytes: o.queueBytes})
	deliver := h.Publish
	var wh *webhook.Service
	if o.webhooks {
		wh, err = webhook.Open(ctx, webhook.Options{
			Dispatcher: webhook.DispatcherOptions{Guard: o.webhooksGuard, Logger: o.logger, Schedule: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}},
			Follower:   webhook.FollowerOptions{Coalesce: time.Millisecond},
		})
		if err != nil {
			t.Fatal(err)
		}
		deliver = func(m *event.Encoded) { h.Publish(m); wh.Notify() }
	}
	st, err := store.Open(ctx, store.Options{Dir: o.dataDir, Record: o.record, Deliver: deliver})
	if err != nil {
		t.Fatal(err)
	}
	stopWebhooks := func() {}
	if wh != nil {
		if err := wh.Follow(ctx, st); err != nil {
			t.Fatal(err)
		}
		whCtx, cancelWh := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); wh.Run(whCtx) }()
		stopWebhooks = func() { cancelWh(); <-done; wh.Close() }
	}
	client := webcast.New(webcast.Config{WebURL: u.Web, WebcastURL: u.Webcast})
	rooms := room.NewManager(ctx, room.Config{
		Upstream: client, Signer: &webcast.EulerSigner{BaseURL: u.Sign, Route: webcast.RouteConnect},
		BackoffBase: 20 * time.Millisecond, BackoffCap: 200 * time.Millisecond, LivePoll: 100 * time.Millisecond,
		Recorder: st,
	}, max(o.maxRooms, 1), h, stream.Options{StreakTimeout: o.streakTimeout, Log: st})
	s := &stack{t: t, fake: fake, hub: h, rooms: rooms, store: st, shutdown: make(chan struct{})}
	var once sync.Once
	c := Config{Rooms: rooms, Hub: h, Store: st, Webhooks: wh, Logger: o.logger, Resolver: client, WriteTimeout: o.writeTimeout, Security: o.security, Demo: o.demo,
		Shutdown: func() { once.Do(func() { close(s.shutdown) }) }}
	if hooks.config != nil {
		hooks.config(&c)
	}
	s.api = New(c)
	handler := s.api.Handler()
	if hooks.handler != nil {
		handler = hooks.handler(handler)
	}
	s.srv = httptest.NewUnstartedServer(handler)
	if hooks.sendBuffer > 0 {
		s.srv.Listener = sendBufferListener{s.srv.Listener, hooks.sendBuffer}
	}
	s.srv.Start()
	s.url = s.srv.URL
	t.Cleanup(func() {
		s.api.BeginShutdown()
		rooms.Close()
		stopWebhooks()
		st.Close()
		h.Close()
		s.api.WaitStreams(context.Background())
		s.srv.Close()
		fake.Close()
		cancel()
	})
	return s
}

// do sends a request and decodes the JSON answer.
func (s *stack) do(method, path string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		if err := json.Unmarshal(body, &m); err != nil {
			s.t.Fatalf("%s %s: bad JSON %q: %v", method, path, body, err)
		}
	}
	return resp.StatusCode, m
}

// wsClient is a recording WebSocket client of the stack.
type wsClient struct{ *testutil.WSClient }

func (s *stack) dial(path string) *wsClient {
	s.t.Helper()
	return &wsClient{testutil.DialWS(s.t, testutil.HTTPToWS(s.url)+path)}
}

func (c *wsClient) events() []map[string]any { return c.Events() }

// match finds events by type, username and data values.
func match(evs []map[string]any, typ, user string, data map[string]any) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		if e["type"] != typ || (user != "" && e["username"] != user) {
			continue
		}
		d, _ := e["data"].(map[string]any)
		ok := true
		for k, v := range data {
			if fmt.Sprint(d[k]) != fmt.Sprint(v) {
				ok = false
			}
		}
		if ok {
			out = append(out, e)
		}
	}
	return out
}

func (c *wsClient) await(t *testing.T, typ, user string, data map[string]any) map[string]any {
	t.Helper()
	var found map[string]any
	testutil.Eventually(t, wait, func() bool {
		m := match(c.events(), typ, user, data)
		if len(m) > 0 {
			found = m[0]
		}
		return found != nil
	}, "no %s event for %q with %v; got %d events", typ, user, data, len(c.events()))
	return found
}

// sseClient reads a Server-Sent Events stream.
type sseClient struct {
	mu     sync.Mutex
	events []sseEvent
	done   chan struct{}
	cancel context.CancelFunc
}

type sseEvent struct {
	ID, Type string
	Data     map[string]any
}

func (s *stack) sse(path string) *sseClient {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		s.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(c.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Type != "" {
					c.mu.Lock()
					c.events = append(c.events, ev)
					c.mu.Unlock()
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Type = line[7:]
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[6:]), &ev.Data)
			}
		}
	}()
	s.t.Cleanup(func() { cancel(); <-c.done })
	return c
}

func (c *sseClient) snapshot() []sseEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sseEvent(nil), c.events...)
}

// Injected messages.

var msgTime = time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC).UnixMilli()

func viewer(id int64, handle string) *pb.User {
	return &pb.User{Id: id, UniqueId: handle, Nickname: strings.ToUpper(handle[:1]) + handle[1:]}
}

func chatMsg(i int, text string) *pb.ChatMessage {
	return &pb.ChatMessage{Common: &pb.MessageCommon{CreateTimeMs: msgTime + int64(i)}, User: viewer(1001, "alice"), Comment: text}
}

// giftStep is step count of a Rose streak (gift type 1, 1 diamond); end marks the last step.
func giftStep(i int, user *pb.User, group int64, count int32, end bool) *pb.GiftMessage {
	e := int32(0)
	if end {
		e = 1
	}
	return &pb.GiftMessage{Common: &pb.MessageCommon{CreateTimeMs: msgTime + int64(i)}, GiftId: 5655, RepeatCount: count,
		RepeatEnd: e, GroupId: group, User: user,
		Gift: &pb.GiftInfo{Id: 5655, Type: 1, DiamondCount: 1, Name: "Rose"}}
}

func (s *stack) connect(user string) {
	s.t.Helper()
	code, body := s.do("POST", "/connect/"+user)
	if code != http.StatusOK {
		s.t.Fatalf("connect %s: %d %v", user, code, body)
	}
}

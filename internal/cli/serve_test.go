package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

var listenLine = regexp.MustCompile(`listening on (http://\S+)`)

// TestServe_GracefulShutdown: with clients on every transport attached, a shutdown (POST /shutdown
// or the signal's context) tells each client why, closes WebSockets with 1001, ends SSE streams,
// and Run returns 0 with no goroutine left behind.
func TestServe_GracefulShutdown(t *testing.T) {
	for _, how := range []string{"POST /shutdown", "signal"} {
		t.Run(how, func(t *testing.T) {
			leakcheck.Check(t)
			srv := startServer(t, 20)
			base, exit, cancel, stderr := srv.base, srv.exit, srv.cancel, srv.stderr

			legacy := testutil.DialWS(t, testutil.HTTPToWS(base)+"/")
			v1 := testutil.DialWS(t, testutil.HTTPToWS(base)+"/v1/ws?types=connection_created,connection_closed")
			sse := sseRecorder(t, base+"/v1/events")
			resp, err := http.Post(base+"/connect/streamer", "", nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("connect: %v %v", resp, err)
			}
			resp.Body.Close()
			testutil.Eventually(t, 10*time.Second, func() bool { return strings.Contains(sse.text(), "connection_created") },
				"SSE client never saw connection_created")

			if how == "signal" {
				cancel()
			} else {
				resp, err := http.Post(base+"/shutdown", "", nil)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("shutdown: %v %v", resp, err)
				}
				resp.Body.Close()
			}
			select {
			case code := <-exit:
				if code != 0 {
					t.Fatalf("Run = %d, want 0; stderr %s", code, stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return after shutdown")
			}
			for name, r := range map[string]*testutil.WSClient{"legacy": legacy, "v1": v1} {
				<-r.Done()
				if st := websocket.CloseStatus(r.Err()); st != websocket.StatusGoingAway {
					t.Errorf("%s client: close %v (%v), want 1001", name, st, r.Err())
				}
				if !hasEvent(r.Events(), "connection_closed", "shutdown") {
					t.Errorf("%s client never got connection_closed with reason shutdown", name)
				}
			}
			<-sse.done
			if txt := sse.text(); !strings.Contains(txt, `"reason":"shutdown"`) || !strings.Contains(txt, "event: close\ndata: {\"code\":1001") {
				t.Errorf("SSE stream did not end with connection_closed and a close event:\n%s", tail(txt, 600))
			}
			if _, err := http.Get(base + "/health"); err == nil {
				t.Errorf("the server still answers after shutdown")
			}
		})
	}
}

// runningServer is the whole program, started by Run against its own fake TikTok.
type runningServer struct {
	base   string // http://127.0.0.1:PORT
	exit   chan int
	cancel context.CancelFunc // the signal
	stderr *testutil.SyncBuffer
	stdout *testutil.SyncBuffer
	fake   *faketiktok.Server // the fake TikTok it runs against
}

func startServer(t *testing.T, rate float64, extra ...string) *runningServer {
	t.Helper()
	return startServerWith(t, faketiktok.Options{Default: faketiktok.StreamConfig{Rate: rate}}, extra...)
}

// startServerWith starts the program against a fake with these options; extra are more flags.
func startServerWith(t testing.TB, opts faketiktok.Options, extra ...string) *runningServer {
	t.Helper()
	fakeCtx, stopFake := context.WithCancel(context.Background())
	fake, err := faketiktok.Start(fakeCtx, opts)
	if err != nil {
		t.Fatal(err)
	}
	u := fake.URLs()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout testutil.SyncBuffer
	s := &runningServer{exit: make(chan int, 1), cancel: cancel, stderr: &testutil.SyncBuffer{}, stdout: &stdout, fake: fake}
	go func() {
		args := append([]string{"--sign-url", u.Sign, "--tiktok-web-url", u.Web, "--tiktok-webcast-url", u.Webcast,
			"--listen", "127.0.0.1", "--log-level", "warn", "--data-dir", t.TempDir()}, extra...)
		s.exit <- Run(ctx, append(args, "0"), strings.NewReader(""), &stdout, s.stderr)
	}()
	t.Cleanup(func() { cancel(); fake.Close(); stopFake() })
	testutil.Eventually(t, 10*time.Second, func() bool {
		if m := listenLine.FindStringSubmatch(stdout.String()); m != nil {
			s.base = m[1]
		}
		return s.base != ""
	}, "no listening line; stderr %q", s.stderr.String())
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// recorder keeps the text of an SSE stream.
type recorder struct {
	mu   sync.Mutex
	done chan struct{}
	buf  strings.Builder
}

// hasEvent reports whether msgs hold an event of type typ with data.reason reason.
func hasEvent(msgs []map[string]any, typ, reason string) bool {
	for _, m := range msgs {
		if d, _ := m["data"].(map[string]any); m["type"] == typ && d["reason"] == reason {
			return true
		}
	}
	return false
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func sseRecorder(t *testing.T, url string) *recorder {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			r.mu.Lock()
			r.buf.WriteString(line)
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close(); <-r.done })
	return r
}

// TestTail_PrintsEvents: the tail command follows a running server's stream with filters and
// stops cleanly when the server shuts down (close 1001 is a normal end for it).
func TestTail_PrintsEvents(t *testing.T) {
	leakcheck.Check(t)
	srv := startServer(t, 50)
	base, exit, cancel := srv.base, srv.exit, srv.cancel
	var out, errOut testutil.SyncBuffer
	tailExit := make(chan int, 1)
	go func() {
		tailExit <- Run(context.Background(), []string{"tail", "--server", base, "--types", "connection_created,chat"}, nil, &out, &errOut)
	}()
	testutil.Eventually(t, 10*time.Second, func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var h map[string]any
		json.NewDecoder(resp.Body).Decode(&h)
		return h["wsClients"] == float64(1)
	}, "tail never subscribed")
	resp, err := http.Post(base+"/connect/streamer", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	testutil.Eventually(t, 10*time.Second, func() bool { return strings.Count(out.String(), `"type":"chat"`) >= 2 },
		"tail printed no chat: %q", out.String())
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil || (e["type"] != "chat" && e["type"] != "connection_created") {
			t.Errorf("tail line %q: want one chat or connection_created event (%v)", line, err)
		}
	}
	cancel()
	if code := <-exit; code != 0 {
		t.Errorf("server exit %d", code)
	}
	select {
	case code := <-tailExit:
		if code != 0 {
			t.Errorf("tail exit %d; stderr %q", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not stop when the server shut down")
	}
}

// TestServe_SecretsStayOut: the sign API key never appears in logs (at debug level), answers,
// events or metrics, whether the sign server accepts it or refuses it.
func TestServe_SecretsStayOut(t *testing.T) {
	const key = "sk-live-9f8e7d6c5b4a39281706"
	for _, tt := range []struct {
		name, serverKey string
		wantState       string
	}{
		{"accepted", key, "connected"},
		{"refused", "another-key-entirely", "reconnecting"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leakcheck.Check(t)
			srv := startServerWith(t, faketiktok.Options{APIKey: tt.serverKey, Default: faketiktok.StreamConfig{Rate: 20}},
				"--sign-api-key", key, "--log-level", "debug", "--backoff-base", "50ms")
			events := testutil.DialWS(t, testutil.HTTPToWS(srv.base)+"/")
			var seen strings.Builder
			get := func(method, path string) {
				req, _ := http.NewRequest(method, srv.base+path, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				seen.Write(b)
			}
			get("POST", "/connect/streamer")
			testutil.Eventually(t, 10*time.Second, func() bool {
				var st map[string]any
				req, _ := http.Get(srv.base + "/v1/rooms/streamer")
				json.NewDecoder(req.Body).Decode(&st)
				req.Body.Close()
				return st["state"] == tt.wantState
			}, "room never reached %s", tt.wantState)
			for _, p := range []string{"/status", "/status/streamer", "/v1/rooms", "/v1/rooms/streamer", "/health", "/metrics", "/test/streamer"} {
				get("GET", p)
			}
			srv.cancel()
			<-srv.exit
			<-events.Done()
			for _, m := range events.Events() {
				b, _ := json.Marshal(m)
				seen.Write(b)
			}
			all := seen.String() + srv.stdout.String() + srv.stderr.String()
			if !strings.Contains(srv.stderr.String(), "level=DEBUG") && tt.name == "accepted" {
				t.Errorf("no debug log captured; the check would be empty")
			}
			for _, part := range []string{key, key[len(key)-12:]} {
				if strings.Contains(all, part) {
					t.Errorf("the API key (or its tail %q) appears in logs, answers or events", part)
				}
			}
		})
	}
}

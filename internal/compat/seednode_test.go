//go:build unix

package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/bench"
	"github.com/tiktok-live-server/tiktok-live-server/internal/cli"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

const (
	startTimeout = 3 * time.Minute  // a first seed-node run installs its npm deps
	stepTimeout  = 20 * time.Second // one REST call, one awaited WebSocket event, one exit
	readLimit    = 64 << 20         // WebSocket read limit of the test client

	liveUser    = "streamer"
	otherUser   = "other"
	offlineUser = "offlineuser1"  // the fake answers "offline" for this prefix
	missingUser = "notfounduser1" // ... and "no such user" for this one
	nobody      = "nobody"        // never connected

	baseTimeMs = 1_790_000_000_000 // createTime of the injected messages: fixed, so timestamps compare
)

// streamConfig is every room's stream in both fakes: no synthetic traffic and no history batch,
// so both servers see exactly the injected messages.
var streamConfig = faketiktok.StreamConfig{Rate: 0, Seed: 1, HistorySize: -1}

// lifecycleTypes are the original's events that do not come from a TikTok message.
var lifecycleTypes = map[string]bool{
	"connection_created": true, "connection_closed": true, "disconnected": true, "error": true,
}

// tiktokTypes are the original's events that come from a TikTok message (and carry sender, user).
var tiktokTypes = map[string]bool{"chat": true, "gift": true, "like": true, "member": true, "social": true}

// TestSeedNode_SameContract runs one scripted scenario against the seed-node peer (the original
// server rebuilt) and against our server, each with its own fresh fake TikTok, and checks that a
// client of the original sees the same from both: REST statuses, failure codes and body keys,
// WebSocket event types, keys and the values the contract fixes.
func TestSeedNode_SameContract(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the seed-node peer (Node) and our server side by side")
	}
	required := os.Getenv("REQUIRE_CONFORMANCE") == "1"
	runSh, err := findSeedNode()
	if err == nil {
		_, err = exec.LookPath("node")
	}
	if err != nil {
		if required {
			t.Fatalf("REQUIRE_CONFORMANCE=1 but the seed-node peer cannot run: %v", err)
		}
		t.Skipf("seed-node peer unavailable: %v", err)
	}

	var theirs, ours *transcript
	t.Run("seed-node", func(t *testing.T) { theirs = runScenario(t, &seedTarget{runSh: runSh}) })
	t.Run("go", func(t *testing.T) { ours = runScenario(t, &goTarget{}) })
	if theirs == nil || ours == nil {
		t.Fatalf("a scenario did not complete (seed-node: %v, go: %v); nothing to compare", theirs != nil, ours != nil)
	}
	compare(t, theirs, ours)
	checkInjectedOrder(t, "go", ours.ws)
}

// findSeedNode returns the peer's run.sh: $SEED_NODE_DIR/run.sh, else
// <module root>/../shared/peers/seed-node/run.sh.
func findSeedNode() (string, error) {
	if d := os.Getenv("SEED_NODE_DIR"); d != "" {
		p := filepath.Join(d, "run.sh")
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("SEED_NODE_DIR: %w", err)
		}
		return p, nil
	}
	return testutil.SharedFile("peers/seed-node/run.sh")
}

// ---- Targets: the two servers ----

// target is one server under test.
type target interface {
	name() string
	// start runs the server against the fake and returns its base URL "http://127.0.0.1:PORT".
	// Cleanup stops it (if still running) and waits for it.
	start(t *testing.T, fake *faketiktok.Server) string
	// exitCode waits (stepTimeout) for the server to exit after POST /shutdown.
	exitCode(t *testing.T) int
}

// seedTarget runs the seed-node peer as a child process (in its own process group).
type seedTarget struct {
	runSh          string
	stdout, stderr syncBuffer
	done           chan struct{} // closed when the process was waited for
	waitErr        error         // cmd.Wait's result, set before done is closed
}

func (s *seedTarget) name() string { return "seed-node" }

var seedListening = regexp.MustCompile(`listening on port (\d+)`)

func (s *seedTarget) start(t *testing.T, fake *faketiktok.Server) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), s.runSh, "0")
	cmd.Env = append(bench.EnvWithout(os.Environ(), "SIGN_API_URL", "SIGN_API_KEY", "TIKTOK_HOST_WEB", "TIKTOK_HOST_WEBCAST",
		"DISABLE_EULER_FALLBACKS", "HOST", "PORT", "RETRY_MAX_ATTEMPTS", "RETRY_BASE_MS", "RETRY_MAX_MS", "DEDUP_MAX"),
		"SIGN_API_URL="+fake.URLs().Sign,
		"TIKTOK_HOST_WEB="+fake.HostPort(),
		"TIKTOK_HOST_WEBCAST="+fake.HostPort(),
		"DISABLE_EULER_FALLBACKS=1",
		"HOST=127.0.0.1",
	)
	cmd.Stdout, cmd.Stderr = &s.stdout, &s.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // npm and node go down together
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.runSh, err)
	}
	pgid := cmd.Process.Pid
	s.done = make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = syscall.Kill(-pgid, syscall.SIGKILL) // still running: the scenario failed half-way
		}
		select {
		case <-s.done:
		case <-time.After(stepTimeout):
			t.Errorf("seed-node (pid %d) was not reaped after SIGKILL", pgid)
		}
		if t.Failed() {
			t.Logf("seed-node stdout:\n%s\nseed-node stderr:\n%s", s.stdout.String(), s.stderr.String())
		}
	})

	var port string
	ok := waitFor(startTimeout, &s.stdout.changes, s.done, func() bool {
		if m := seedListening.FindStringSubmatch(s.stdout.String()); m != nil {
			port = m[1]
			return true
		}
		return false
	})
	if !ok {
		select {
		case <-s.done:
			t.Fatalf("seed-node exited before listening (%v)", s.waitErr)
		default:
			t.Fatalf("seed-node did not log its port within %v", startTimeout)
		}
	}
	return "http://127.0.0.1:" + port
}

func (s *seedTarget) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(stepTimeout):
		t.Fatalf("seed-node still running %v after POST /shutdown", stepTimeout)
	}
	var ee *exec.ExitError
	switch {
	case s.waitErr == nil:
		return 0
	case errors.As(s.waitErr, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("seed-node: %v", s.waitErr)
		return -1
	}
}

// goTarget runs our server in-process through cli.Run, as the binary would.
type goTarget struct {
	stdout, stderr syncBuffer
	done           chan struct{} // closed when cli.Run returned
	code           int           // cli.Run's result, set before done is closed
}

func (g *goTarget) name() string { return "go" }

var goListening = regexp.MustCompile(`tiktok-live-server listening on (http://127\.0\.0\.1:\d+)`)

func (g *goTarget) start(t *testing.T, fake *faketiktok.Server) string {
	t.Helper()
	u := fake.URLs()
	args := []string{"--listen", "127.0.0.1", "--sign-url", u.Sign, "--tiktok-web-url", u.Web,
		"--tiktok-webcast-url", u.Webcast, "--data-dir", t.TempDir(), "0"}
	ctx, cancel := context.WithCancel(context.Background())
	g.done = make(chan struct{})
	go func() {
		defer close(g.done)
		g.code = cli.Run(ctx, args, strings.NewReader(""), &g.stdout, &g.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-g.done:
		case <-time.After(stepTimeout):
			t.Errorf("cli.Run did not return within %v of its context being cancelled", stepTimeout)
		}
		if t.Failed() {
			t.Logf("go stdout:\n%s\ngo stderr:\n%s", g.stdout.String(), g.stderr.String())
		}
	})

	var base string
	ok := waitFor(stepTimeout, &g.stdout.changes, g.done, func() bool {
		if m := goListening.FindStringSubmatch(g.stdout.String()); m != nil {
			base = m[1]
			return true
		}
		return false
	})
	if !ok {
		select {
		case <-g.done:
			t.Fatalf("cli.Run %q returned %d before listening; stderr:\n%s", args, g.code, g.stderr.String())
		default:
			t.Fatalf("no %q line on stdout within %v", "tiktok-live-server listening on http://127.0.0.1:PORT", stepTimeout)
		}
	}
	return base
}

func (g *goTarget) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-g.done:
		return g.code
	case <-time.After(stepTimeout):
		t.Fatalf("cli.Run still running %v after POST /shutdown", stepTimeout)
		return -1
	}
}

// ---- Waiting without sleeps ----

// changes lets a waiter block until the next change of something.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// next returns a channel closed by the next notify.
func (c *changes) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

func (c *changes) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// waitFor re-checks cond on every change until it holds (true), the timeout passes or stop is
// closed (false, unless cond holds then).
func waitFor(timeout time.Duration, c *changes, stop <-chan struct{}, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := c.next() // before cond: a change between the two is not lost
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return cond()
		case <-stop:
			return cond()
		}
	}
}

// syncBuffer is a goroutine-safe output buffer that announces writes.
type syncBuffer struct {
	changes
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.b.Write(p)
	b.mu.Unlock()
	b.notify()
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ---- Transcript: what a client of the original saw ----

type restResult struct {
	step, method, path string
	status             int
	body               map[string]any // nil when the body is not a JSON object
	raw                string
}

type transcript struct {
	target    string
	rest      []restResult
	ws        []map[string]any // every WebSocket message, in order
	closeCode websocket.StatusCode
	exitCode  int
}

// wsRecorder reads one WebSocket client's messages in the background.
type wsRecorder struct {
	changes
	mu          sync.Mutex
	msgs        []map[string]any
	bad         []string // frames that are not a JSON object in a text message
	closed      bool
	closeStatus websocket.StatusCode // -1 when the read did not end with a close frame
	closeErr    error
	done        chan struct{}
}

func dialWS(t *testing.T, url string) *wsRecorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
	conn, resp, err := websocket.Dial(ctx, url, nil)
	cancel()
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	conn.SetReadLimit(readLimit)
	r := &wsRecorder{done: make(chan struct{})}
	readCtx, stop := context.WithCancel(context.Background())
	go func() {
		defer close(r.done)
		defer r.notify()
		for {
			typ, b, err := conn.Read(readCtx)
			if err != nil {
				r.mu.Lock()
				r.closed, r.closeStatus, r.closeErr = true, websocket.CloseStatus(err), err
				r.mu.Unlock()
				return
			}
			var m map[string]any
			r.mu.Lock()
			if typ != websocket.MessageText || json.Unmarshal(b, &m) != nil || m == nil {
				r.bad = append(r.bad, fmt.Sprintf("%v frame %q", typ, b))
			} else {
				r.msgs = append(r.msgs, m)
			}
			r.mu.Unlock()
			r.notify()
		}
	}()
	t.Cleanup(func() {
		stop()
		_ = conn.CloseNow()
		<-r.done
	})
	return r
}

func (r *wsRecorder) snapshot() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// matcher selects WebSocket events.
type matcher struct {
	typ, user string
	data      map[string]any // exact data values
}

func (m matcher) String() string {
	s := fmt.Sprintf("%s for %s", m.typ, m.user)
	if len(m.data) > 0 {
		s += fmt.Sprintf(" with data %v", m.data)
	}
	return s
}

func (m matcher) match(ev map[string]any) bool {
	if ev["type"] != m.typ || ev["username"] != m.user {
		return false
	}
	data, _ := ev["data"].(map[string]any)
	for k, v := range m.data {
		if !reflect.DeepEqual(data[k], v) {
			return false
		}
	}
	return true
}

func (r *wsRecorder) count(m matcher) int {
	n := 0
	for _, ev := range r.snapshot() {
		if m.match(ev) {
			n++
		}
	}
	return n
}

// await waits until the client has seen at least n events that match, then checks the data
// values in want on the n-th of them (a wrong value is an error, not a reason to stop).
func (r *wsRecorder) await(t *testing.T, n int, m matcher, want map[string]any) {
	t.Helper()
	if !waitFor(stepTimeout, &r.changes, r.done, func() bool { return r.count(m) >= n }) {
		t.Fatalf("WebSocket: saw %d × %v within %v, want %d; all messages:\n%s", r.count(m), m, stepTimeout, n,
			dump(r.snapshot()))
	}
	var ev map[string]any
	for _, e := range r.snapshot() {
		if m.match(e) {
			if n--; n == 0 {
				ev = e
				break
			}
		}
	}
	data, _ := ev["data"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got, ok := data[k]; !ok || !reflect.DeepEqual(got, want[k]) {
			j, _ := json.Marshal(ev)
			t.Errorf("WebSocket %v: data.%s = %#v, want %#v; event: %s", m, k, got, want[k], j)
		}
	}
}

func dump(msgs []map[string]any) string {
	var b strings.Builder
	for _, m := range msgs {
		j, _ := json.Marshal(m)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// restClient performs the scenario's REST calls and records them.
type restClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	tr   *transcript
}

// want is what the contract fixes for one REST call.
type want struct {
	status int
	code   string         // failures: the body's code
	fields map[string]any // exact top-level values; nil means JSON null
	check  func(body map[string]any) error
}

func (c *restClient) do(step, method, path string, w want) map[string]any {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", step, method, path, err)
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: read body: %v", step, err)
	}
	res := restResult{step: step, method: method, path: path, status: resp.StatusCode, raw: string(raw)}
	if json.Unmarshal(raw, &res.body) != nil {
		res.body = nil
	}
	c.tr.rest = append(c.tr.rest, res)
	t.Logf("%-22s %-6s %-24s → %d %s", step, method, path, res.status, raw)

	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", step, ct)
	}
	if res.body == nil {
		t.Errorf("%s: body is not a JSON object: %q", step, raw)
		return nil
	}
	if res.status != w.status {
		t.Errorf("%s: %s %s gave %d, want %d", step, method, path, res.status, w.status)
	}
	if res.status >= 400 || w.code != "" {
		// Failures: {success:false, code, error, username?}.
		if res.body["success"] != false || res.body["code"] != w.code {
			t.Errorf("%s: success=%v code=%v, want success=false code=%q", step, res.body["success"], res.body["code"], w.code)
		}
		if _, ok := res.body["error"].(string); !ok {
			t.Errorf("%s: error %v is not a string", step, res.body["error"])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(w.fields)) {
		got, ok := res.body[k]
		if !ok {
			t.Errorf("%s: no %q key", step, k)
		} else if !reflect.DeepEqual(got, w.fields[k]) {
			t.Errorf("%s: %s = %#v, want %#v", step, k, got, w.fields[k])
		}
	}
	if w.check != nil {
		if err := w.check(res.body); err != nil {
			t.Errorf("%s: %v", step, err)
		}
	}
	return res.body
}

// ---- The scenario ----

func runScenario(t *testing.T, tg target) *transcript {
	fake, err := faketiktok.Start(t.Context(), faketiktok.Options{Default: streamConfig})
	if err != nil {
		t.Fatalf("fake TikTok: %v", err)
	}
	t.Cleanup(func() {
		if err := fake.Close(); err != nil {
			t.Errorf("fake TikTok: %v", err)
		}
	})
	base := tg.start(t, fake)
	t.Logf("%s listening on %s (fake TikTok on %s)", tg.name(), base, fake.HostPort())

	tr := &transcript{target: tg.name()}
	hcTransport := &http.Transport{}
	t.Cleanup(hcTransport.CloseIdleConnections)
	c := &restClient{t: t, base: base, hc: &http.Client{Transport: hcTransport, Timeout: stepTimeout}, tr: tr}
	ws := dialWS(t, "ws"+strings.TrimPrefix(base, "http")+"/")

	liveRoom := strconv.FormatInt(faketiktok.DeriveRoomID(liveUser), 10)
	otherRoom := strconv.FormatInt(faketiktok.DeriveRoomID(otherUser), 10)
	idle := map[string]any{"success": true, "username": nil, "state": "idle", "connected": false}
	connected := func(user, room string) map[string]any {
		return map[string]any{"success": true, "username": user, "state": "connected", "connected": true, "roomId": room,
			"lastError": nil, "nextRetryAt": nil}
	}
	notCurrent := func(user string) want {
		return want{status: 404, code: "not_current_user", fields: map[string]any{"username": user}}
	}

	// Idle.
	c.do("health idle", "GET", "/health", want{status: 200, fields: map[string]any{
		"status": "ok", "currentUser": nil, "state": "idle", "connected": false, "wsClients": 1.0}})
	c.do("status idle", "GET", "/status", want{status: 200, fields: idle})
	c.do("test live", "GET", "/test/"+liveUser, want{status: 200, fields: map[string]any{
		"success": true, "username": liveUser, "roomId": liveRoom, "isLive": true}})
	c.do("test notfound", "GET", "/test/"+missingUser, want{status: 404, code: "room_not_found",
		fields: map[string]any{"username": missingUser}})
	c.do("status nobody", "GET", "/status/"+nobody, notCurrent(nobody))
	c.do("disconnect nobody", "DELETE", "/connect/"+nobody, notCurrent(nobody))
	c.do("unknown route", "GET", "/nope", want{status: 404, code: "not_found"})
	c.do("wrong method", "GET", "/connect/"+nobody, want{status: 404, code: "not_found"})
	c.do("blank username", "GET", "/status/%20", want{status: 400, code: "bad_username"})

	// An offline user: 404 and an error event.
	c.do("connect offline", "POST", "/connect/"+offlineUser, want{status: 404, code: "user_offline",
		fields: map[string]any{"username": offlineUser}})
	ws.await(t, 1, matcher{typ: "error", user: offlineUser, data: map[string]any{"code": "user_offline"}},
		map[string]any{"retryable": false})
	c.do("status after offline", "GET", "/status", want{status: 200, fields: idle})

	// Connect, then the same user again (also as @name, URL-encoded).
	c.do("connect", "POST", "/connect/"+liveUser, want{status: 200, fields: connected(liveUser, liveRoom),
		check: hasKeys("connectedAt", "attempts", "eventCounts", "duplicatesDropped")})
	ws.await(t, 1, matcher{typ: "connection_created", user: liveUser}, map[string]any{"roomId": liveRoom, "isLive": true})
	again := connected(liveUser, liveRoom)
	again["alreadyConnected"] = true
	c.do("connect again", "POST", "/connect/"+liveUser, want{status: 200, fields: again})
	c.do("connect again %40", "POST", "/connect/%40"+liveUser, want{status: 200, fields: again})
	c.do("status user", "GET", "/status/"+liveUser, want{status: 200, fields: connected(liveUser, liveRoom)})
	c.do("status user @", "GET", "/status/@"+liveUser, want{status: 200, fields: connected(liveUser, liveRoom)})
	c.do("status connected", "GET", "/status", want{status: 200, fields: connected(liveUser, liveRoom)})
	c.do("health connected", "GET", "/health", want{status: 200, fields: map[string]any{
		"status": "ok", "currentUser": liveUser, "state": "connected", "connected": true, "wsClients": 1.0}})

	// TikTok events.
	for _, in := range injections() {
		fake.Inject(liveUser, in.method, in.msg)
	}
	for typ, n := range injectedCounts {
		ws.await(t, n, matcher{typ: typ, user: liveUser}, nil)
	}
	c.do("status after events", "GET", "/status/"+liveUser, want{status: 200, fields: connected(liveUser, liveRoom),
		check: func(body map[string]any) error {
			counts, _ := body["eventCounts"].(map[string]any)
			for typ, n := range injectedCounts {
				if counts[typ] != float64(n) {
					return fmt.Errorf("eventCounts %v, want %s: %d", body["eventCounts"], typ, n)
				}
			}
			return nil
		}})

	// Single-user mode: another user replaces the current one.
	c.do("connect other", "POST", "/connect/"+otherUser, want{status: 200, fields: connected(otherUser, otherRoom)})
	ws.await(t, 1, matcher{typ: "connection_closed", user: liveUser, data: map[string]any{"reason": "replaced"}}, nil)
	ws.await(t, 1, matcher{typ: "connection_created", user: otherUser}, map[string]any{"roomId": otherRoom, "isLive": true})
	c.do("status replaced", "GET", "/status/"+liveUser, notCurrent(liveUser))
	c.do("disconnect other", "DELETE", "/connect/"+otherUser, want{status: 200, fields: map[string]any{
		"success": true, "username": otherUser, "state": "closed"}})
	ws.await(t, 1, matcher{typ: "connection_closed", user: otherUser, data: map[string]any{"reason": "requested"}}, nil)
	c.do("status disconnected", "GET", "/status", want{status: 200, fields: idle})
	c.do("health disconnected", "GET", "/health", want{status: 200, fields: map[string]any{
		"status": "ok", "currentUser": nil, "state": "idle", "connected": false}})

	// Reconnect (as %40name), then the host goes offline: the stream ends.
	c.do("reconnect %40", "POST", "/connect/%40"+liveUser, want{status: 200, fields: connected(liveUser, liveRoom)})
	ws.await(t, 2, matcher{typ: "connection_created", user: liveUser}, map[string]any{"roomId": liveRoom, "isLive": true})
	fake.SetLive(liveUser, false)
	ws.await(t, 1, matcher{typ: "disconnected", user: liveUser, data: map[string]any{"reason": "stream_end"}}, nil)

	// Shutdown: 200, then every client is closed with 1001 and the server exits 0.
	c.do("shutdown", "POST", "/shutdown", want{status: 200, fields: map[string]any{"success": true}})
	if !waitFor(stepTimeout, &ws.changes, ws.done, func() bool {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		return ws.closed
	}) {
		t.Fatalf("WebSocket client still open %v after POST /shutdown", stepTimeout)
	}
	ws.mu.Lock()
	tr.closeCode = ws.closeStatus
	if ws.closeStatus != websocket.StatusGoingAway {
		t.Errorf("WebSocket closed with %v (%v), want 1001 going away", ws.closeStatus, ws.closeErr)
	}
	if len(ws.bad) > 0 {
		t.Errorf("WebSocket frames that are not JSON objects in text messages:\n%s", strings.Join(ws.bad, "\n"))
	}
	ws.mu.Unlock()
	tr.exitCode = tg.exitCode(t)
	if tr.exitCode != 0 {
		t.Errorf("exit code %d after POST /shutdown, want 0", tr.exitCode)
	}
	tr.ws = ws.snapshot()
	checkEvents(t, tr.ws)
	return tr
}

func hasKeys(keys ...string) func(map[string]any) error {
	return func(body map[string]any) error {
		for _, k := range keys {
			if _, ok := body[k]; !ok {
				return fmt.Errorf("no %q key", k)
			}
		}
		return nil
	}
}

// checkEvents checks what the contract says of every event, on each server on its own. Event
// types the original does not have are left to our own tests.
func checkEvents(t *testing.T, evs []map[string]any) {
	t.Helper()
	for i, ev := range evs {
		typ, _ := ev["type"].(string)
		user, _ := ev["username"].(string)
		data, ok := ev["data"].(map[string]any)
		if typ == "" || user == "" || !ok {
			t.Errorf("event %d: type %v, username %v, data %v: want two strings and an object", i, ev["type"], ev["username"], ev["data"])
			continue
		}
		if !lifecycleTypes[typ] && !tiktokTypes[typ] {
			continue
		}
		ts, _ := data["timestamp"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("event %d (%s): data.timestamp %v is not an ISO 8601 UTC time", i, typ, data["timestamp"])
		}
		if lifecycleTypes[typ] {
			continue
		}
		u, ok := data["user"].(map[string]any)
		if !ok || data["sender"] != u["uniqueId"] {
			t.Errorf("event %d (%s): sender %v, user %v: want sender = user.uniqueId", i, typ, data["sender"], data["user"])
		}
	}
}

// ---- The injected TikTok messages ----

type injection struct {
	method string
	msg    proto.Message
}

// injectedCounts is how many events of each type injections() gives.
var injectedCounts = map[string]int{"chat": 1, "gift": 3, "like": 1, "member": 1, "social": 1}

func viewer(id int64, handle, nick string, followStatus int64) *pb.User {
	return &pb.User{
		Id: id, UniqueId: handle, Nickname: nick,
		AvatarThumb: &pb.Image{Urls: []string{
			"https://p16.example/" + handle + "~100x100.webp", "https://p16.example/" + handle + "~100x100.jpeg"}},
		FollowInfo: &pb.FollowInfo{FollowStatus: followStatus, FollowerCount: 12},
	}
}

func common(i int, key, pattern string) *pb.MessageCommon {
	c := &pb.MessageCommon{CreateTimeMs: baseTimeMs + int64(i)*1000}
	if key != "" {
		c.DisplayText = &pb.Text{Key: key, DefaultPattern: pattern}
	}
	return c
}

// injections: a chat, a three-step gift streak, a like, a member join and a follow, as TikTok sends them.
func injections() []injection {
	alice := viewer(6_900_000_000_000_001_001, "alice", "Alice A", 1)
	bob := viewer(6_900_000_000_000_001_002, "bob_b", "Bob 🐝", 2)
	carol := viewer(6_900_000_000_000_001_003, "carol", "Carol", 0)
	dave := viewer(6_900_000_000_000_001_004, "dave.d", "Dave", 0)
	erin := viewer(6_900_000_000_000_001_005, "erin", "Erin ✨", 1)
	host := viewer(7_000_000_000_000_000_001, liveUser, liveUser, 0)
	var rose faketiktok.Gift
	for _, g := range faketiktok.Gifts {
		if g.ID == 5655 {
			rose = g
		}
	}
	img := &pb.Image{Urls: []string{rose.ImageURL()}, Uri: fmt.Sprintf("webcast-va/%d", rose.ID), Width: 135, Height: 135}
	gift := func(i int, count, end int32) injection {
		return injection{webcast.MethodGift, &pb.GiftMessage{
			Common: common(i, "pm_mt_msg_viewer", "{0:user} sent {1:gift} {2:string}"),
			GiftId: rose.ID, FanTicketCount: int64(rose.Diamonds) * int64(count), GroupCount: 1,
			RepeatCount: count, ComboCount: count, User: bob, ToUser: host, RepeatEnd: end, GroupId: 1_700_000_000_001,
			Gift: &pb.GiftInfo{Image: img, Icon: img, Describe: "sent " + rose.Name, Duration: 1000, Id: rose.ID,
				Combo: rose.Type == 1, Type: rose.Type, DiamondCount: rose.Diamonds, Name: rose.Name},
		}}
	}
	return []injection{
		{webcast.MethodChat, &pb.ChatMessage{Common: common(0, "", ""), User: alice,
			Comment: "hello from the compat test 👋", ContentLanguage: "en"}},
		gift(1, 1, 0),
		gift(2, 2, 0),
		gift(3, 3, 1),
		{webcast.MethodLike, &pb.LikeMessage{Common: common(4, "pm_mt_msg_viewer", "{0:user} liked the LIVE"),
			Count: 5, Total: 105, User: carol}},
		{webcast.MethodMember, &pb.MemberMessage{Common: common(5, "live_room_enter_toast", "{0:user} joined"),
			User: dave, MemberCount: 42, Action: 1, UserId: dave.Id}},
		{webcast.MethodSocial, &pb.SocialMessage{
			Common: common(6, "pm_main_follow_message_viewer_2", "{0:user} followed the LIVE creator"),
			User:   erin, Action: 1, FollowCount: 48_214}},
	}
}

// ---- Comparison ----

// reporter is the part of testing.TB that compare uses (so its own test can record the reports).
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

func compare(t reporter, theirs, ours *transcript) {
	t.Helper()
	compareREST(t, theirs, ours)
	compareWS(t, theirs, ours)
	if theirs.closeCode != ours.closeCode {
		t.Errorf("WebSocket close code: seed-node %v, go %v", theirs.closeCode, ours.closeCode)
	}
	if theirs.exitCode != ours.exitCode {
		t.Errorf("exit code after POST /shutdown: seed-node %d, go %d", theirs.exitCode, ours.exitCode)
	}
}

func compareREST(t reporter, theirs, ours *transcript) {
	t.Helper()
	byStep := map[string]restResult{}
	for _, r := range ours.rest {
		byStep[r.step] = r
	}
	for _, r := range theirs.rest {
		o, ok := byStep[r.step]
		if !ok {
			t.Errorf("REST %s: not run against our server", r.step)
			continue
		}
		if r.status != o.status {
			t.Errorf("REST %s (%s %s): status seed-node %d, go %d", r.step, r.method, r.path, r.status, o.status)
		}
		if code, ok := r.body["code"]; ok && code != o.body["code"] {
			t.Errorf("REST %s (%s %s): code seed-node %v, go %v", r.step, r.method, r.path, code, o.body["code"])
		}
		for _, p := range superset("", r.body, o.body) {
			t.Errorf("REST %s (%s %s): %s", r.step, r.method, r.path, p)
		}
	}
}

// jsonKind is the JSON kind of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// superset lists how ours fails to hold every key of theirs with the same JSON kind, recursively
// through objects. null on either side matches any kind (a value legitimately absent).
func superset(path string, theirs, ours map[string]any) []string {
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(theirs)) {
		tv := theirs[k]
		ov, ok := ours[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("key %s%s missing (seed-node: %s)", path, k, jsonKind(tv)))
			continue
		}
		tk, ok2 := jsonKind(tv), jsonKind(ov)
		if tk != ok2 && tk != "null" && ok2 != "null" {
			problems = append(problems, fmt.Sprintf("key %s%s: seed-node %s, go %s", path, k, tk, ok2))
		}
		tm, ok1 := tv.(map[string]any)
		om, ok2m := ov.(map[string]any)
		if ok1 && ok2m {
			problems = append(problems, superset(path+k+".", tm, om)...)
		}
	}
	return problems
}

// typeStats is what one server sent of one event type.
type typeStats struct {
	n               int
	top, data, user map[string]bool
	dataKinds       map[string]map[string]bool // data key -> JSON kinds seen
	first           map[string]any
}

func statsOf(evs []map[string]any) map[string]*typeStats {
	out := map[string]*typeStats{}
	for _, ev := range evs {
		typ, _ := ev["type"].(string)
		s := out[typ]
		if s == nil {
			s = &typeStats{top: map[string]bool{}, data: map[string]bool{}, user: map[string]bool{},
				dataKinds: map[string]map[string]bool{}, first: ev}
			out[typ] = s
		}
		s.n++
		for k := range ev {
			s.top[k] = true
		}
		data, _ := ev["data"].(map[string]any)
		for k, v := range data {
			s.data[k] = true
			if s.dataKinds[k] == nil {
				s.dataKinds[k] = map[string]bool{}
			}
			s.dataKinds[k][jsonKind(v)] = true
		}
		if u, ok := data["user"].(map[string]any); ok {
			for k := range u {
				s.user[k] = true
			}
		}
	}
	return out
}

func missingKeys(theirs, ours map[string]bool) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(theirs)) {
		if !ours[k] {
			out = append(out, k)
		}
	}
	return out
}

func nonNull(kinds map[string]bool) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		if k != "null" {
			out = append(out, k)
		}
	}
	return out
}

func compareWS(t reporter, theirs, ours *transcript) {
	t.Helper()
	ts, us := statsOf(theirs.ws), statsOf(ours.ws)

	// The table: per type, events and key counts (top / data / data.user).
	types := map[string]bool{}
	for k := range ts {
		types[k] = true
	}
	for k := range us {
		types[k] = true
	}
	var tab strings.Builder
	fmt.Fprintf(&tab, "%-20s %-26s %-26s\n", "type", "seed-node n top/data/user", "go n top/data/user")
	cell := func(s *typeStats) string {
		if s == nil {
			return "-"
		}
		return fmt.Sprintf("%d  %d/%d/%d", s.n, len(s.top), len(s.data), len(s.user))
	}
	for _, typ := range slices.Sorted(maps.Keys(types)) {
		fmt.Fprintf(&tab, "%-20s %-26s %-26s\n", typ, cell(ts[typ]), cell(us[typ]))
	}
	t.Logf("WebSocket events by type:\n%s", tab.String())

	for _, typ := range slices.Sorted(maps.Keys(ts)) {
		th, o := ts[typ], us[typ]
		j, _ := json.Marshal(th.first)
		t.Logf("seed-node %s: top %v, data %v, user %v; first: %s", typ, slices.Sorted(maps.Keys(th.top)), slices.Sorted(maps.Keys(th.data)),
			slices.Sorted(maps.Keys(th.user)), j)
		if o == nil {
			t.Errorf("WebSocket: seed-node sent %q events, we sent none", typ)
			continue
		}
		if m := missingKeys(th.top, o.top); len(m) > 0 {
			t.Errorf("WebSocket %s: top-level keys %v missing (seed-node has %v)", typ, m, slices.Sorted(maps.Keys(th.top)))
		}
		if m := missingKeys(th.data, o.data); len(m) > 0 {
			t.Errorf("WebSocket %s: data keys %v missing (seed-node has %v)", typ, m, slices.Sorted(maps.Keys(th.data)))
		}
		if m := missingKeys(th.user, o.user); len(m) > 0 {
			t.Errorf("WebSocket %s: data.user keys %v missing (seed-node has %v)", typ, m, slices.Sorted(maps.Keys(th.user)))
		}
		for _, k := range slices.Sorted(maps.Keys(th.dataKinds)) {
			tk, ok := nonNull(th.dataKinds[k]), nonNull(o.dataKinds[k])
			if len(tk) > 0 && len(ok) > 0 && !reflect.DeepEqual(tk, ok) {
				t.Errorf("WebSocket %s: data.%s is %v from seed-node, %v from us", typ, k, tk, ok)
			}
		}
	}
	compareEvents(t, theirs.ws, ours.ws)
}

// eventKey identifies an event across the two servers: type, username and (for lifecycle
// events) reason or code, plus its occurrence among events with the same key. A TikTok event is
// also keyed by its TikTok time (each injected message has its own), so the seed-node's
// reordering of them (its library decodes asynchronously) does not pair the wrong ones.
func eventKey(ev map[string]any) string {
	data, _ := ev["data"].(map[string]any)
	typ, _ := ev["type"].(string)
	if !lifecycleTypes[typ] {
		return fmt.Sprintf("%v|%v|%v", typ, ev["username"], data["timestamp"])
	}
	return fmt.Sprintf("%v|%v|%v|%v", ev["type"], ev["username"], data["reason"], data["code"])
}

func keyed(evs []map[string]any) []string {
	seen := map[string]int{}
	out := make([]string, len(evs))
	for i, ev := range evs {
		k := eventKey(ev)
		seen[k]++
		out[i] = fmt.Sprintf("%s#%d", k, seen[k])
	}
	return out
}

// compareEvents matches every seed-node event with ours, compares the values the contract fixes
// and checks that the matched events come in the same order.
func compareEvents(t reporter, theirs, ours []map[string]any) {
	t.Helper()
	ourIndex := map[string]int{}
	for i, k := range keyed(ours) {
		ourIndex[k] = i
	}
	last, lastKey := -1, ""
	for i, k := range keyed(theirs) {
		j, ok := ourIndex[k]
		if !ok {
			b, _ := json.Marshal(theirs[i])
			t.Errorf("WebSocket: no counterpart of seed-node event %d (%s): %s", i, k, b)
			continue
		}
		tev, oev := theirs[i], ours[j]
		typ, _ := tev["type"].(string)
		// The lifecycle must come in the same order. TikTok events are only compared by value: the
		// seed-node sometimes reorders them (its library decodes asynchronously); our own order is
		// checked against the injection order below.
		if lifecycleTypes[typ] {
			if j < last {
				t.Errorf("WebSocket: order differs: seed-node sends %s after %s, we send it before", k, lastKey)
			}
			last, lastKey = j, k
		}
		td, _ := tev["data"].(map[string]any)
		od, _ := oev["data"].(map[string]any)
		var skip []string
		if lifecycleTypes[typ] {
			// Server clock, free text, and retry policy (ours may retry where the seed gives up).
			skip = []string{"timestamp", "message", "willRetry"}
			for _, f := range skip[1:] {
				if v, ok := td[f]; ok && !reflect.DeepEqual(v, od[f]) {
					t.Logf("WebSocket %s: data.%s seed-node %#v, go %#v (not compared)", k, f, v, od[f])
				}
			}
		}
		for _, p := range sameValues("data.", td, od, skip) {
			t.Errorf("WebSocket %s: %s", k, p)
		}
	}
}

// checkInjectedOrder: our TikTok events of one connection arrive in the order they were injected.
func checkInjectedOrder(t reporter, name string, evs []map[string]any) {
	t.Helper()
	var got []string
	for _, ev := range evs {
		// TikTok's events only: the server's own (the original's lifecycle events and ours, such
		// as live_started) may come between them.
		if typ, _ := ev["type"].(string); tiktokTypes[typ] && ev["username"] == liveUser && len(got) < len(injections()) {
			got = append(got, typ)
		}
	}
	var want []string
	for _, in := range injections() {
		want = append(want, eventTypeOf(in.method))
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: TikTok events in the order %v, want the injection order %v", name, got, want)
	}
}

// eventTypeOf is the event type of an injected method.
func eventTypeOf(method string) string {
	return map[string]string{
		webcast.MethodChat: "chat", webcast.MethodGift: "gift", webcast.MethodLike: "like",
		webcast.MethodMember: "member", webcast.MethodSocial: "social",
	}[method]
}

// sameValues lists the values of theirs (recursively through objects) that ours does not repeat.
func sameValues(path string, theirs, ours map[string]any, skip []string) []string {
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(theirs)) {
		if slices.Contains(skip, k) {
			continue
		}
		tv, ov := theirs[k], ours[k]
		tm, ok1 := tv.(map[string]any)
		om, ok2 := ov.(map[string]any)
		if ok1 && ok2 {
			problems = append(problems, sameValues(path+k+".", tm, om, nil)...)
			continue
		}
		if !reflect.DeepEqual(tv, ov) {
			problems = append(problems, fmt.Sprintf("%s%s: seed-node %#v, go %#v", path, k, tv, ov))
		}
	}
	return problems
}

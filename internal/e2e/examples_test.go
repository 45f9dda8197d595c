package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// The clients under examples/, each run against a real server fed by the fake TikTok: every event
// that passes their filter (chat, and gifts once complete) printed exactly once, in seq order, with
// no gap across the connection drop they are told to make.

const (
	exampleEvents = 15 // what injectExampleMix sends that passes types=chat,gift&gifts=final
	exampleDrop   = 5  // the clients drop their connection once after this many, then resume
)

// injectExampleMix sends chats (one with non-ASCII text), two gift streaks whose steps the clients
// must not show (only the finished streak) and a single gift: exampleEvents events pass the filter.
func injectExampleMix(fake *faketiktok.Server, room string) {
	n := 0
	chats := func(k int) {
		for range k {
			chat(fake, room, carl, fmt.Sprintf("line %d of the example", n))
			n++
		}
	}
	chats(4)
	streak(fake, room, gina, 1_799_000_000_101, 3)
	chat(fake, room, leo, "café ☕ <b>not bold</b>")
	chats(2)
	single(fake, room, leo, lion)
	chats(3)
	streak(fake, room, gina, 1_799_000_000_102, 2)
	fake.Inject(room, webcast.MethodLike, &pb.LikeMessage{User: carl, Count: 3, Total: 3}) // filtered out
	chats(2)
}

// loggedEvents is the server's own record of the room: its stored chat and gift events minus streak
// steps, in seq order. Every client must have shown exactly these.
func loggedEvents(t *testing.T, s *server, room string) []map[string]any {
	t.Helper()
	resp, err := http.Get(s.base + "/v1/rooms/" + room + "/events?types=chat,gift&format=ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("history line %q: %v", sc.Text(), err)
		}
		if testutil.Dig(ev, "data", "streakState") != "progress" {
			out = append(out, ev)
		}
	}
	if len(out) != exampleEvents {
		t.Fatalf("the server logged %d chat/gift events, want %d", len(out), exampleEvents)
	}
	return out
}

// exampleLines is what the /v1 examples print for events: "seq type user text".
func exampleLines(evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		text := fmt.Sprint(testutil.Dig(ev, "data", "comment"))
		if ev["type"] == "gift" {
			text = fmt.Sprintf("%v x%v", testutil.Dig(ev, "data", "giftName"), testutil.Dig(ev, "data", "repeatCount"))
		}
		out = append(out, fmt.Sprintf("%v %v %v %s", ev["seq"], ev["type"], testutil.Dig(ev, "data", "sender"), text))
	}
	return out
}

// checkLines compares what a client printed with the server's log, and checks that it dropped its
// connection once and resumed with nothing lost (recovered: true).
func checkLines(t *testing.T, got, want []string, notes string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("the client printed\n  %s\nwant (every logged event once, in seq order)\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if strings.Count(notes, "dropping the connection") != 1 || !strings.Contains(notes, "recovered: true") {
		t.Errorf("want one drop and a resume with recovered: true; the client's notes:\n%s", notes)
	}
	t.Logf("client notes:\n%s", notes)
}

// moduleRoot is the repository root, two levels above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

// needTool finds a program the CI machine has: missing, the test fails rather than skips.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (the CI machine has it; install it to run the examples' tests): %v", name, err)
	}
	return p
}

// runExample runs a command-line example against s's quiet room: once it says "connected", the mix
// is injected; it must exit by itself (--max-events) and print what the server logged.
func runExample(t *testing.T, s *server, name string, args ...string) {
	t.Helper()
	args = append(args, "--server", s.base, "--room", quiet,
		"--max-events", fmt.Sprint(exampleEvents), "--drop-after", fmt.Sprint(exampleDrop))
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8")
	var stdout, stderr testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var exitErr error
	done := false
	finished := func() bool { // polled: has the example exited?
		if !done {
			select {
			case exitErr = <-exited:
				done = true
			default:
			}
		}
		return done
	}
	t.Cleanup(func() {
		if !finished() {
			cmd.Process.Kill()
			<-exited
		}
	})
	if !testutil.Poll(wait, func() bool { return strings.Contains(stderr.String(), "connected") || finished() }) || done {
		t.Fatalf("%s did not connect (exited: %v %v); stderr:\n%s", name, done, exitErr, stderr.String())
	}
	injectExampleMix(s.fake, quiet)
	if !testutil.Poll(wait, finished) {
		t.Fatalf("%s did not exit within %v after %d events; stdout:\n%s\nstderr:\n%s", name, wait, exampleEvents, stdout.String(), stderr.String())
	}
	if exitErr != nil {
		t.Fatalf("%s: %v; stderr:\n%s", name, exitErr, stderr.String())
	}
	got := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	checkLines(t, got, exampleLines(loggedEvents(t, s, quiet)), stderr.String())
}

// TestExamples_Go: examples/go (WebSocket /v1/ws, resume with since/epoch).
func TestExamples_Go(t *testing.T) {
	root := moduleRoot(t)
	bin := filepath.Join(t.TempDir(), "go-example")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, needTool(t, "go"), "build", "-o", bin, "./examples/go")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/go: %v\n%s", err, out)
	}
	runExample(t, quietServer(t), bin)
}

// TestExamples_Node: examples/node/client.mjs (SSE over fetch, resume with Last-Event-ID).
func TestExamples_Node(t *testing.T) {
	node := needTool(t, "node")
	runExample(t, quietServer(t), node, filepath.Join(moduleRoot(t), "examples", "node", "client.mjs"))
}

// TestExamples_Python: examples/python/client.py (SSE over urllib, resume with Last-Event-ID).
func TestExamples_Python(t *testing.T) {
	python := needTool(t, "python3")
	runExample(t, quietServer(t), python, filepath.Join(moduleRoot(t), "examples", "python", "client.py"))
}

// examplesOrigin serves the examples folder at /examples/ and proxies everything else (REST and
// both WebSockets) to s, so the pages and the API share the one origin the harness's browser may
// reach. (Served from elsewhere the pages work too: WebSockets need no CORS, and the original
// client's POST is sent in no-cors mode.) It records the API requests the pages make.
type examplesOrigin struct {
	*server
	mu    sync.Mutex
	calls []string
}

func newExamplesOrigin(t *testing.T, s *server) *examplesOrigin {
	t.Helper()
	target, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	o := &examplesOrigin{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	files := http.StripPrefix("/examples/", http.FileServer(http.Dir(filepath.Join(moduleRoot(t), "examples"))))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/examples/") {
			files.ServeHTTP(w, r)
			return
		}
		o.mu.Lock()
		o.calls = append(o.calls, r.Method+" "+r.URL.Path)
		o.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	o.server = &server{fake: s.fake, base: srv.URL, host: strings.TrimPrefix(srv.URL, "http://")}
	return o
}

func (o *examplesOrigin) apiCalls() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls)
}

// TestExamples_Browser: examples/browser (plain browser JavaScript on /v1/ws with resume).
func TestExamples_Browser(t *testing.T) {
	needBrowser(t)
	s := quietServer(t)
	o := newExamplesOrigin(t, s)
	b := newBrowser(t, o.server)
	b.open(fmt.Sprintf("/examples/browser/index.html?server=%s&room=%s&max-events=%d&drop-after=%d",
		url.QueryEscape(o.base), quiet, exampleEvents, exampleDrop))
	status := `document.getElementById('status').textContent`
	b.waitJS("the page connected", status+`.includes('connected')`)
	injectExampleMix(s.fake, quiet)
	b.waitJS("the page done after its events", status+`.includes('done')`)
	got := eval[[]string](b, `[...document.querySelectorAll('#events li')].map(li => li.textContent)`)
	checkLines(t, got, exampleLines(loggedEvents(t, s, quiet)), eval[string](b, status))
	if n := eval[int](b, `document.querySelectorAll('#events b').length`); n != 0 {
		t.Errorf("event text was parsed as HTML (%d <b> elements)", n)
	}
	b.shot("example-browser.png", false)
}

// TestExamples_Original: examples/original/client.html, written against the original server's
// contract only (POST /connect/NAME, the WebSocket at /, a switch on type), works against us.
func TestExamples_Original(t *testing.T) {
	needBrowser(t)
	s := startServer(t, map[string]faketiktok.UserConfig{quiet: {Stream: faketiktok.StreamConfig{Rate: 0, HistorySize: -1}}})
	o := newExamplesOrigin(t, s)
	b := newBrowser(t, o.server)
	b.open("/examples/original/client.html")
	b.run("connect form", chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), quiet),
		chromedp.Click(chromedp.ID("connect")))
	b.waitJS("connected", `document.getElementById('status').textContent.startsWith('connected to @`+quiet+`')`)
	injectExampleMix(s.fake, quiet)
	lines := `[...document.querySelectorAll('#log li')]`
	b.waitJS("every chat and finished gift shown", lines+`.length >= `+fmt.Sprint(exampleEvents)+
		` && `+lines+`.at(-1).textContent.endsWith('line 10 of the example')`)

	var want []string
	for _, ev := range loggedEvents(t, s, quiet) {
		sender := testutil.Dig(ev, "data", "sender")
		if ev["type"] == "chat" {
			want = append(want, fmt.Sprintf("chat %v: %v", sender, testutil.Dig(ev, "data", "comment")))
		} else {
			want = append(want, fmt.Sprintf("gift %v sent %v x%v", sender, testutil.Dig(ev, "data", "giftName"), testutil.Dig(ev, "data", "repeatCount")))
		}
	}
	got := eval[[]string](b, lines+`.filter(li => li.dataset.type !== 'like').map(li => li.dataset.type + ' ' + li.textContent)`)
	if likes := eval[[]string](b, lines+`.filter(li => li.dataset.type === 'like').map(li => li.textContent)`); !slices.Equal(likes, []string{"carl.chat liked x3"}) {
		t.Errorf("like lines %q, want the one like", likes)
	}
	if n := eval[int](b, `document.querySelectorAll('#log b').length`); n != 0 {
		t.Errorf("event text was parsed as HTML (%d <b> elements)", n)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the page shows\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, c := range o.apiCalls() {
		if c != "POST /connect/"+quiet && c != "GET /" && c != "GET /favicon.ico" { // the browser asks for that itself
			t.Errorf("the original client called %q: only POST /connect/NAME and the WebSocket at / existed", c)
		}
	}
	b.shot("example-original.png", false)
}

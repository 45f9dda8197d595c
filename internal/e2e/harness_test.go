package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tiktok-live-server/tiktok-live-server/internal/cli"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// wait bounds every poll: generous, since a loaded CI machine runs chromium slowly.
const wait = 20 * time.Second

// chromiumPath finds the browser: $CHROMIUM if set ("none": act as if there were none), then
// Debian's, then the usual names.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p == "none" {
		return ""
	} else if p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func needBrowser(t *testing.T) string {
	t.Helper()
	p := chromiumPath()
	if p == "" {
		if os.Getenv("REQUIRE_BROWSER") == "1" {
			t.Fatal("e2e: no chromium binary found and REQUIRE_BROWSER=1 (install it: apt-get install -y chromium)")
		}
		t.Skip("e2e: no chromium binary found (apt-get install -y chromium); set REQUIRE_BROWSER=1 to make this a failure")
	}
	if testing.Short() {
		t.Skip("e2e: browser tests do not run with -short")
	}
	return p
}

// outDir is where screenshots go: $E2E_OUT, else a temporary folder (logged).
func outDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("E2E_OUT")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// server is the program under test, against its own fake TikTok.
type server struct {
	fake *faketiktok.Server
	base string // http://127.0.0.1:PORT
	host string // 127.0.0.1:PORT
}

var listenLine = regexp.MustCompile(`listening on (http://\S+)`)

// startServer runs the whole program with cli.Run against the fake, with its event log in a
// temporary directory; extra flags are added to the command line.
func startServer(t *testing.T, users map[string]faketiktok.UserConfig, extra ...string) *server {
	t.Helper()
	fake, err := faketiktok.Start(context.Background(), faketiktok.Options{
		Users:   users,
		Default: faketiktok.StreamConfig{Rate: 8},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	s := &server{fake: fake}
	u := fake.URLs()
	dataDir := t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testutil.SyncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- cli.Run(ctx, append([]string{"--sign-url", u.Sign, "--tiktok-web-url", u.Web, "--tiktok-webcast-url", u.Webcast,
			"--listen", "127.0.0.1", "--max-rooms", "4", "--sign-quota", "0", "--backoff-base", "50ms", "--backoff-max", "500ms",
			"--log-level", "warn", "--data-dir", dataDir}, append(extra, "0")...), strings.NewReader(""), &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exit:
		case <-time.After(15 * time.Second):
			t.Errorf("the server did not stop; stderr %s", stderr.String())
		}
	})
	testutil.Eventually(t, wait, func() bool {
		if m := listenLine.FindStringSubmatch(stdout.String()); m != nil {
			s.base = m[1]
		}
		return s.base != ""
	}, "no listening line; stderr %q", stderr.String())
	s.host = strings.TrimPrefix(s.base, "http://")
	return s
}

// do sends an API request and returns the status.
func (s *server) do(t *testing.T, method, path string) int {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// connect starts watching a room through the API and waits until it is connected.
func (s *server) connect(t *testing.T, name string) {
	t.Helper()
	if code := s.do(t, "PUT", "/v1/rooms/"+name); code != 200 && code != 201 {
		t.Fatalf("PUT /v1/rooms/%s: %d", name, code)
	}
	testutil.Eventually(t, wait, func() bool {
		resp, err := http.Get(s.base + "/v1/rooms/" + name)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"state":"connected"`)
	}, "room %s never connected", name)
}

// browser is one headless chromium tab with a request guard.
type browser struct {
	t   *testing.T
	ctx context.Context
	s   *server
	out string

	mu       sync.Mutex
	offsite  []string // requests to anywhere but the test server (blocked)
	problems []string // JS exceptions and CSP violations
	logs     []string
}

func newBrowser(t *testing.T, s *server) *browser {
	t.Helper()
	exe := needBrowser(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1366, 900),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("no-proxy-server", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout bound to it
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	b := &browser{t: t, ctx: ctx, s: s, out: outDir(t)}
	b.guard()
	t.Cleanup(b.check)
	return b
}

// guard intercepts every request of the tab (the Fetch domain pauses each one): requests to the
// test server continue, anything else is recorded and failed. WebSockets are not paused by Fetch,
// so their creation is checked from the Network events.
func (b *browser) guard() {
	paused := chromedp.Events(b.ctx, fetch.RequestPaused)
	sockets := chromedp.Events(b.ctx, network.WebSocketCreated)
	exceptions := chromedp.Events(b.ctx, runtime.ExceptionThrown)
	entries := chromedp.Events(b.ctx, cdplog.EntryAdded)
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		b.t.Fatalf("enable request interception: %v", err)
	}
	if _, err := chromedp.Call(b.ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		b.t.Fatalf("enable the log domain: %v", err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if b.local(ev.Request.URL) {
				chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			b.note(&b.offsite, ev.Request.URL)
			chromedp.Call(b.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}()
	go func() {
		for ev, err := range sockets {
			if err != nil {
				return
			}
			if !b.local(ev.URL) {
				b.note(&b.offsite, ev.URL)
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			b.note(&b.problems, fmt.Sprintf("exception at %s:%d: %s", ev.ExceptionDetails.URL, ev.ExceptionDetails.LineNumber, msg))
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			line := fmt.Sprintf("[%s] %s %s", ev.Entry.Level, ev.Entry.URL, ev.Entry.Text)
			b.note(&b.logs, line)
			if strings.Contains(ev.Entry.Text, "Content Security Policy") {
				b.note(&b.problems, line)
			}
		}
	}()
}

func (b *browser) note(list *[]string, s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	*list = append(*list, s)
}

// local reports whether a URL stays on the test server (or needs no network at all).
func (b *browser) local(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return true
	case "http", "ws":
		return u.Host == b.s.host
	}
	return false
}

func (b *browser) check() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.offsite) > 0 {
		b.t.Errorf("the pages asked for %d URL(s) off the test server: %q", len(b.offsite), b.offsite)
	}
	if len(b.problems) > 0 {
		b.t.Errorf("the pages had %d problem(s):\n%s", len(b.problems), strings.Join(b.problems, "\n"))
	}
	if b.t.Failed() && len(b.logs) > 0 {
		b.t.Logf("browser log:\n%s", strings.Join(b.logs[max(0, len(b.logs)-40):], "\n"))
	}
}

// run runs actions with the common deadline.
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to a path of the test server.
func (b *browser) open(path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.s.base+path))
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript condition in the page until it is truthy, or fails after the deadline.
func (b *browser) waitJS(what, cond string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+cond+")", chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.t.Fatalf("waiting for %s (%s): %v", what, cond, err)
	}
}

// shot saves a screenshot of the viewport as name under the output folder, and returns its path.
// transparent keeps the page's transparency (overlays), so the PNG shows what OBS composites.
func (b *browser) shot(name string, transparent bool) string {
	b.t.Helper()
	if transparent {
		// cdp.RGBA omits a zero alpha (which then means opaque), so the parameters are spelt out.
		setBackground := cdp.Command[map[string]any, cdp.Empty]{Method: emulation.SetDefaultBackgroundColorOverride.Method}
		if _, err := chromedp.Call(b.ctx, setBackground,
			map[string]any{"color": map[string]any{"r": 0, "g": 0, "b": 0, "a": 0}}); err != nil {
			b.t.Logf("transparent background: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(b.out, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", p)
	return p
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

// contiguous reports whether seqs run n, n+1, n+2, ... with no gap and no repeat.
func contiguous(seqs []int) error {
	if !slices.IsSorted(seqs) {
		return fmt.Errorf("not in order: %v", seqs)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return fmt.Errorf("seq %d follows %d", seqs[i], seqs[i-1])
		}
	}
	return nil
}

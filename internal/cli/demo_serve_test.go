package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

var demoLine = regexp.MustCompile(`demo: open the dashboard at (http://\S+)`)

// TestServe_Demo: `tiktok-live-server --demo` needs no upstream flags: it prints the dashboard URL,
// serves the dashboard, and the demo room's events flow (and are stored, in memory) by themselves. The time
// to the first event is logged, not asserted (timing belongs in benchmarks).
func TestServe_Demo(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	t.Chdir(dir) // where ./data would go
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testutil.SyncBuffer
	exit := make(chan int, 1)
	start := time.Now()
	go func() {
		exit <- Run(ctx, []string{"--demo", "--listen", "127.0.0.1", "--log-level", "warn", "0"},
			strings.NewReader(""), &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-exit; code != 0 {
			t.Errorf("exit %d; stderr %s", code, stderr.String())
		}
	}()
	var dash string
	testutil.Eventually(t, 15*time.Second, func() bool {
		if m := demoLine.FindStringSubmatch(stdout.String()); m != nil {
			dash = m[1]
		}
		return dash != ""
	}, "no dashboard line; stdout %q stderr %q", stdout.String(), stderr.String())
	base := dash[:strings.Index(dash, "/?")]
	resp, err := http.Get(dash)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(page, []byte("<script")) {
		t.Fatalf("dashboard: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var first time.Duration
	testutil.Eventually(t, 15*time.Second, func() bool {
		resp, err := http.Get(base + "/v1/rooms/demo/events?types=chat,gift,like,member,social&format=ndjson")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if first == 0 && len(b) > 0 {
			first = time.Since(start)
		}
		return bytes.Count(b, []byte("\n")) >= 10
	}, "the demo room's events do not flow")
	t.Logf("first demo event stored %v after start", first.Round(time.Millisecond))
	// A demo keeps its history in memory: nothing on disk to fill when it is left running.
	resp, err = http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hz, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(hz, []byte(`"memory":true`)) {
		t.Errorf("demo store not in memory: %s", hz)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("the demo made ./data: %v", err)
	}
	// The simulator is open in demo mode.
	r, err := http.Post(base+"/v1/rooms/demo/simulate", "application/json", strings.NewReader(`{"type":"gift","diamonds":100}`))
	if err != nil || r.StatusCode != http.StatusAccepted {
		t.Fatalf("simulate in demo mode: %v %v", r, err)
	}
	r.Body.Close()
}

package cli

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// TestStartDemo_LivelyStream: the demo's fake answers on the URLs it returns, its room streams every
// kind of event the dashboard shows (a gift streak that ends included), and stop shuts it all down
// with no goroutine left behind.
func TestStartDemo_LivelyStream(t *testing.T) {
	leakcheck.Check(t)
	up, user, stop, err := startDemo(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if user == "" || up.signURL == "" || up.webURL == "" || up.webcastURL == "" {
		t.Fatalf("startDemo = %+v, %q", up, user)
	}
	if err := up.validate(); err != nil {
		t.Fatalf("upstream flags: %v", err)
	}
	resp, err := http.Get(up.webURL + "/@" + user + "/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /@%s/live: %d", user, resp.StatusCode)
	}

	// Watch the room with the real client, as the server would, until every kind has shown up.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- watch(ctx, up, user, 10*time.Second, IO{Stdout: &out, Stderr: &errOut}) }()
	want := []string{`"type":"chat"`, `"streakState":"progress"`, `"streakState":"final"`, `"type":"like"`,
		`"type":"member"`, `"action":"follow"`, `"action":"share"`, `"type":"roomUser"`}
	testutil.Eventually(t, 30*time.Second, func() bool {
		s := out.String()
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	}, "the demo stream lacks some of %q; stderr %q", want, errOut.String())
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop")
	}

	stop()
	stop() // twice is fine
	if resp, err := http.Get(up.webURL + "/@" + user + "/live"); err == nil {
		resp.Body.Close()
		t.Errorf("the fake still answers after stop")
	}
}

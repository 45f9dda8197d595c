package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer = testutil.SyncBuffer

// pollFor waits until cond holds, failing the test after a deadline.
func pollFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, cond, "waiting for %s", what)
}

func TestRun_Usage(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"help"}, 0},
		{[]string{"-h"}, 0},                  // the server's flags
		{[]string{"70000"}, 2},               // not a port
		{[]string{"1", "2"}, 2},              // two ports
		{[]string{"--max-rooms", "0"}, 2},    // at least one room
		{[]string{"--log-format", "xml"}, 2}, // text or json
		{[]string{"serve", "--sign-route", "x"}, 2},
		{[]string{"tail", "extra"}, 2},
		{[]string{"version"}, 0},
		{[]string{"version", "x"}, 2},
		{[]string{"tail", "--server", "ftp://x"}, 2},
		{[]string{"--help"}, 0},
		{[]string{"bogus"}, 2},
		{[]string{"watch"}, 2},                                     // no user
		{[]string{"watch", "a", "b"}, 2},                           // two users
		{[]string{"watch", "-h"}, 0},                               // help is not an error
		{[]string{"watch", "--sign-route", "nope", "streamer"}, 2}, // bad route
		{[]string{"fake-tiktok", "extra"}, 2},
		{[]string{"fake-tiktok", "--fault", "streamer=bogus"}, 2},
		{[]string{"decode", "file.jsonl"}, 2},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if got := Run(context.Background(), tt.args, strings.NewReader(""), &out, &errOut); got != tt.want {
			t.Errorf("Run(%q) = %d, want %d (stderr %q)", tt.args, got, tt.want, errOut.String())
		}
	}
}

// waitExit waits for a command started in the background to exit 0 after its context was cancelled.
func waitExit(t *testing.T, name string, done <-chan int, stderr *syncBuffer) {
	t.Helper()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("%s exited %d: %s", name, code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not stop after cancel", name)
	}
}

// events parses the JSON lines a command printed.
func events(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

func countType(evs []map[string]any, typ string) int {
	n := 0
	for _, e := range evs {
		if e["type"] == typ {
			n++
		}
	}
	return n
}

// checkSeq asserts the events are numbered 1, 2, 3 ... with no gap.
func checkSeq(t *testing.T, evs []map[string]any) {
	t.Helper()
	for i, e := range evs {
		if seq, _ := e["seq"].(float64); int(seq) != i+1 {
			t.Fatalf("event %d has seq %v, want %d", i, e["seq"], i+1)
		}
	}
}

func TestRunWatch_Demo(t *testing.T) {
	leakcheck.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"watch", "--demo", "streamer"}, strings.NewReader(""), &out, &errOut)
	}()
	pollFor(t, "chat and gift events", func() bool {
		s := out.String()
		return strings.Contains(s, `"type":"chat"`) && strings.Contains(s, `"type":"gift"`)
	})
	cancel()
	waitExit(t, "watch --demo", done, &errOut)
	evs := events(t, out.String())
	checkSeq(t, evs)
	if evs[0]["type"] != "connection_created" || evs[len(evs)-1]["type"] != "connection_closed" {
		t.Errorf("first %v, last %v; want connection_created ... connection_closed", evs[0]["type"], evs[len(evs)-1]["type"])
	}
	for _, e := range evs {
		if e["username"] != "streamer" || e["roomId"] == "" {
			t.Fatalf("event without username/roomId: %v", e)
		}
	}
}

// TestRunWatch_FakeCLI runs both commands as a user would in two terminals: the fake prints its
// URLs, watch follows them until the broadcast ends by itself.
func TestRunWatch_FakeCLI(t *testing.T) {
	leakcheck.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var fakeOut, fakeErr syncBuffer
	fakeDone := make(chan int, 1)
	go func() {
		fakeDone <- Run(ctx, []string{"fake-tiktok", "--listen", "127.0.0.1:0", "--rate", "100", "--end-after", "30", "--log-level", "warn"},
			strings.NewReader(""), &fakeOut, &fakeErr)
	}()
	urls := map[string]string{}
	pollFor(t, "the fake's URLs", func() bool {
		for _, line := range strings.Split(fakeOut.String(), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(v, "http://127.0.0.1:") {
				urls[k] = v
			}
		}
		return len(urls) == 3
	})
	var out, errOut syncBuffer
	code := Run(ctx, []string{"watch", "--tiktok-web-url", urls["web"], "--tiktok-webcast-url", urls["webcast"],
		"--sign-url", urls["sign"], "--sign-route", "fetch", "@streamer"}, strings.NewReader(""), &out, &errOut)
	if code != 0 {
		t.Fatalf("watch exited %d: %s", code, errOut.String())
	}
	evs := events(t, out.String())
	checkSeq(t, evs)
	last := evs[len(evs)-1]
	if last["type"] != "disconnected" || last["data"].(map[string]any)["reason"] != "stream_end" {
		t.Errorf("last event %v, want disconnected with reason stream_end", last)
	}
	if n := countType(evs, "streamEnd"); n != 1 {
		t.Errorf("%d streamEnd events, want 1", n)
	}
	cancel()
	waitExit(t, "fake-tiktok", fakeDone, &fakeErr)
}

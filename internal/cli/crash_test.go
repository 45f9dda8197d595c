package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// childEnv makes the test binary run the server instead of the tests (see TestMain), so a test can
// kill a real server process with SIGKILL.
const childEnv = "TLS_TEST_CHILD_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startChild runs the server as a child process (this test binary) and returns its base URL.
func startChild(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append(args, "0")...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				lines <- m[1]
			}
		}
	}()
	select {
	case base := <-lines:
		return cmd, base
	case <-time.After(20 * time.Second):
		t.Fatalf("the child server did not start; stderr %s", stderr.String())
	}
	return nil, ""
}

// TestServe_KillNineKeepsWhatClientsSaw: under load, the server process is killed with SIGKILL.
// After a restart on the same data directory the store opens, every event a client received
// before the kill is readable with the same seq and msgId, and seq goes on in the same epoch
// without reusing a number.
func TestServe_KillNineKeepsWhatClientsSaw(t *testing.T) {
	fake, err := faketiktok.Start(context.Background(), faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 400, HistorySize: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	u := fake.URLs()
	dir := t.TempDir()
	args := []string{"--listen", "127.0.0.1", "--sign-url", u.Sign, "--tiktok-web-url", u.Web, "--tiktok-webcast-url", u.Webcast,
		"--sign-quota", "0", "--log-level", "warn", "--data-dir", dir}

	cmd, base := startChild(t, args...)
	clients := make([]*testutil.WSClient, 3)
	for i := range clients {
		clients[i] = testutil.DialWS(t, testutil.HTTPToWS(base)+"/v1/ws?rooms=loadhost")
	}
	if resp, err := http.Post(base+"/connect/loadhost", "", nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("connect: %v %v", resp, err)
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return len(clients[0].Events()) >= 600 }, "the clients got %d events", len(clients[0].Events()))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for _, c := range clients {
		<-c.Done()
	}

	// What the clients saw: seq → msgId (lifecycle events have none).
	saw := map[uint64]string{}
	var epoch string
	var maxSeq uint64
	for _, c := range clients {
		for _, e := range c.Events() {
			var seq uint64
			fmt.Sscan(fmt.Sprint(e["seq"]), &seq)
			id, _ := e["id"].(string)
			if prev, ok := saw[seq]; ok && prev != id {
				t.Fatalf("seq %d was msgId %q for one client and %q for another", seq, prev, id)
			}
			saw[seq], epoch, maxSeq = id, e["epoch"].(string), max(maxSeq, seq)
		}
	}

	_, base = startChild(t, args...)
	resp, err := http.Get(base + "/v1/rooms/loadhost/events?format=ndjson")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	stored := map[uint64]string{}
	for line := range bytes.Lines(body) {
		var e struct {
			Seq   uint64
			ID    string
			Epoch string
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("stored line %q: %v", line, err)
		}
		if e.Epoch != epoch {
			t.Fatalf("stored event in epoch %s, clients saw %s", e.Epoch, epoch)
		}
		stored[e.Seq] = e.ID
	}
	for seq, id := range saw {
		if got, ok := stored[seq]; !ok || got != id {
			t.Fatalf("seq %d (msgId %q) was delivered before the kill but the log has %q, %v", seq, id, got, ok)
		}
	}
	t.Logf("clients saw %d events up to seq %d; the log kept %d", len(saw), maxSeq, len(stored))

	// The stream goes on after the restart: same epoch, seqs past everything ever delivered.
	after := testutil.DialWS(t, testutil.HTTPToWS(base)+"/v1/ws?rooms=loadhost")
	if resp, err := http.Post(base+"/connect/loadhost", "", nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("reconnect: %v %v", resp, err)
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return len(after.Events()) >= 5 }, "no events after the restart")
	first := after.Events()[0]
	var seq uint64
	fmt.Sscan(fmt.Sprint(first["seq"]), &seq)
	if first["epoch"] != epoch || seq <= maxSeq {
		t.Fatalf("after the restart the first event is seq %d epoch %v; want epoch %s and seq > %d", seq, first["epoch"], epoch, maxSeq)
	}
}

package webhook

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// The crash test runs a dispatcher in a child process (this test binary again, told so by the
// environment) so it can be killed with SIGKILL: no deferred code, no graceful anything.
const (
	crashChildEnv = "WEBHOOK_CRASH_CHILD_DB"
	crashChildUA  = "crash-child"
	restartedUA   = "restarted"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

// crashChild delivers from the queue at path with a fast schedule until it is killed, or until
// its stdin closes (the parent test died) or two minutes pass, so it never outlives the test.
func crashChild(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() { // owned by the process: it ends with it
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	q, err := OpenSQLite(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer q.Close()
	d, err := NewDispatcher(crashOptions(q, crashChildUA))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	_ = d.Run(ctx)
	return 0
}

// crashOptions: a fast schedule, and a timeout long enough that a slow machine does not turn a
// 2xx into a timed-out attempt (which would be resent, rightly, and fail the exactly-once count).
func crashOptions(q Queue, ua string) DispatcherOptions {
	schedule := make([]time.Duration, 30)
	for i := range schedule {
		schedule[i] = 50 * time.Millisecond
	}
	return DispatcherOptions{Queue: q, Guard: Guard{AllowPrivate: true}, Schedule: schedule, Jitter: func(d time.Duration) time.Duration { return d },
		Timeout: 3 * time.Second, Lease: 4 * time.Second, PollInterval: 100 * time.Millisecond, UserAgent: ua}
}

// crashReceiver counts, per endpoint path and webhook-id, every request and every 2xx it gave.
// Endpoint a answers 500 to a first attempt and 200 after; endpoint b answers 500 to the child
// (however late its requests arrive) and 200 to the restarted dispatcher.
type crashReceiver struct {
	mu       sync.Mutex
	secrets  map[string]string // path -> secret
	requests map[string][]string
	ok       map[string]int
	badSigs  int
	afterOK  int // requests for a key that already got a 2xx
}

func (rc *crashReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get(HeaderID)
	key := r.URL.Path + " " + id
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if Verify(rc.secrets[r.URL.Path], r.Header, body, time.Now(), 0) != nil {
		rc.badSigs++
	}
	if rc.ok[key] > 0 {
		rc.afterOK++
	}
	rc.requests[key] = append(rc.requests[key], r.UserAgent())
	status := http.StatusInternalServerError
	switch {
	case r.URL.Path == "/a" && len(rc.requests[key]) > 1:
		status = http.StatusOK
	case r.URL.Path == "/b" && r.UserAgent() == restartedUA:
		status = http.StatusOK
	}
	if status == http.StatusOK {
		rc.ok[key]++
	}
	w.WriteHeader(status)
}

func (rc *crashReceiver) attempts(key string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.requests[key])
}

func TestDispatcher_KillMidRetry(t *testing.T) {
	leakcheck.Check(t)
	if testing.Short() {
		t.Skip("starts a child process")
	}
	rc := &crashReceiver{secrets: map[string]string{}, requests: map[string][]string{}, ok: map[string]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	ctx := t.Context()
	path := filepath.Join(t.TempDir(), FileName)
	q, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	a := addEndpoint(t, q, srv.URL+"/a", Filter{})
	b := addEndpoint(t, q, srv.URL+"/b", Filter{})
	rc.secrets["/a"], rc.secrets["/b"] = a.Secret, b.Secret
	const n = 12
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("msg_%02d", i))
		if _, err := q.Enqueue(ctx, time.Now(), delivery(a.ID, ids[i]), delivery(b.ID, ids[i])); err != nil {
			t.Fatal(err)
		}
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), crashChildEnv+"="+path)
	stdin, err := child.StdinPipe() // closed by Wait; its EOF stops a child we failed to kill
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			child.Process.Kill()
			child.Wait()
		}
	}()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child: %q, %v", line, err)
	}

	// Kill it mid-retry: every a delivered and committed (so no 2xx can be lost with the child),
	// every b failed at least twice, retries pending and some in flight.
	testutil.Eventually(t, 60*time.Second, func() bool {
		ds, err := q.Deliveries(ctx, ListFilter{EndpointID: a.ID, States: []State{StateDelivered}})
		if err != nil || len(ds) != n {
			return false
		}
		for _, id := range ids {
			if rc.attempts("/b "+id) < 2 {
				return false
			}
		}
		return true
	}, "child delivered every a and retried every b")
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed = true
	child.Wait() // "signal: killed"
	t.Logf("killed the child after %d attempts to b", func() (s int) {
		for _, id := range ids {
			s += rc.attempts("/b " + id)
		}
		return
	}())

	// Restart: a new dispatcher on the same file.
	startDispatcher(t, q, SystemClock{}, crashOptions(q, restartedUA))
	testutil.Eventually(t, 60*time.Second, func() bool {
		ds, err := q.Deliveries(ctx, ListFilter{EndpointID: b.ID, States: []State{StateDelivered}})
		return err == nil && len(ds) == n
	}, "every b delivered after the restart")

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.badSigs != 0 {
		t.Errorf("%d requests did not verify", rc.badSigs)
	}
	if rc.afterOK != 0 {
		t.Errorf("%d requests for webhooks already answered 2xx", rc.afterOK)
	}
	if len(rc.requests) != 2*n {
		t.Errorf("the receiver saw %d (endpoint, id) pairs, want %d: an id changed across attempts", len(rc.requests), 2*n)
	}
	for _, id := range ids {
		for _, p := range []string{"/a", "/b"} {
			key := p + " " + id
			if rc.ok[key] != 1 {
				t.Errorf("%s: %d 2xx answers, want exactly 1", key, rc.ok[key])
			}
		}
		uas := rc.requests["/b "+id]
		if uas[0] != crashChildUA || uas[len(uas)-1] != restartedUA {
			t.Errorf("b %s attempts by %v: want the child's first and the restarted dispatcher's last", id, uas)
		}
		for _, ua := range rc.requests["/a "+id] {
			if ua != crashChildUA {
				t.Errorf("a %s was sent again after the restart", id)
			}
		}
	}
}

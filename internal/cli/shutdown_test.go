package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// storeStats reads the event log's counters from /healthz.
func storeStats(t *testing.T, base string) store.Stats {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct{ Store store.Stats }
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h.Store
}

var notCommittedLine = regexp.MustCompile(`level=WARN msg="shutdown: queued events not committed to the event log[^"]*".* dropped=(\d+)`)

// TestServe_ShutdownBounded: the event log's writer is stuck (another connection holds the
// database's write lock, as a backup or a sqlite3 shell in a transaction would) with events
// queued. A shutdown still returns within --shutdown-timeout, logs at warn level how many events
// it could not commit, and leaves a log that opens with every event a client received.
func TestServe_ShutdownBounded(t *testing.T) {
	leakcheck.Check(t)
	const timeout = time.Second
	dir := t.TempDir()
	srv := startServer(t, 500, "--data-dir", dir, "--shutdown-timeout", timeout.String(), "--sign-quota", "0")
	client := testutil.DialWS(t, testutil.HTTPToWS(srv.base)+"/v1/ws?rooms=streamer")
	resp, err := http.Post(srv.base+"/connect/streamer", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("connect: %v %v", resp, err)
	}
	resp.Body.Close()
	testutil.Eventually(t, 10*time.Second, func() bool { return len(client.Events()) >= 20 }, "the client got no events")

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "events.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			lock.ExecContext(context.Background(), "ROLLBACK")
			lock.Close()
			db.Close()
		}
	}
	t.Cleanup(unlock) // before the server's cleanup: a server that ignores the timeout can then finish
	testutil.Eventually(t, 10*time.Second, func() bool { return storeStats(t, srv.base).Pending >= 300 }, "no backlog built up")

	start := time.Now()
	srv.cancel() // the signal
	select {
	case code := <-srv.exit:
		if code != 0 {
			t.Fatalf("Run = %d, want 0; stderr:\n%s", code, srv.stderr.String())
		}
	case <-time.After(timeout + 4*time.Second): // generous: only an unbounded shutdown takes this long
		t.Fatalf("Run did not return %v after the shutdown began (--shutdown-timeout %v); stderr:\n%s",
			time.Since(start), timeout, tail(srv.stderr.String(), 2000))
	}
	t.Logf("shutdown took %v", time.Since(start))
	logs := srv.stderr.String()
	m := notCommittedLine.FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no warning of the events not committed; stderr:\n%s", tail(logs, 2000))
	}
	t.Logf("%s", m[0])
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Errorf("warning says 0 events dropped: %s", m[0])
	}
	<-client.Done()

	// The log opens, and holds every event the client received; its position is past them, so
	// the next start reuses no seq the client saw.
	unlock()
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen the log: %v", err)
	}
	defer st.Close()
	stored := map[uint64]bool{}
	if _, err := st.Events(context.Background(), store.Query{Room: "streamer"}, func(r *store.Row) error {
		stored[r.Seq] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pos, err := st.Position(context.Background(), "streamer")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range client.Events() {
		var seq uint64
		fmt.Sscan(fmt.Sprint(e["seq"]), &seq)
		if !stored[seq] || seq > pos.Seq {
			t.Fatalf("the client received seq %d, which the log does not hold (stored %v) or the position %d does not cover", seq, stored[seq], pos.Seq)
		}
	}
}

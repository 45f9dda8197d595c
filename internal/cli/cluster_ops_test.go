package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/cluster"
	"github.com/tiktok-live-server/tiktok-live-server/internal/cluster/clustertest"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webhook"
)

// startChildLogged is startChild that also keeps the child's stderr and logs its tail when the
// test fails.
func startChildLogged(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd, base, _ := startChildWithLog(t, args...)
	return cmd, base
}

// startChildWithLog is startChildLogged that also returns the child's stderr as it grows.
func startChildWithLog(t *testing.T, args ...string) (*exec.Cmd, string, *testutil.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append(args, "0")...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testutil.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("child stderr (tail):\n%s", tailLines(stderr.String(), 60))
		}
		if f := os.Getenv("CLUSTER_DEBUG_LOG"); f != "" {
			_ = os.WriteFile(f, []byte(stderr.String()), 0o600)
		}
	})
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
		return cmd, base, stderr
	case <-time.After(30 * time.Second):
		t.Fatalf("the child server did not start; stderr %s", stderr.String())
	}
	return nil, "", nil
}

// tailLines is the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// readyz is GET /readyz: the status code and the error code of a JSON error answer.
func readyz(base string) (int, string) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var body struct {
		Success *bool  `json:"success"`
		Code    string `json:"code"`
		Error   string `json:"error"`
		Status  string `json:"status"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil {
		return resp.StatusCode, "<not JSON>"
	}
	if resp.StatusCode != http.StatusOK && (body.Success == nil || *body.Success || body.Error == "") {
		return resp.StatusCode, "<not the error shape>"
	}
	return resp.StatusCode, body.Code
}

// natsNodeArgs are the flags of a server process that joins the NATS at natsURL as node id,
// pointed at fake, with a 3 s lease; extra flags come last (a flag given twice: the last wins).
func natsNodeArgs(t *testing.T, fake *faketiktok.Server, natsURL, id string, extra ...string) []string {
	u := fake.URLs()
	return append([]string{"--listen", "127.0.0.1", "--sign-url", u.Sign, "--tiktok-web-url", u.Web, "--tiktok-webcast-url", u.Webcast,
		"--sign-quota", "0", "--log-level", "info", "--data-dir", t.TempDir(), "--max-rooms", "20",
		"--nats-url", natsURL, "--node-id", id, "--lease-ttl", "3s", "--shutdown-timeout", "5s"}, extra...)
}

// TestCluster_ReadyzFollowsNATS: a node's /readyz follows its NATS connection, and after NATS
// comes back the node works again by itself: a room put then is claimed, connects and its events
// are stored.
func TestCluster_ReadyzFollowsNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server process")
	}
	fake, err := faketiktok.Start(context.Background(), faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 40, HistorySize: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	nats := clustertest.Start(t, 1)
	_, base := startChildLogged(t, natsNodeArgs(t, fake, nats.URLs()[0], "solo", "--max-rooms", "5")...)
	solo := &clusterNodeProc{id: "solo", base: base}

	waitReady := func(wantStatus int, wantCode, when string) {
		t.Helper()
		var status int
		var code string
		if !testutil.Poll(30*time.Second, func() bool {
			status, code = readyz(base)
			return status == wantStatus && code == wantCode
		}) {
			t.Fatalf("%s: /readyz answers %d %q, want %d %q", when, status, code, wantStatus, wantCode)
		}
	}
	waitReady(http.StatusOK, "", "at the start")
	// bob runs across the outage: its owner cannot renew the lease, stops it (self-fence), and
	// claims it again once NATS is back.
	putRoom(t, solo, "bob")
	waitOwned(t, []*clusterNodeProc{solo}, []string{"bob"}, 30*time.Second)
	testutil.Eventually(t, 30*time.Second, func() bool { return len(history(t, solo, "bob")) >= 10 }, "bob's events stored before the outage")

	nats.Kill(0)
	waitReady(http.StatusServiceUnavailable, "not_ready", "NATS down")
	// The outage outlasts the lease (3 s): /readyz keeps answering 503 all along.
	for end := time.Now().Add(7 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) { // sampling, not synchronisation
		if status, code := readyz(base); status != http.StatusServiceUnavailable || code != "not_ready" {
			t.Fatalf("NATS down: /readyz answered %d %q", status, code)
		}
	}
	bobBefore := len(history(t, solo, "bob"))

	nats.Restart(t, 0)
	waitReady(http.StatusOK, "", "NATS back")

	// The node recovered by itself: a room put now is claimed and connects, and its events are
	// archived into the store (one epoch, seq 1, 2, 3 ... no gap); bob is claimed again and goes on.
	putRoom(t, solo, "alice")
	owners := waitOwned(t, []*clusterNodeProc{solo}, []string{"alice", "bob"}, 30*time.Second)
	if owners["alice"] != "solo" || owners["bob"] != "solo" {
		t.Fatalf("owners %v, want solo for both", owners)
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return len(history(t, solo, "alice")) >= 20 }, "alice's events stored after NATS came back")
	testutil.Eventually(t, 30*time.Second, func() bool { return len(history(t, solo, "bob")) >= bobBefore+20 }, "bob's events going on after NATS came back")
	checkChain(t, "alice on solo", history(t, solo, "alice"))
	checkChain(t, "bob on solo", history(t, solo, "bob"))

	var info struct {
		Node   string            `json:"node"`
		Owners map[string]string `json:"owners"`
		Nodes  []struct {
			ID string `json:"id"`
		} `json:"nodes"`
	}
	if !testutil.Poll(10*time.Second, func() bool {
		return tryJSON(base+"/v1/cluster", &info) && info.Node == "solo" && info.Owners["alice"] == "solo" &&
			len(info.Nodes) == 1 && info.Nodes[0].ID == "solo"
	}) {
		t.Fatalf("GET /v1/cluster does not name node solo as alice's owner: %+v", info)
	}
}

// startClusterNodesEach is startClusterNodes with extra flags per node (extra[i] for node i+1).
// Its cleanup also resumes a node the test left stopped (SIGSTOP) before killing it.
func startClusterNodesEach(t *testing.T, fake *faketiktok.Server, extra [][]string) []*clusterNodeProc {
	t.Helper()
	n := len(extra)
	u := fake.URLs()
	routes := clustertest.FreePorts(t, n)
	clients := clustertest.FreePorts(t, n)
	nodes := make([]*clusterNodeProc, n)
	lines := make(chan [2]string, n)
	for i := range n {
		var others []string
		for j, p := range routes {
			if j != i {
				others = append(others, fmt.Sprintf("127.0.0.1:%d", p))
			}
		}
		id := fmt.Sprintf("node%d", i+1)
		args := append([]string{"--listen", "127.0.0.1", "--sign-url", u.Sign, "--tiktok-web-url", u.Web, "--tiktok-webcast-url", u.Webcast,
			"--sign-quota", "0", "--log-level", "info", "--data-dir", t.TempDir(), "--max-rooms", "20",
			"--nats-embedded", "--nats-listen", fmt.Sprintf("127.0.0.1:%d", clients[i]),
			"--nats-cluster-listen", fmt.Sprintf("127.0.0.1:%d", routes[i]), "--nats-routes", strings.Join(others, ","),
			"--node-id", id, "--lease-ttl", "3s", "--shutdown-timeout", "5s"}, extra[i]...)
		cmd := exec.Command(os.Args[0], append(args, "0")...)
		cmd.Env = append(os.Environ(), childEnv+"=1")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		p := &clusterNodeProc{id: id, cmd: cmd, stderr: &testutil.SyncBuffer{}}
		cmd.Stderr = p.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		nodes[i] = p
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s stderr (tail):\n%s", id, tailLines(p.stderr.String(), 30))
			}
			if d := os.Getenv("CLUSTER_DEBUG_DIR"); d != "" {
				_ = os.WriteFile(filepath.Join(d, id+".log"), []byte(p.stderr.String()), 0o600)
			}
		})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
					lines <- [2]string{id, m[1]}
				}
			}
		}()
	}
	deadline := time.After(60 * time.Second)
	for range n {
		select {
		case l := <-lines:
			nodeByID(nodes, l[0]).base = l[1]
		case <-deadline:
			for _, p := range nodes {
				t.Logf("%s: %s", p.id, tailLines(p.stderr.String(), 20))
			}
			t.Fatal("the cluster nodes did not start")
		}
	}
	return nodes
}

// errorCode is the status and JSON error code of GET url.
func errorCode(t *testing.T, url string) (int, string) {
	t.Helper()
	var body struct {
		Code string `json:"code"`
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Code
}

// TestCluster_WebhooksOnce: three nodes, one of them with the webhooks role. Rooms owned by the
// other nodes, one of them handed over mid-stream by a drain: every gift, follow and share the
// webhooks node stored reaches the receiver exactly once (one request, one webhook-id), nothing
// else arrives, and the other nodes answer the webhook routes with 503 no_webhooks.
func TestCluster_WebhooksOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("three server processes")
	}
	fake, err := faketiktok.Start(context.Background(), faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 40, HistorySize: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	recv := newHookLog("receiver")
	srv := httptest.NewServer(recv)
	defer srv.Close()

	nodes := startClusterNodesEach(t, fake, [][]string{{"--role", "ingest,gateway,webhooks", "--webhooks-allow-private"}, nil, nil})
	hooks := nodes[0]
	for _, p := range nodes[1:] {
		if status, code := errorCode(t, p.base+"/v1/webhooks"); status != http.StatusServiceUnavailable || code != "no_webhooks" {
			t.Fatalf("GET /v1/webhooks on %s (no webhooks role): %d %q, want 503 no_webhooks", p.id, status, code)
		}
		// Nor can an endpoint be made there: it would never be served.
		var refused struct{ Code, Error string }
		if code := api(t, http.MethodPost, p.base+"/v1/webhooks", `{"url":"`+srv.URL+`/hook"}`, &refused); code != http.StatusServiceUnavailable || refused.Code != "no_webhooks" {
			t.Fatalf("POST /v1/webhooks on %s (no webhooks role): %d %q, want 503 no_webhooks", p.id, code, refused.Code)
		}
		if !strings.Contains(refused.Error, "node "+hooks.id+" sends the webhooks") {
			t.Fatalf("the refusal on %s does not name the webhooks node: %q", p.id, refused.Error)
		}
	}
	var ep struct{ ID, Secret string }
	if code := api(t, http.MethodPost, hooks.base+"/v1/webhooks",
		`{"url":"`+srv.URL+`/hook","filter":{"types":["room.gift","room.follow","room.share"]}}`, &ep); code != http.StatusCreated || !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("create the endpoint on %s: %d %+v", hooks.id, code, ep)
	}
	recv.snapshot(func(h *hookLog) { h.secret = ep.Secret })
	if status, _ := errorCode(t, hooks.base+"/v1/webhooks"); status != http.StatusOK {
		t.Fatalf("GET /v1/webhooks on the webhooks node: %d", status)
	}

	// Two rooms the placement likely puts on node2 and node3, put through a node without webhooks.
	var rooms []string
	for _, r := range []string{"hookhost", "gifty", "sharer", "follower", "streamer", "hostess", "caster", "livey"} {
		if len(rooms) < 2 && cluster.PreferredNode(r, []string{"node1", "node2", "node3"}) != hooks.id {
			rooms = append(rooms, r)
		}
	}
	for _, r := range rooms {
		putRoom(t, nodes[1], r)
	}
	owners := waitOwned(t, nodes, rooms, 30*time.Second)
	t.Logf("owners: %v", owners)

	counts := func() (gifts, follows, shares int) {
		recv.snapshot(func(h *hookLog) {
			gifts, follows, shares = h.types[webhook.TypeGift], h.types[webhook.TypeFollow], h.types[webhook.TypeShare]
		})
		return
	}
	testutil.Eventually(t, 60*time.Second, func() bool { g, f, s := counts(); return min(g, f, s) >= 2 }, "two gifts, follows and shares by webhook")

	// A handover mid-stream: the first room's owner is drained, another node continues the room.
	drained := nodeByID(nodes, owners[rooms[0]])
	if code := api(t, http.MethodPost, drained.base+"/v1/cluster/drain", "", nil); code != http.StatusOK {
		t.Fatalf("drain %s: %d", drained.id, code)
	}
	after := waitOwned(t, nodes, rooms, 30*time.Second)
	if after[rooms[0]] == drained.id {
		t.Fatalf("%s still owned by the drained %s", rooms[0], drained.id)
	}
	t.Logf("drained %s; owners now %v", drained.id, after)
	g0, f0, s0 := counts()
	testutil.Eventually(t, 60*time.Second, func() bool { g, f, s := counts(); return g > g0+1 && f > f0 && s > s0 }, "webhooks going on after the handover")

	for _, r := range rooms {
		if code := api(t, http.MethodDelete, nodes[1].base+"/v1/rooms/"+r, "", nil); code != http.StatusOK {
			t.Fatalf("stop %s: %d", r, code)
		}
	}
	// The rooms stopped: wait until the webhooks node's log and the deliveries agree (the log is
	// read again each time: a stop finalises streaks, committed after the DELETE answered).
	var want map[string]string
	logged := func(p *clusterNodeProc) map[string]string {
		out := map[string]string{}
		for _, r := range rooms {
			keys := loggedWebhookKeys(t, p.base, r)
			for k, typ := range keys {
				if _, dup := out[k]; dup {
					t.Fatalf("rooms share the stream position %s", k)
				}
				out[k] = typ
			}
		}
		return out
	}
	if !testutil.Poll(60*time.Second, func() bool {
		want = logged(hooks)
		if deliveredCount(t, hooks.base, ep.ID) != len(want) {
			return false
		}
		all := true
		recv.snapshot(func(h *hookLog) {
			for key := range want {
				if k := h.keys[key]; k == nil || k.ok == 0 {
					all = false
				}
			}
		})
		return all
	}) {
		t.Fatalf("the %d webhooks of the stored gifts, follows and shares were not all delivered (%d deliveries recorded)", len(want), deliveredCount(t, hooks.base, ep.ID))
	}
	t.Logf("the webhooks node's log holds %d events that make webhooks", len(want))
	if len(want) < 6 {
		t.Fatalf("only %d events that make webhooks", len(want))
	}
	// Every node stored the same events that make webhooks (the webhooks node follows its own
	// archive of the one stream).
	for _, p := range nodes[1:] {
		var got map[string]string
		if !testutil.Poll(20*time.Second, func() bool { got = logged(p); return len(got) >= len(want) }) || !maps.Equal(got, want) {
			t.Fatalf("%s stores %d events that make webhooks, %s %d", p.id, len(got), hooks.id, len(want))
		}
	}

	// Exactly once: one request per event (the receiver always answers 2xx, so any second request
	// is a doubling), one webhook-id per event, no webhook-id for two events, nothing unlogged.
	recv.snapshot(func(h *hookLog) {
		if len(h.badSigs) > 0 {
			t.Errorf("%d requests failed verification: %v", len(h.badSigs), h.badSigs[0])
		}
		owner := map[string]string{}
		for key, typ := range want {
			k := h.keys[key]
			switch {
			case k == nil:
				t.Errorf("the %s at %s never arrived", typ, key)
				continue
			case k.before+k.after != 1 || k.ok != 1:
				t.Errorf("the %s at %s was sent %d times, want once", typ, key, k.before+k.after)
			case len(k.ids) != 1:
				t.Errorf("the %s at %s came with %d webhook-ids", typ, key, len(k.ids))
			}
			for id := range k.ids {
				if other, ok := owner[id]; ok {
					t.Errorf("webhook-id %s came for %s and for %s", id, other, key)
				}
				owner[id] = key
			}
		}
		for key := range h.keys {
			if _, ok := want[key]; !ok {
				t.Errorf("a webhook for %s, which the log does not hold as a gift, follow or share", key)
			}
		}
	})
}

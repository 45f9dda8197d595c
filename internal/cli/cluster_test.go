package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// clusterNodeProc is one server process of a test cluster.
type clusterNodeProc struct {
	id     string
	cmd    *exec.Cmd
	base   string
	stderr *testutil.SyncBuffer
	dead   bool
}

// startClusterNodes runs n server processes, each with an embedded NATS member routed to the
// others, all pointed at fake, with the same extra flags. They start at once: JetStream needs a
// quorum before any is ready.
func startClusterNodes(t *testing.T, fake *faketiktok.Server, n int, extra ...string) []*clusterNodeProc {
	t.Helper()
	each := make([][]string, n)
	for i := range each {
		each[i] = extra
	}
	return startClusterNodesEach(t, fake, each)
}

// tryJSON is GET url decoded; ok false if the node did not answer 200.
func tryJSON(url string, out any) bool {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(out) == nil
}

type roomView struct {
	Username string `json:"username"`
	State    string `json:"state"`
	Node     string `json:"node"`
	Seq      uint64 `json:"seq"`
	Epoch    string `json:"epoch"`
}

// ownersSeen is each room's state and owner as node p reports them.
func ownersSeen(p *clusterNodeProc) (map[string]roomView, bool) {
	var body struct {
		Rooms []roomView `json:"rooms"`
	}
	if !tryJSON(p.base+"/v1/rooms", &body) {
		return nil, false
	}
	out := map[string]roomView{}
	for _, r := range body.Rooms {
		out[r.Username] = r
	}
	return out, true
}

// openSockets counts the fake's upstream sockets for user that are open now.
func openSockets(fake *faketiktok.Server, user string) int {
	n := 0
	for _, s := range fake.Record(user).Sockets {
		if !s.Refused && !s.Closed {
			n++
		}
	}
	return n
}

type histEvent struct {
	Type  string `json:"type"`
	Seq   uint64 `json:"seq"`
	Epoch string `json:"epoch"`
	ID    string `json:"id"`
	Data  struct {
		Reason string `json:"reason"`
	} `json:"data"`
}

// history is the room's stored events on node p, in order.
func history(t *testing.T, p *clusterNodeProc, room string) []histEvent {
	t.Helper()
	resp, err := http.Get(p.base + "/v1/rooms/" + room + "/events?format=ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []histEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e histEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("history line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// checkChain fails unless the events are one epoch, seq 1, 2, 3 ... with no gap and no doubling,
// and no TikTok message twice.
func checkChain(t *testing.T, who string, evs []histEvent) {
	t.Helper()
	ids := map[string]bool{}
	for i, e := range evs {
		if e.Epoch != evs[0].Epoch {
			t.Fatalf("%s: event %d has epoch %s, the stream began in %s", who, i, e.Epoch, evs[0].Epoch)
		}
		if e.Seq != uint64(i+1) {
			t.Fatalf("%s: event %d has seq %d, want %d", who, i, e.Seq, i+1)
		}
		if e.ID != "" {
			if ids[e.ID] {
				t.Fatalf("%s: TikTok message %s stored twice", who, e.ID)
			}
			ids[e.ID] = true
		}
	}
}

func putRoom(t *testing.T, p *clusterNodeProc, room string) {
	t.Helper()
	if code := api(t, http.MethodPut, p.base+"/v1/rooms/"+room, "{}", nil); code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("PUT %s on %s: %d", room, p.id, code)
	}
}

// waitOwned waits until every node alive agrees each room is connected, owned by a live node, and
// returns the owners.
func waitOwned(t *testing.T, nodes []*clusterNodeProc, rooms []string, d time.Duration) map[string]string {
	t.Helper()
	var owners map[string]string
	ok := testutil.Poll(d, func() bool {
		owners = map[string]string{}
		alive := map[string]bool{}
		for _, p := range nodes {
			alive[p.id] = !p.dead
		}
		for _, p := range nodes {
			if p.dead {
				continue
			}
			seen, ok := ownersSeen(p)
			if !ok {
				return false
			}
			for _, r := range rooms {
				v := seen[r]
				if v.State != "connected" || !alive[v.Node] || (owners[r] != "" && owners[r] != v.Node) {
					return false
				}
				owners[r] = v.Node
			}
		}
		return true
	})
	if !ok {
		for _, p := range nodes {
			if !p.dead {
				seen, _ := ownersSeen(p)
				t.Logf("%s sees %+v", p.id, seen)
			}
		}
		t.Fatalf("rooms %v not all connected with one live owner within %s", rooms, d)
	}
	return owners
}

func nodeByID(nodes []*clusterNodeProc, id string) *clusterNodeProc {
	for _, p := range nodes {
		if p.id == id {
			return p
		}
	}
	return nil
}

func someOther(nodes []*clusterNodeProc, not ...string) *clusterNodeProc {
	for _, p := range nodes {
		if !p.dead && !strings.Contains(strings.Join(not, ","), p.id) {
			return p
		}
	}
	return nil
}

// TestCluster_ThreeNodes runs three server processes, each with an embedded NATS member, against
// one fake TikTok: every room has exactly one upstream connection cluster-wide, every node stores
// every room's events at the same positions, a client resumes on another node with no gap and no
// duplicate, a drained node hands its rooms over at once, and kill -9 of an owner moves its rooms
// within the lease time with the room's stream continuing.
func TestCluster_ThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("three server processes")
	}
	fake, err := faketiktok.Start(context.Background(), faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 40, HistorySize: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	nodes := startClusterNodes(t, fake, 3)
	rooms := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	for i, r := range rooms {
		putRoom(t, nodes[i%3], r)
	}
	owners := waitOwned(t, nodes, rooms, 30*time.Second)
	t.Logf("owners: %v", owners)

	// Exactly one upstream connection per room, sampled while everything runs.
	exclusive := func(when string) {
		t.Helper()
		for _, r := range rooms {
			if n := openSockets(fake, r); n > 1 {
				t.Fatalf("%s: room %s has %d upstream sockets open at once", when, r, n)
			}
		}
	}
	for range 20 {
		exclusive("steady")
		time.Sleep(20 * time.Millisecond) // sampling interval, not synchronisation
	}

	// Every node stores the same chain for a room.
	waitSame := func(room string, alive []*clusterNodeProc) []histEvent {
		t.Helper()
		var ref []histEvent
		ok := testutil.Poll(20*time.Second, func() bool {
			ref = history(t, alive[0], room)
			if len(ref) < 20 {
				return false
			}
			for _, p := range alive[1:] {
				h := history(t, p, room)
				if len(h) < len(ref) {
					return false
				}
				for i := range ref {
					if h[i] != ref[i] {
						t.Fatalf("%s and %s differ at %d: %+v vs %+v", alive[0].id, p.id, i, ref[i], h[i])
					}
				}
			}
			return true
		})
		if !ok {
			t.Fatalf("the nodes did not converge on %s's events", room)
		}
		checkChain(t, room+" on "+alive[0].id, ref)
		return ref
	}
	for _, r := range rooms[:2] {
		waitSame(r, nodes)
	}

	// Resume across nodes: a client of node A remembers a position; it reconnects to node B.
	a, b := nodes[0], nodes[1]
	evs := history(t, a, "alice")
	mid := evs[len(evs)/2]
	c := testutil.DialWS(t, testutil.HTTPToWS(b.base)+fmt.Sprintf("/v1/ws?rooms=alice&since=%d&epoch=%s", mid.Seq, mid.Epoch))
	testutil.Eventually(t, 10*time.Second, func() bool { return len(c.Events()) > len(evs)-len(evs)/2+5 }, "resumed events")
	got := c.Events()
	if got[0]["type"] != "resume" || testutil.Dig(got[0], "data", "recovered") != true {
		t.Fatalf("resume on another node: %v", got[0])
	}
	next := mid.Seq + 1
	for _, m := range got[1:] {
		if m["username"] != "alice" {
			continue
		}
		if s := uint64(m["seq"].(float64)); s != next {
			t.Fatalf("after resume on %s: seq %d, want %d (no gap, no duplicate)", b.id, s, next)
		}
		next++
	}

	// Drain: the node's rooms move at once (no lease wait), with connection_closed "handover".
	drained := nodeByID(nodes, owners["alice"])
	var mine []string
	for r, o := range owners {
		if o == drained.id {
			mine = append(mine, r)
		}
	}
	began := time.Now()
	if code := api(t, http.MethodPost, drained.base+"/v1/cluster/drain", "", nil); code != http.StatusOK {
		t.Fatalf("drain: %d", code)
	}
	after := waitOwned(t, nodes, rooms, 20*time.Second)
	for _, r := range mine {
		if after[r] == drained.id {
			t.Fatalf("room %s still on the drained node", r)
		}
	}
	t.Logf("drain: %d rooms handed over in %s", len(mine), time.Since(began).Round(time.Millisecond))
	exclusive("after drain")
	h := waitSame("alice", nodes)
	handover := false
	for _, e := range h {
		if e.Type == "connection_closed" && e.Data.Reason == "handover" {
			handover = true
		}
	}
	if !handover {
		t.Fatal("no connection_closed with reason handover in alice's stream")
	}

	// kill -9 of an owner: its rooms move to the others within the lease time; the stream goes on.
	victim := nodeByID(nodes, after["alice"])
	var lost []string
	for r, o := range after {
		if o == victim.id {
			lost = append(lost, r)
		}
	}
	killedAt := time.Now()
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	victim.dead = true
	_ = victim.cmd.Wait()
	// Two times: until every lost room's events flow again (a survivor archives new ones from
	// the new owner), and until every node's status agrees on the new owners.
	var survivor *clusterNodeProc
	for _, p := range nodes {
		if !p.dead {
			survivor = p
			break
		}
	}
	atKill := map[string]int{}
	for _, r := range lost {
		atKill[r] = len(history(t, survivor, r))
	}
	testutil.Eventually(t, 30*time.Second, func() bool {
		for _, r := range lost {
			if len(history(t, survivor, r)) <= atKill[r]+2 {
				return false
			}
		}
		return true
	}, "the lost rooms' events flowing again after the kill")
	flowing := time.Since(killedAt)
	final := waitOwned(t, nodes, rooms, 30*time.Second)
	t.Logf("kill -9 of %s: %d rooms' events flowing again after %s, every node's status agreeing after %s (lease TTL 3s)",
		victim.id, len(lost), flowing.Round(time.Millisecond), time.Since(killedAt).Round(time.Millisecond))
	if dir := os.Getenv("CLUSTER_DEBUG_DIR"); dir != "" { // every node's whole log, to read a slow takeover
		for _, p := range nodes {
			_ = os.WriteFile(filepath.Join(dir, p.id+".log"), []byte(p.stderr.String()), 0o600)
		}
	}
	for _, r := range lost {
		if final[r] == victim.id {
			t.Fatalf("room %s still owned by the killed node", r)
		}
	}
	var alive []*clusterNodeProc
	for _, p := range nodes {
		if !p.dead {
			alive = append(alive, p)
		}
	}
	before := len(history(t, alive[0], "alice"))
	testutil.Eventually(t, 20*time.Second, func() bool { return len(history(t, alive[0], "alice")) > before+20 }, "alice's stream going on after the failover")
	waitSame("alice", alive)
	exclusive("after failover")
}

// TestCluster_ZombieFenced pauses a room's owner (SIGSTOP: its process, NATS member included,
// freezes) until another node took the room, then lets it go on. The old owner must stop the room
// without adding a single event to its stream.
func TestCluster_ZombieFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("three server processes")
	}
	fake, err := faketiktok.Start(context.Background(), faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 40, HistorySize: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	nodes := startClusterNodes(t, fake, 3)
	putRoom(t, nodes[0], "zed")
	owners := waitOwned(t, nodes, []string{"zed"}, 30*time.Second)
	zombie := nodeByID(nodes, owners["zed"])
	if err := zombie.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	zombie.dead = true // for waitOwned: not a live owner while paused
	took := waitOwned(t, nodes, []string{"zed"}, 30*time.Second)
	t.Logf("paused %s; %s took zed", zombie.id, took["zed"])
	if err := zombie.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	zombie.dead = false
	// The old owner notices (a renewal or an append refused) and stops the room.
	testutil.Eventually(t, 20*time.Second, func() bool {
		var info struct {
			Owned []string `json:"owned"`
		}
		return tryJSON(zombie.base+"/v1/cluster", &info) && !strings.Contains(strings.Join(info.Owned, ","), "zed")
	}, "the resumed old owner giving zed up")
	testutil.Eventually(t, 10*time.Second, func() bool { return openSockets(fake, "zed") <= 1 }, "one upstream socket for zed")
	other := someOther(nodes, zombie.id)
	before := len(history(t, other, "zed"))
	testutil.Eventually(t, 20*time.Second, func() bool { return len(history(t, other, "zed")) > before+20 }, "zed going on")
	for _, p := range nodes {
		checkChain(t, "zed on "+p.id, history(t, p, "zed"))
	}
}

package cli

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/cluster"
	"github.com/tiktok-live-server/tiktok-live-server/internal/cluster/clustertest"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// TestCluster_RebalanceOnJoin: rooms placed while one node was alone spread to a node that joins
// later, but only rooms waiting for their creator to go live move; the live room keeps its one
// upstream socket on the first node, and every moved room is watched by exactly one node.
func TestCluster_RebalanceOnJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs server processes")
	}
	fake, err := faketiktok.Start(context.Background(), faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 20, HistorySize: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	nats := clustertest.Start(t, 1)
	start := func(id string) *clusterNodeProc {
		cmd, base := startChildLogged(t, natsNodeArgs(t, fake, nats.URLs()[0], id)...)
		return &clusterNodeProc{id: id, cmd: cmd, base: base}
	}
	first := start("first")
	// Four offline rooms that prefer the node that joins later, four that prefer first.
	var offline, toSecond []string
	stay := 0
	for i := 0; len(offline) < 8; i++ {
		r := fmt.Sprintf("offline%d", i)
		switch cluster.PreferredNode(r, []string{"first", "second"}) {
		case "second":
			if len(toSecond) == 4 {
				continue
			}
			toSecond = append(toSecond, r)
		default:
			if stay == 4 {
				continue
			}
			stay++
		}
		offline = append(offline, r)
		putRoom(t, first, r)
	}
	putRoom(t, first, "livehost")
	waitOwned(t, []*clusterNodeProc{first}, []string{"livehost"}, 30*time.Second)
	waitStates(t, first, offline, "waiting_for_live", "first", 30*time.Second)

	second := start("second")
	var seen map[string]roomView
	if !testutil.Poll(60*time.Second, func() bool {
		var ok bool
		if seen, ok = ownersSeen(first); !ok {
			return false
		}
		on := map[string]int{}
		for _, r := range offline {
			v := seen[r]
			if v.State != "waiting_for_live" {
				return false
			}
			on[v.Node]++
		}
		for _, r := range toSecond {
			if seen[r].Node != "second" {
				return false
			}
		}
		// 9 rooms on 2 nodes, a fair share of 5: the four that prefer second move, first keeps
		// five (the live room included).
		return on["second"] == 4 && on["first"] == 4
	}) {
		t.Fatalf("the offline rooms did not spread to the node that joined: %+v", seen)
	}
	if v := seen["livehost"]; v.Node != "first" || v.State != "connected" {
		t.Fatalf("the live room moved or is not connected: %+v", v)
	}
	if n := len(fake.Record("livehost").Sockets); n != 1 {
		t.Fatalf("the live room opened %d upstream sockets, want the 1 it had", n)
	}
	// Both nodes agree, and each moved room is owned by one node (the rooms list of each node's
	// status view has the same owner).
	other, ok := ownersSeen(second)
	if !ok {
		t.Fatal("second does not answer /v1/rooms")
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		other, ok = ownersSeen(second)
		if !ok {
			return false
		}
		for _, r := range append(offline, "livehost") {
			if other[r].Node != seen[r].Node {
				return false
			}
		}
		return true
	}, "both nodes naming the same owners")
}

// waitStates waits until node p reports every room in state, owned by node.
func waitStates(t *testing.T, p *clusterNodeProc, rooms []string, state, node string, d time.Duration) {
	t.Helper()
	var seen map[string]roomView
	if !testutil.Poll(d, func() bool {
		var ok bool
		if seen, ok = ownersSeen(p); !ok {
			return false
		}
		for _, r := range rooms {
			if v := seen[r]; v.State != state || v.Node != node {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("rooms %v not all %s on %s within %s: %+v", rooms, state, node, d, seen)
	}
}

// TestCluster_SignBudgetPlacement: a node whose sign quota is spent claims no more rooms, so the
// rooms it would have been given go to a node with budget and connect at once, instead of waiting
// a minute for the first node's quota.
func TestCluster_SignBudgetPlacement(t *testing.T) {
	if testing.Short() {
		t.Skip("runs server processes")
	}
	fake, err := faketiktok.Start(context.Background(), faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 5, HistorySize: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	// node1 may sign once a minute; node2 without a limit.
	nodes := startClusterNodesEach(t, fake, [][]string{{"--sign-quota", "1"}, {}})
	// Three rooms node1 would be preferred for, so without the budget it would take them all
	// and two would wait for its quota.
	var rooms []string
	for i := 0; len(rooms) < 3; i++ {
		if r := fmt.Sprintf("budget%d", i); cluster.PreferredNode(r, []string{"node1", "node2"}) == "node1" {
			rooms = append(rooms, r)
		}
	}
	for _, r := range rooms {
		putRoom(t, nodes[0], r)
	}
	owners := waitOwned(t, nodes, rooms, 30*time.Second)
	on1 := 0
	for _, r := range rooms {
		if owners[r] == "node1" {
			on1++
		}
	}
	if on1 != 1 {
		t.Fatalf("owners %v: node1, with budget for one sign, owns %d rooms", owners, on1)
	}
}

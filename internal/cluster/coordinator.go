package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
)

// rebalanceAgain is how long a room moved to spread the load is not moved again.
const rebalanceAgain = time.Minute

// Reasons a node stops a room it owned (connection_closed's reason).
const (
	ReasonHandover = "handover" // drained, or the room placed elsewhere
)

// Desired is a room the cluster should watch: the rooms_desired value.
type Desired struct {
	Username      string            `json:"username"`
	Options       room.WatchOptions `json:"options"`
	GiveUpOffline bool              `json:"giveUpOffline,omitempty"` // the original POST /connect: stop if not live
	RequestedAt   time.Time         `json:"requestedAt"`
}

// NodeInfo is a node's heartbeat in the nodes bucket.
type NodeInfo struct {
	ID       string    `json:"id"`
	Ingest   bool      `json:"ingest"`
	Gateway  bool      `json:"gateway"`
	Rooms    []string  `json:"rooms"`
	MaxRooms int       `json:"maxRooms"`
	Draining bool      `json:"draining"`
	Version  string    `json:"version,omitempty"`
	At       time.Time `json:"at"`
}

// RoomState is a room's status as its owner last wrote it (the room_state value).
type RoomState struct {
	Node    string      `json:"node"`
	Lease   uint64      `json:"lease"`
	Desired uint64      `json:"desired"` // the rooms_desired revision the owner runs
	Status  room.Status `json:"status"`
}

// Manager is what the coordinator needs of room.Manager.
type Manager interface {
	Start(username string, opts room.StartOptions) (room.Status, bool, error)
	Stop(username, reason string) (room.Status, error)
	Status(username string) (room.Status, bool)
	Forget(username string)
}

// CoordinatorConfig configures a Coordinator.
type CoordinatorConfig struct {
	Manager  Manager
	Log      *Log
	MaxRooms int  // rooms this node takes at most
	Gateway  bool // for the heartbeat
	Version  string
	// SignBudget, if set, is how many more rooms the node's sign quota lets it connect now
	// (negative: no limit). A node claims no more than that in one pass, so a node out of
	// budget claims nothing and others take the rooms instead of waiting for its quota.
	SignBudget func() int
	Logger     *slog.Logger
}

// Coordinator is the ingest role: it claims desired rooms (one owner cluster-wide), runs them in
// the manager, renews their leases, writes their state, and gives them up on a drain.
type Coordinator struct {
	c   *Conn
	cfg CoordinatorConfig
	log *slog.Logger

	kick chan struct{}

	mu       sync.Mutex
	desired  map[string]desiredEntry
	owners   map[string]string    // room → node, from the owner bucket
	seen     map[string]time.Time // room → when its lease was last seen written (a renewal)
	nodes    map[string]NodeInfo
	nodeSeen map[string]time.Time // when each node's heartbeat was last seen (the bucket has no expiry markers)
	owned    map[string]*owned
	due      map[string]time.Time // claims waiting for their placement delay
	moved    map[string]time.Time // rooms this node gave away to spread the load, and when
	draining bool
	ctx      context.Context

	bg sync.WaitGroup // rooms being given up after a lost lease; Run waits for them
}

type desiredEntry struct {
	Desired
	rev uint64
}

type owned struct {
	lease     *Lease
	chain     *chain
	cancel    context.CancelFunc
	desired   desiredEntry
	state     []byte // last written room_state
	stateAt   time.Time
	claimedAt time.Time
	releasing bool
}

// NewCoordinator returns a coordinator on c.
func NewCoordinator(c *Conn, cfg CoordinatorConfig) *Coordinator {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRooms <= 0 {
		cfg.MaxRooms = 1
	}
	return &Coordinator{c: c, cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1),
		desired: map[string]desiredEntry{}, owners: map[string]string{}, seen: map[string]time.Time{}, nodes: map[string]NodeInfo{}, nodeSeen: map[string]time.Time{},
		owned: map[string]*owned{}, due: map[string]time.Time{}, moved: map[string]time.Time{}}
}

// Run coordinates until ctx ends; then it releases every room (a handover) and returns.
func (co *Coordinator) Run(ctx context.Context) error {
	co.mu.Lock()
	co.ctx = ctx
	co.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer co.bg.Wait()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	wg.Go(func() { co.watch(wctx, co.c.desired, co.onDesired) })
	wg.Go(func() { co.watch(wctx, co.c.owners, co.onOwner) })
	wg.Go(func() { co.watch(wctx, co.c.nodes, co.onNode) })

	ttl := co.c.cfg.LeaseTTL
	renew := time.NewTicker(ttl / 3)
	defer renew.Stop()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	resync := time.NewTicker(5 * time.Second)
	defer resync.Stop()
	co.heartbeat(ctx)
	for {
		select {
		case <-ctx.Done():
			co.releaseAll(ReasonHandover)
			return nil
		case <-renew.C:
			co.renewAll(ctx)
			co.heartbeat(ctx)
		case <-resync.C:
			co.resyncOwners(ctx)
			co.rebalance(ctx)
		case <-tick.C:
			co.reconcile(ctx)
		case <-co.kick:
			co.reconcile(ctx)
		}
	}
}

// watch follows a bucket (see followKV), poking the loop on every change.
func (co *Coordinator) watch(ctx context.Context, kv jetstream.KeyValue, on func(jetstream.KeyValueEntry)) {
	co.c.followKV(ctx, kv, func(e jetstream.KeyValueEntry) { on(e); co.poke() }, co.poke)
}

func (co *Coordinator) poke() {
	select {
	case co.kick <- struct{}{}:
	default:
	}
}

func (co *Coordinator) onDesired(e jetstream.KeyValueEntry) {
	r := RoomOfToken(trimKey(e.Key()))
	co.mu.Lock()
	defer co.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(co.desired, r)
		return
	}
	var d Desired
	if json.Unmarshal(e.Value(), &d) != nil {
		return
	}
	co.desired[r] = desiredEntry{Desired: d, rev: e.Revision()}
}

func (co *Coordinator) onOwner(e jetstream.KeyValueEntry) {
	r := RoomOfToken(trimKey(e.Key()))
	co.mu.Lock()
	defer co.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(co.owners, r)
		delete(co.seen, r)
		return
	}
	var o Owner
	if json.Unmarshal(e.Value(), &o) == nil {
		co.owners[r] = o.Node
		co.seen[r] = time.Now()
	}
}

func (co *Coordinator) onNode(e jetstream.KeyValueEntry) {
	id := trimKey(e.Key())
	co.mu.Lock()
	defer co.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(co.nodes, id)
		delete(co.nodeSeen, id)
		return
	}
	var n NodeInfo
	if json.Unmarshal(e.Value(), &n) == nil {
		co.nodes[id] = n
		co.nodeSeen[id] = time.Now()
	}
}

func trimKey(k string) string {
	if i := bytes.IndexByte([]byte(k), '.'); i >= 0 {
		return k[i+1:]
	}
	return k
}

func (co *Coordinator) heartbeat(ctx context.Context) {
	co.mu.Lock()
	rooms := make([]string, 0, len(co.owned))
	for r := range co.owned {
		rooms = append(rooms, r)
	}
	slices.Sort(rooms)
	n := NodeInfo{ID: co.c.cfg.NodeID, Ingest: true, Gateway: co.cfg.Gateway, Rooms: rooms, MaxRooms: co.cfg.MaxRooms,
		Draining: co.draining, Version: co.cfg.Version, At: time.Now().UTC()}
	co.mu.Unlock()
	b, _ := json.Marshal(n)
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := co.c.nodes.Put(actx, "node."+n.ID, b); err != nil && ctx.Err() == nil {
		co.log.Warn("cluster: heartbeat failed", "err", err)
	}
}

// Drain stops claiming and hands every owned room over at once (other nodes claim them as soon as
// the leases are deleted). The node keeps serving clients.
func (co *Coordinator) Drain(ctx context.Context) {
	co.mu.Lock()
	co.draining = true
	co.mu.Unlock()
	co.heartbeat(ctx)
	co.releaseAll(ReasonHandover)
}

// Draining reports whether Drain was called.
func (co *Coordinator) Draining() bool {
	co.mu.Lock()
	defer co.mu.Unlock()
	return co.draining
}

// Owned lists the rooms this node owns now.
func (co *Coordinator) Owned() []string {
	co.mu.Lock()
	defer co.mu.Unlock()
	out := make([]string, 0, len(co.owned))
	for r := range co.owned {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

func (co *Coordinator) reconcile(ctx context.Context) {
	co.mu.Lock()
	var release, claim []string
	var finished, update []string
	for r, o := range co.owned {
		if o.releasing {
			continue
		}
		d, ok := co.desired[r]
		if !ok {
			release = append(release, r)
			continue
		}
		if d.rev != o.desired.rev && d.Options != o.desired.Options {
			update = append(update, r)
		}
		o.desired = d
		if st, ok := co.cfg.Manager.Status(r); ok && st.State == room.StateStopped {
			finished = append(finished, r)
		}
	}
	now := time.Now()
	live := co.liveNodesLocked()
	for r := range co.desired {
		if _, mine := co.owned[r]; mine || co.draining {
			continue
		}
		if _, has := co.owners[r]; has && !co.staleLocked(r, now) {
			delete(co.due, r)
			continue
		}
		if len(co.owned)+len(claim) >= co.cfg.MaxRooms {
			continue
		}
		at, waiting := co.due[r]
		if !waiting {
			at = now.Add(co.placementDelayLocked(r, live))
			co.due[r] = at
		}
		if !now.Before(at) {
			delete(co.due, r)
			claim = append(claim, r)
		}
	}
	co.mu.Unlock()

	for _, r := range release {
		co.release(r, room.ReasonRequested, false)
	}
	for _, r := range finished {
		co.release(r, "", true)
	}
	for _, r := range update {
		co.mu.Lock()
		opts := co.desired[r].Options
		co.mu.Unlock()
		_, _, _ = co.cfg.Manager.Start(r, room.StartOptions{Watch: &opts}) // a running room takes new options
	}
	budget := -1
	if co.cfg.SignBudget != nil && len(claim) > 0 {
		if budget = co.cfg.SignBudget(); budget >= 0 {
			budget = max(budget-co.unsignedClaims(), 0)
		}
	}
	for i, r := range claim {
		if budget >= 0 && i >= budget {
			// Not claimed: back to waiting, so another node with budget gets it first.
			break
		}
		co.claim(ctx, r)
	}
	co.writeStates(ctx)
}

// staleLocked reports whether another node's lease on r has not been seen renewed for 1.5 TTL:
// its expiry (a delete marker) can be missed while the watcher reconnects or under load, and a
// room must not wait for an owner that is gone. Claiming is safe either way: Create fails while
// the lease still exists.
func (co *Coordinator) staleLocked(r string, now time.Time) bool {
	at, ok := co.seen[r]
	return ok && renewalsMissed(at, now, co.c.cfg.LeaseTTL)
}

// unsignedClaims counts rooms claimed in the last 2 s that are still connecting: their sign
// token may not be taken yet (it is taken right before the sign call, after the live check), so
// the quota does not show them. Counting one that took it already errs on the side of claiming
// less, which other nodes make up for.
func (co *Coordinator) unsignedClaims() int {
	co.mu.Lock()
	var recent []string
	for r, o := range co.owned {
		if !o.releasing && time.Since(o.claimedAt) < 2*time.Second {
			recent = append(recent, r)
		}
	}
	co.mu.Unlock()
	n := 0
	for _, r := range recent {
		if st, ok := co.cfg.Manager.Status(r); ok && st.State == room.StateConnecting {
			n++
		}
	}
	return n
}

// liveNodesLocked lists the ingest nodes that can take a room: this one and every other whose
// heartbeat is fresh, not draining and not full.
func (co *Coordinator) liveNodesLocked() []string {
	ids := []string{co.c.cfg.NodeID}
	for id, n := range co.nodes {
		if id != co.c.cfg.NodeID && co.nodeFreshLocked(id) && n.Ingest && !n.Draining && len(n.Rooms) < n.MaxRooms {
			ids = append(ids, id)
		}
	}
	return ids
}

// nodeFreshLocked: a heartbeat seen within 1.5 TTL (they come every TTL/3). The nodes bucket
// forgets a dead node's heartbeat after a TTL without telling watchers, so without this a dead
// node would stay the preferred one for its rooms and every survivor would wait out the delay.
func (co *Coordinator) nodeFreshLocked(id string) bool {
	at, ok := co.nodeSeen[id]
	return ok && !renewalsMissed(at, time.Now(), co.c.cfg.LeaseTTL)
}

// PreferredNode is the room's rendezvous winner among the nodes (highest FNV-1a hash of node id,
// a zero byte and room): the node that claims it at once.
func PreferredNode(r string, nodes []string) string {
	best, bestScore := "", uint64(0)
	for _, id := range nodes {
		h := fnv.New64a()
		h.Write([]byte(id))
		h.Write([]byte{0})
		h.Write([]byte(r))
		if s := h.Sum64(); best == "" || s > bestScore {
			best, bestScore = id, s
		}
	}
	return best
}

// rebalance moves one room a turn from this node, when it holds more than its fair share of the
// cluster's rooms, to the node the room prefers, if that node holds less. Only a room waiting for
// its creator to go live moves: it has no TikTok connection, so the move costs no event and no
// sign call; live rooms stay where they are until their broadcast ends. This spreads the rooms
// again after a node joins or comes back (placement alone only places new or orphaned rooms).
func (co *Coordinator) rebalance(ctx context.Context) {
	co.mu.Lock()
	if co.draining || ctx.Err() != nil {
		co.mu.Unlock()
		return
	}
	now := time.Now()
	var mine, movable []string // owned rooms; those not moved here lately (they came back: no bouncing)
	for r, o := range co.owned {
		if o.releasing {
			continue
		}
		mine = append(mine, r)
		if at, was := co.moved[r]; !was || now.Sub(at) >= rebalanceAgain {
			movable = append(movable, r)
		}
	}
	counts := map[string]int{co.c.cfg.NodeID: len(mine)}
	for id, n := range co.nodes {
		if id != co.c.cfg.NodeID && co.nodeFreshLocked(id) && n.Ingest && !n.Draining {
			counts[id] = len(n.Rooms)
		}
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	fair := (total + len(counts) - 1) / len(counts)
	if len(counts) < 2 || len(mine) <= fair {
		co.mu.Unlock()
		return
	}
	live := co.liveNodesLocked()
	co.mu.Unlock()
	slices.Sort(movable)
	var move string
	for _, r := range movable {
		st, ok := co.cfg.Manager.Status(r)
		if !ok || st.State != room.StateWaitingForLive {
			continue
		}
		if to := PreferredNode(r, live); to != co.c.cfg.NodeID && counts[to] < fair {
			move = r
			co.log.Info("cluster: moving an offline room to spread the load", "room", r, "to", to,
				"rooms_here", len(mine), "fair_share", fair)
			break
		}
	}
	if move != "" {
		co.mu.Lock()
		co.moved[move] = now
		maps.DeleteFunc(co.moved, func(_ string, at time.Time) bool { return now.Sub(at) > rebalanceAgain })
		co.mu.Unlock()
		co.release(move, ReasonHandover, false)
		co.heartbeat(ctx)
	}
}

// placementDelayLocked is 0 on the room's preferred node (rendezvous hashing over the ingest
// nodes with room to spare), else a delay growing with this node's load, plus jitter: the
// preferred node usually wins, and if it is gone the least loaded next.
func (co *Coordinator) placementDelayLocked(r string, live []string) time.Duration {
	if PreferredNode(r, live) == co.c.cfg.NodeID {
		return 0
	}
	load := float64(len(co.owned)) / float64(co.cfg.MaxRooms)
	return time.Duration(float64(500*time.Millisecond)*(1+2*load)) + rand.N(250*time.Millisecond)
}

func (co *Coordinator) claim(ctx context.Context, r string) {
	l, err := co.c.Claim(ctx, r)
	if errors.Is(err, ErrHeld) {
		co.mu.Lock()
		if _, known := co.owners[r]; known {
			co.seen[r] = time.Now() // it is there after all: ask again after another 1.5 TTL
		}
		co.mu.Unlock()
		return
	}
	if err != nil {
		co.log.Warn("cluster: claim failed", "room", r, "err", err)
		return
	}
	ch, err := co.c.claimChain(ctx, l)
	if err != nil {
		co.log.Warn("cluster: claim marker failed; giving the lease back", "room", r, "err", err)
		_ = co.c.Release(context.WithoutCancel(ctx), l)
		return
	}
	co.mu.Lock()
	d, ok := co.desired[r]
	if !ok || co.draining || co.ctx.Err() != nil {
		co.mu.Unlock()
		_ = co.c.Release(context.WithoutCancel(ctx), l)
		return
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	o := &owned{lease: l, chain: ch, cancel: cancel, desired: d, claimedAt: time.Now()}
	co.owned[r] = o
	co.owners[r] = co.c.cfg.NodeID
	co.seen[r] = time.Now()
	co.mu.Unlock()
	co.cfg.Log.add(ch)
	go ch.run(cctx, co.fenced)
	opts := d.Options
	if _, _, err := co.cfg.Manager.Start(r, room.StartOptions{Watch: &opts, GiveUpOffline: d.GiveUpOffline}); err != nil {
		co.log.Warn("cluster: cannot start an owned room; releasing it", "room", r, "err", err)
		co.release(r, "", false)
		return
	}
	co.log.Info("cluster: room claimed", "room", r, "lease", l.ID, "continues", ch.pos.Seq)
	co.heartbeat(ctx)
}

// fenced is called by a chain another node has taken over: stop at once, publish nothing.
func (co *Coordinator) fenced(r string, err error) {
	co.log.Warn("cluster: room lost to another owner; stopped", "room", r, "err", err)
	co.bg.Go(func() { co.lose(r) }) // not on the chain's goroutine: lose waits for it to end
}

// lose stops a room whose lease is gone: no handover (the new owner has it already).
func (co *Coordinator) lose(r string) {
	co.mu.Lock()
	o := co.owned[r]
	if o == nil || o.releasing {
		co.mu.Unlock()
		return
	}
	o.releasing = true
	co.mu.Unlock()
	o.cancel()
	<-o.chain.done
	co.cfg.Log.remove(o.chain)
	_, _ = co.cfg.Manager.Stop(r, "")
	co.cfg.Manager.Forget(r)
	co.mu.Lock()
	delete(co.owned, r)
	co.mu.Unlock()
}

// release stops an owned room on purpose: its last events (connection_closed with reason) are
// appended, then the lease is deleted so another node can claim it at once. undesire also removes
// the room from the desired set (it stopped by itself: failed for good, or gave up offline).
func (co *Coordinator) release(r, reason string, undesire bool) {
	co.mu.Lock()
	o := co.owned[r]
	if o == nil || o.releasing {
		co.mu.Unlock()
		return
	}
	o.releasing = true
	co.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = co.cfg.Manager.Stop(r, reason)
	if err := o.chain.flush(ctx); err != nil {
		co.log.Warn("cluster: room's last events not all appended before the handover", "room", r, "err", err)
	}
	if undesire {
		co.writeState(ctx, r, o, true)
		_ = co.c.desired.Delete(ctx, roomKey(r), jetstream.LastRevision(o.desired.rev))
	}
	o.cancel()
	<-o.chain.done
	co.cfg.Log.remove(o.chain)
	co.cfg.Manager.Forget(r)
	if err := co.c.Release(ctx, o.lease); err != nil {
		co.log.Warn("cluster: lease not released; it expires by itself", "room", r, "err", err)
	}
	co.mu.Lock()
	delete(co.owned, r)
	if co.owners[r] == co.c.cfg.NodeID {
		delete(co.owners, r)
	}
	co.mu.Unlock()
	co.log.Info("cluster: room released", "room", r, "reason", reason)
}

func (co *Coordinator) releaseAll(reason string) {
	var wg sync.WaitGroup
	for _, r := range co.Owned() {
		wg.Go(func() { co.release(r, reason, false) })
	}
	wg.Wait()
}

func (co *Coordinator) renewAll(ctx context.Context) {
	co.mu.Lock()
	leases := make(map[string]*Lease, len(co.owned))
	for r, o := range co.owned {
		if !o.releasing {
			leases[r] = o.lease
		}
	}
	co.mu.Unlock()
	for r, l := range leases {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := co.c.Renew(actx, l)
		cancel()
		switch {
		case errors.Is(err, ErrLost):
			co.log.Warn("cluster: lease lost", "room", r, "err", err)
			co.bg.Go(func() { co.lose(r) })
		case err != nil && !l.Valid(co.c.cfg.LeaseTTL):
			co.log.Warn("cluster: lease not renewed in time; stopping the room (self-fence)", "room", r, "err", err)
			co.bg.Go(func() { co.lose(r) })
		}
	}
}

func (co *Coordinator) writeStates(ctx context.Context) {
	co.mu.Lock()
	rooms := make(map[string]*owned, len(co.owned))
	for r, o := range co.owned {
		if !o.releasing {
			rooms[r] = o
		}
	}
	co.mu.Unlock()
	for r, o := range rooms {
		co.writeState(ctx, r, o, false)
	}
}

// writeState puts the room's status in room_state when its state changed, or at most every 2 s
// when only its figures did.
func (co *Coordinator) writeState(ctx context.Context, r string, o *owned, force bool) {
	st, ok := co.cfg.Manager.Status(r)
	if !ok {
		return
	}
	co.mu.Lock()
	drev := o.desired.rev
	co.mu.Unlock()
	b, _ := json.Marshal(RoomState{Node: co.c.cfg.NodeID, Lease: o.lease.ID, Desired: drev, Status: st})
	co.mu.Lock()
	prev, at := o.state, o.stateAt
	co.mu.Unlock()
	if bytes.Equal(prev, b) {
		return
	}
	var old RoomState
	_ = json.Unmarshal(prev, &old)
	if !force && old.Status.State == st.State && time.Since(at) < 2*time.Second {
		return
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := co.c.state.Put(actx, roomKey(r), b); err != nil {
		return
	}
	co.mu.Lock()
	o.state, o.stateAt = b, time.Now()
	co.mu.Unlock()
}

// Nodes lists the nodes' last heartbeats.
func (c *Conn) Nodes(ctx context.Context) ([]NodeInfo, error) {
	lister, err := c.nodes.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []NodeInfo
	for k := range lister.Keys() {
		e, err := c.nodes.Get(ctx, k)
		if err != nil {
			continue
		}
		var n NodeInfo
		if json.Unmarshal(e.Value(), &n) == nil {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// resyncOwners reads the lease of every desired room another node holds, in case a watcher missed
// its expiry (a NATS reconnect): the room would otherwise wait for nobody.
func (co *Coordinator) resyncOwners(ctx context.Context) {
	co.mu.Lock()
	var check []string
	for r := range co.desired {
		if _, mine := co.owned[r]; !mine && co.owners[r] != "" {
			check = append(check, r)
		}
	}
	co.mu.Unlock()
	gone := false
	for _, r := range check {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, _, ok, err := co.c.OwnerOf(actx, r)
		cancel()
		if err == nil && !ok {
			co.mu.Lock()
			delete(co.owners, r)
			delete(co.seen, r)
			co.mu.Unlock()
			gone = true
		}
	}
	if gone {
		co.poke()
	}
}

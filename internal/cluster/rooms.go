package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
)

// Rooms is the gateway's view of the cluster's rooms, with the methods of room.Manager the HTTP
// API uses: starting a room makes it desired (some ingest node claims it), stopping it makes it
// undesired, and status is what the owner last wrote, with the owner's name.
type Rooms struct {
	c        *Conn
	maxRooms int // 1: single-user mode, a start replaces the other desired rooms
	quota    *room.Quota

	mu      sync.Mutex
	desired map[string]desiredEntry
	owners  map[string]Owner
	seen    map[string]time.Time // when each lease was last seen written
	ttl     time.Duration
	states  map[string]RoomState
	changed chan struct{} // closed and replaced on every update
	synced  sync.WaitGroup
}

// NewRooms follows the buckets until ctx ends; it returns once their current values are read.
func NewRooms(ctx context.Context, c *Conn, maxRooms int, quota *room.Quota) (*Rooms, func()) {
	rs := &Rooms{c: c, maxRooms: maxRooms, quota: quota, desired: map[string]desiredEntry{},
		owners: map[string]Owner{}, seen: map[string]time.Time{}, ttl: c.cfg.LeaseTTL,
		states: map[string]RoomState{}, changed: make(chan struct{})}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	rs.synced.Add(3)
	wg.Go(func() { rs.follow(ctx, c.desired, rs.onDesired) })
	wg.Go(func() { rs.follow(ctx, c.owners, rs.onOwner) })
	wg.Go(func() { rs.follow(ctx, c.state, rs.onState) })
	done := make(chan struct{})
	go func() { rs.synced.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
	return rs, func() { cancel(); wg.Wait() }
}

// follow keeps one bucket's part of the view (see followKV); the first read of its current values
// counts for NewRooms' wait.
func (rs *Rooms) follow(ctx context.Context, kv jetstream.KeyValue, on func(jetstream.KeyValueEntry)) {
	first := true
	changed := func() {
		rs.mu.Lock()
		close(rs.changed)
		rs.changed = make(chan struct{})
		rs.mu.Unlock()
	}
	rs.c.followKV(ctx, kv, func(e jetstream.KeyValueEntry) { on(e); changed() }, func() {
		if first {
			first = false
			rs.synced.Done()
		}
		changed()
	})
	if first {
		rs.synced.Done()
	}
}

func (rs *Rooms) onDesired(e jetstream.KeyValueEntry) {
	r := RoomOfToken(trimKey(e.Key()))
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var d Desired
	if e.Operation() != jetstream.KeyValuePut || json.Unmarshal(e.Value(), &d) != nil {
		delete(rs.desired, r)
		return
	}
	rs.desired[r] = desiredEntry{Desired: d, rev: e.Revision()}
}

func (rs *Rooms) onOwner(e jetstream.KeyValueEntry) {
	r := RoomOfToken(trimKey(e.Key()))
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var o Owner
	if e.Operation() != jetstream.KeyValuePut || json.Unmarshal(e.Value(), &o) != nil {
		delete(rs.owners, r)
		delete(rs.seen, r)
		return
	}
	rs.owners[r] = o
	rs.seen[r] = time.Now()
}

func (rs *Rooms) onState(e jetstream.KeyValueEntry) {
	r := RoomOfToken(trimKey(e.Key()))
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var s RoomState
	if e.Operation() != jetstream.KeyValuePut || json.Unmarshal(e.Value(), &s) != nil {
		delete(rs.states, r)
		return
	}
	rs.states[r] = s
}

// staleLocked reports whether r's lease has not been seen renewed for 1.5 TTL: its owner is gone
// even if the expiry has not reached us yet (after a kill -9 that took 10-15 s).
func (rs *Rooms) staleLocked(r string) bool {
	at, ok := rs.seen[r]
	return ok && rs.ttl > 0 && renewalsMissed(at, time.Now(), rs.ttl)
}

// statusLocked merges the room's desire, lease and last written state.
func (rs *Rooms) statusLocked(r string) (room.Status, bool) {
	d, wanted := rs.desired[r]
	s, hasState := rs.states[r]
	o, owned := rs.owners[r]
	if owned && rs.staleLocked(r) {
		owned = false
	}
	if !wanted && !hasState {
		return room.Status{}, false
	}
	var st room.Status
	switch {
	case hasState && (!wanted || s.Desired >= d.rev):
		st = s.Status
		st.Owner = s.Node
	default:
		// Desired, and its owner (if any) has not written this desire's state yet.
		st = room.Status{Username: r, State: room.StateConnecting, Options: d.Options}
		if hasState {
			st.Stream = s.Status.Stream
		}
	}
	if owned {
		st.Owner = o.Node
	} else if st.State != room.StateStopped {
		st.Owner = "" // between owners: claimed within the lease time
		if st.State == room.StateConnected {
			st.State = room.StateReconnecting // the last owner's word, but nobody is connected now
		}
	}
	if !wanted && st.State != room.StateStopped {
		st.State, st.StopReason = room.StateStopped, room.ReasonRequested
	}
	return st, true
}

// Status is the room's status.
func (rs *Rooms) Status(username string) (room.Status, bool) {
	r, err := room.Key(username)
	if err != nil {
		return room.Status{}, false
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.statusLocked(r)
}

// List is every desired room and every room with a state, by name.
func (rs *Rooms) List() []room.Status {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	names := map[string]bool{}
	for r := range rs.desired {
		names[r] = true
	}
	for r := range rs.states {
		names[r] = true
	}
	out := make([]room.Status, 0, len(names))
	for r := range names {
		if st, ok := rs.statusLocked(r); ok {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b room.Status) int { return cmp.Compare(a.Username, b.Username) })
	return out
}

// Current is the most recently requested desired room (single-user mode's "current user").
func (rs *Rooms) Current() (room.Status, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	best, at := "", time.Time{}
	for r, d := range rs.desired {
		if best == "" || d.RequestedAt.After(at) {
			best, at = r, d.RequestedAt
		}
	}
	if best == "" {
		return room.Status{}, false
	}
	st, ok := rs.statusLocked(best)
	if !ok || st.State == room.StateStopped {
		return room.Status{}, false
	}
	return st, true
}

// Running reports whether the room is desired and not stopped.
func (rs *Rooms) Running(username string) bool {
	st, ok := rs.Status(username)
	return ok && st.State != room.StateStopped
}

// Start makes the room desired (with its options); true when it was not desired before.
func (rs *Rooms) Start(username string, opts room.StartOptions) (room.Status, bool, error) {
	r, err := room.Key(username)
	if err != nil {
		return room.Status{}, false, err
	}
	rs.mu.Lock()
	cur, wanted := rs.desired[r]
	var others []string
	for k := range rs.desired {
		if k != r {
			others = append(others, k)
		}
	}
	rs.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if wanted && (opts.Watch == nil || *opts.Watch == cur.Options) {
		st, _ := rs.Status(r)
		return st, false, nil
	}
	if rs.maxRooms == 1 {
		for _, k := range others {
			_ = rs.c.desired.Delete(ctx, roomKey(k))
		}
	} else if !wanted && len(others) >= rs.maxRooms {
		return room.Status{}, false, fmt.Errorf("%w: %d rooms are wanted in the cluster; stop one or raise --max-rooms", room.ErrRoomLimit, len(others))
	}
	d := Desired{Username: r, GiveUpOffline: opts.GiveUpOffline, RequestedAt: time.Now().UTC()}
	switch {
	case opts.Watch != nil:
		d.Options = *opts.Watch
	case wanted:
		d.Options = cur.Options
	}
	b, _ := json.Marshal(d)
	rev, err := rs.c.desired.Put(ctx, roomKey(r), b)
	if err != nil {
		return room.Status{}, false, fmt.Errorf("cluster: cannot record the room: %w (hint: is NATS reachable? see /readyz)", err)
	}
	rs.mu.Lock()
	rs.desired[r] = desiredEntry{Desired: d, rev: rev} // read your own write: the watcher may lag
	st, _ := rs.statusLocked(r)
	rs.mu.Unlock()
	return st, !wanted, nil
}

// Settled waits until the room's owner has written a state for the current desire that is past
// connecting (or the room is no longer desired).
func (rs *Rooms) Settled(ctx context.Context, username string) (room.Status, error) {
	r, err := room.Key(username)
	if err != nil {
		return room.Status{}, room.ErrNotFound
	}
	for {
		rs.mu.Lock()
		d, wanted := rs.desired[r]
		s, hasState := rs.states[r]
		st, ok := rs.statusLocked(r)
		ch := rs.changed
		rs.mu.Unlock()
		if !ok {
			return room.Status{}, room.ErrNotFound
		}
		if !wanted || (hasState && s.Desired >= d.rev && s.Status.State != room.StateConnecting) {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
}

// Stop makes the room undesired and waits (a few seconds) for its owner to stop it.
func (rs *Rooms) Stop(username, reason string) (room.Status, error) {
	r, err := room.Key(username)
	if err != nil {
		return room.Status{}, room.ErrNotFound
	}
	if !rs.Unwatch(r) {
		if st, ok := rs.Status(r); ok {
			return st, nil
		}
		return room.Status{}, room.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		rs.mu.Lock()
		_, owned := rs.owners[r]
		st, _ := rs.statusLocked(r)
		ch := rs.changed
		rs.mu.Unlock()
		if !owned {
			st.State, st.ConnectedSince, st.NextRetryAt = room.StateStopped, time.Time{}, time.Time{}
			if st.StopReason == "" {
				st.StopReason = reason
			}
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, nil // the owner stops it when it sees the change
		}
	}
}

// Unwatch makes the room undesired; false if it was not desired.
func (rs *Rooms) Unwatch(username string) bool {
	r, err := room.Key(username)
	if err != nil {
		return false
	}
	rs.mu.Lock()
	_, wanted := rs.desired[r]
	delete(rs.desired, r)
	rs.mu.Unlock()
	if !wanted {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = rs.c.desired.Delete(ctx, roomKey(r))
	return true
}

// Inject is not available in cluster mode: made-up events would need an owner to sequence them.
func (rs *Rooms) Inject(string, event.Event) error {
	return fmt.Errorf("%w: simulate needs a single-node server", room.ErrUnsupported)
}

// Quota is this node's sign budget.
func (rs *Rooms) Quota() *room.Quota { return rs.quota }

// Owners maps each owned room to its node.
func (rs *Rooms) Owners() map[string]string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make(map[string]string, len(rs.owners))
	for r, o := range rs.owners {
		if !rs.staleLocked(r) {
			out[r] = o.Node
		}
	}
	return out
}

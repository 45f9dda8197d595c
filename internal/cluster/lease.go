package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lease errors callers branch on.
var (
	ErrHeld = errors.New("cluster: room is owned by another node")
	ErrLost = errors.New("cluster: lease lost")
)

// fenceMargin is how long before the lease's expiry an owner that could not renew stops by itself:
// the others may claim the room at expiry, so an owner that keeps going past it would be a zombie.
const fenceMargin = 3 * time.Second

// Owner is the value of a room's lease.
type Owner struct {
	Node  string    `json:"node"`
	Since time.Time `json:"since"`
}

// Lease is a node's hold on one room; Rev is the KV revision of the last write, the lease's
// identity (strictly increasing per bucket, so a later owner always has a greater one).
type Lease struct {
	Room string // the room, or the role (ClaimRole)
	ID   uint64 // the winning Create's revision: constant for the lease's life

	kv  jetstream.KeyValue // where it lives: the rooms' or the roles' bucket
	key string

	mu      sync.Mutex
	rev     uint64
	renewed time.Time // monotonic: when the last successful write was sent
	value   []byte
}

// Claim takes the room's lease if nobody holds it (ErrHeld otherwise).
func (c *Conn) Claim(ctx context.Context, room string) (*Lease, error) {
	return c.create(ctx, c.owners, roomKey(room), room)
}

// create takes a lease on key in kv if nobody holds it (ErrHeld otherwise); name is what it is
// of, for errors and logs.
func (c *Conn) create(ctx context.Context, kv jetstream.KeyValue, key, name string) (*Lease, error) {
	return c.write(kv, key, name, func(val []byte) (uint64, error) {
		rev, err := kv.Create(ctx, key, val)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, ErrHeld
		}
		if err != nil {
			return 0, fmt.Errorf("cluster: claim %s: %w", name, err)
		}
		return rev, nil
	})
}

// write puts this node's lease value with put and returns the lease its revision starts.
func (c *Conn) write(kv jetstream.KeyValue, key, name string, put func(val []byte) (uint64, error)) (*Lease, error) {
	val, _ := json.Marshal(Owner{Node: c.cfg.NodeID, Since: time.Now().UTC()})
	sent := time.Now()
	rev, err := put(val)
	if err != nil {
		return nil, err
	}
	return &Lease{Room: name, ID: rev, kv: kv, key: key, rev: rev, renewed: sent, value: val}, nil
}

// Renew extends the lease by one TTL. ErrLost: someone else holds it or it expired.
func (c *Conn) Renew(ctx context.Context, l *Lease) error {
	l.mu.Lock()
	rev, val := l.rev, l.value
	l.mu.Unlock()
	sent := time.Now()
	next, err := l.kv.Update(ctx, l.key, val, rev)
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) || isWrongLast(err) {
		return fmt.Errorf("%w: %s: %v", ErrLost, l.Room, err)
	}
	if err != nil {
		return fmt.Errorf("cluster: renew %s: %w", l.Room, err)
	}
	l.mu.Lock()
	l.rev, l.renewed = next, sent
	l.mu.Unlock()
	return nil
}

// Release gives the lease up at once (a drain, or the room no longer wanted), so another node can
// claim it without waiting for the TTL. A lease that is no longer ours is left alone.
func (c *Conn) Release(ctx context.Context, l *Lease) error {
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev))
	if err != nil && !isWrongLast(err) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("cluster: release %s: %w", l.Room, err)
	}
	return nil
}

// Valid reports whether the holder may still act as owner: its last renewal is younger than the
// TTL minus a safety margin (by the monotonic clock, so a wall-clock jump changes nothing).
func (l *Lease) Valid(ttl time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Since(l.renewed) < ttl-min(fenceMargin, ttl/5)
}

// OwnerOf reads the room's lease: the owner and the lease revision; ok false when none.
func (c *Conn) OwnerOf(ctx context.Context, room string) (Owner, uint64, bool, error) {
	return readOwner(ctx, c.owners, roomKey(room), room)
}

// readOwner reads the lease on key in kv: its holder and revision; ok false when none.
func readOwner(ctx context.Context, kv jetstream.KeyValue, key, name string) (Owner, uint64, bool, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Owner{}, 0, false, nil
	}
	if err != nil {
		return Owner{}, 0, false, err
	}
	var o Owner
	if err := json.Unmarshal(e.Value(), &o); err != nil {
		return Owner{}, 0, false, fmt.Errorf("cluster: lease of %s: %w", name, err)
	}
	return o, e.Revision(), true, nil
}

// renewalsMissed reports whether a lease or heartbeat last seen written at at has missed its
// renewals for 1.5 TTL (they come every TTL/3): its writer is gone even if the expiry has not
// reached this watcher yet.
func renewalsMissed(at, now time.Time, ttl time.Duration) bool {
	return now.Sub(at) > ttl*3/2
}

// isWrongLast is JetStream's "wrong last sequence" (10071): a conditional write lost its race.
func isWrongLast(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

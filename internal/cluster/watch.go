package cluster

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// onReconnect is the NATS client's reconnect handler: it wakes everything waiting on
// reconnected.
func (c *Conn) onReconnect() {
	c.reconnMu.Lock()
	close(c.reconn)
	c.reconn = make(chan struct{})
	c.reconnMu.Unlock()
}

// reconnected is closed at the next reconnect to NATS.
func (c *Conn) reconnected() <-chan struct{} {
	c.reconnMu.Lock()
	defer c.reconnMu.Unlock()
	return c.reconn
}

// goneEntry stands for a key that a reopened watcher no longer finds in the bucket.
type goneEntry struct{ bucket, key string }

func (g goneEntry) Bucket() string                  { return g.bucket }
func (g goneEntry) Key() string                     { return g.key }
func (g goneEntry) Value() []byte                   { return nil }
func (g goneEntry) Revision() uint64                { return 0 }
func (g goneEntry) Created() time.Time              { return time.Time{} }
func (g goneEntry) Delta() uint64                   { return 0 }
func (g goneEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePurge }

// followKV watches every key of kv until ctx ends, calling on for each entry and synced after
// each opening's current values (the watcher's nil marker).
//
// The watcher is reopened when NATS closes it and after every reconnect: the client's ordered
// consumer notices a lost server only through missed heartbeats (seconds later), and it resumes
// where it was without reading the current values again. A reopened watcher reads them afresh,
// and a key known before that is no longer there comes to on as a purge: a lease that expired
// while NATS was unreachable leaves nothing to see, and a node that kept it would never claim
// the room again.
//
// The lease and heartbeat buckets are written every TTL/3 while anything lives in them, so a
// watcher of theirs that hears nothing for a TTL while it knows keys is stalled: the stream lost
// the server that led it and the client's consumer has not noticed yet (it took about 15 s after
// a kill -9). Then every watcher of the connection is reopened, as after a reconnect: the other
// buckets are likely led by the same lost server.
func (c *Conn) followKV(ctx context.Context, kv jetstream.KeyValue, on func(jetstream.KeyValueEntry), synced func()) {
	known := map[string]bool{}
	var stall time.Duration
	if b := kv.Bucket(); b == bucketOwner || b == bucketNodes {
		stall = c.cfg.LeaseTTL
	}
	quiet := time.NewTimer(time.Hour) // Reset drops a stale tick (Go 1.23 timers)
	defer quiet.Stop()
	var quietC <-chan time.Time // nil, never ready, for buckets without steady writes
	if stall > 0 {
		quietC = quiet.C
	}
	for ctx.Err() == nil {
		reconn := c.reconnected()
		w, err := kv.WatchAll(ctx)
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-reconn:
			case <-time.After(time.Second):
			}
			continue
		}
		seen, initial := map[string]bool{}, true
		heard := func() {
			if stall > 0 {
				quiet.Reset(stall)
			}
		}
		heard()
	read:
		for {
			select {
			case <-ctx.Done():
				break read
			case <-reconn:
				break read
			case <-quietC:
				if len(known) > 0 {
					c.log.Info("cluster: a bucket's watcher heard nothing for a lease TTL; reopening the watchers", "bucket", kv.Bucket())
					c.onReconnect() // reopens this one too
					break read
				}
				heard()
			case e, ok := <-w.Updates():
				if !ok {
					break read
				}
				heard()
				if e == nil {
					if initial {
						initial = false
						for k := range known {
							if !seen[k] {
								delete(known, k)
								on(goneEntry{bucket: kv.Bucket(), key: k})
							}
						}
						synced()
					}
					continue
				}
				if initial {
					seen[e.Key()] = true
				}
				if e.Operation() == jetstream.KeyValuePut {
					known[e.Key()] = true
				} else {
					delete(known, e.Key())
				}
				on(e)
			}
		}
		_ = w.Stop()
		drain(w.Updates())
		if !sleep(ctx, 200*time.Millisecond) {
			return
		}
	}
}

// drain reads a stopped watcher's updates until it closes them (its delivery may be blocked on
// the channel, holding the lock its close needs), for a second at most.
func drain(updates <-chan jetstream.KeyValueEntry) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		select {
		case _, ok := <-updates:
			if !ok {
				return
			}
		case <-t.C:
			return
		}
	}
}

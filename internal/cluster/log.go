package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// Log is the stream.Log of an ingest node: the rooms it owns append to their chains. It hands
// nothing to the hub itself; events reach clients through the Archiver, on every node alike.
type Log struct {
	mu      sync.Mutex
	chains  map[string]*chain
	orphans atomic.Uint64 // events of a room this node does not own (its lease just ended)
}

// NewLog returns an empty Log.
func NewLog() *Log { return &Log{chains: map[string]*chain{}} }

// Position is where the owned room's stream continues, as read when its lease was claimed.
func (l *Log) Position(_ context.Context, room string) (event.Position, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := l.chains[room]
	if ch == nil {
		return event.Position{}, fmt.Errorf("cluster: %s is not owned by this node", room)
	}
	return ch.pos, nil
}

// Append queues the event on its room's chain; it never blocks.
func (l *Log) Append(_ *event.Event, m *event.Encoded) {
	l.mu.Lock()
	ch := l.chains[m.Room]
	l.mu.Unlock()
	if ch == nil {
		l.orphans.Add(1)
		return
	}
	ch.enqueue(m)
}

func (l *Log) add(ch *chain) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.chains[ch.room] = ch
}

func (l *Log) remove(ch *chain) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.chains[ch.room] == ch {
		delete(l.chains, ch.room)
	}
}

// LogStats are the chains' counters.
type LogStats struct {
	Published uint64 // events appended to the stream by this node
	Dropped   uint64 // events dropped: fenced, or NATS unreachable past the queue bound
	Orphans   uint64 // events of rooms no longer owned
}

// Stats sums the chains' counters (of the rooms owned now) and the orphans.
func (l *Log) Stats() LogStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := LogStats{Orphans: l.orphans.Load()}
	for _, ch := range l.chains {
		s.Published += ch.published.Load()
		s.Dropped += ch.dropped.Load()
	}
	return s
}

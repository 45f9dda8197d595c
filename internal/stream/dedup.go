package stream

import (
	"hash/maphash"
	"strconv"
)

// recent is a set that remembers only its last n keys, in bounded memory: a ring holds the order,
// a map answers lookups; the oldest key is forgotten first. n must be at least 1. Not safe for
// concurrent use (the room's lock guards it). Both grow with the keys added, up to n: a room
// that has seen few messages costs little (sized for n up front, the two windows of the default
// --dedup-window were 600 KB per room, 93 % of a connected room's heap).
type recent[K comparable] struct {
	set  map[K]struct{}
	ring []K
	n    int
	next int // the oldest key's slot once the ring is full
}

func newRecent[K comparable](n int) recent[K] {
	return recent[K]{set: make(map[K]struct{}), n: n}
}

// add records k, forgetting the oldest key when n are held already; false means k was held.
func (r *recent[K]) add(k K) bool {
	if _, ok := r.set[k]; ok {
		return false
	}
	if len(r.ring) < r.n {
		if len(r.ring) == cap(r.ring) { // grow by doubling, as append would, but never past n
			grown := make([]K, len(r.ring), min(max(2*cap(r.ring), 16), r.n))
			copy(grown, r.ring)
			r.ring = grown
		}
		r.ring = append(r.ring, k)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = k
		r.next = (r.next + 1) % len(r.ring)
	}
	r.set[k] = struct{}{}
	return true
}

// has reports whether k is held.
func (r *recent[K]) has(k K) bool {
	_, ok := r.set[k]
	return ok
}

// idWindow remembers the last n message ids (and the last n finished streaks, at most
// maxOpenStreaks of them).
type idWindow struct {
	ids  recent[uint64]
	done recent[string]
}

func newIDWindow(n int) idWindow {
	return idWindow{ids: newRecent[uint64](n), done: newRecent[string](min(n, maxOpenStreaks))}
}

var idSeed = maphash.MakeSeed()

// idKey turns a msgId (decimal) into a set key; anything else is hashed.
func idKey(id string) uint64 {
	if v, err := strconv.ParseUint(id, 10, 64); err == nil {
		return v
	}
	return maphash.String(idSeed, id)
}

// seen reports whether id was recorded before, and records it if not.
func (w *idWindow) seen(id string) bool { return !w.ids.add(idKey(id)) }

// finished records that the streak k has ended.
func (w *idWindow) finished(k string) { w.done.add(k) }

func (w *idWindow) isFinished(k string) bool { return w.done.has(k) }

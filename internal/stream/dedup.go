package stream

import (
	"hash/maphash"
	"strconv"
)

// idWindow remembers the last n message ids (and the last n finished streaks) in bounded memory: a
// ring holds the order, a set answers lookups; the oldest is forgotten first.
type idWindow struct {
	ids  map[uint64]struct{}
	ring []uint64
	next int

	done     map[string]struct{}
	doneRing []string
	doneNext int
}

func newIDWindow(n int) idWindow {
	streaks := min(n, maxOpenStreaks)
	return idWindow{
		ids: make(map[uint64]struct{}, n), ring: make([]uint64, 0, n),
		done: make(map[string]struct{}, streaks), doneRing: make([]string, 0, streaks),
	}
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
func (w *idWindow) seen(id string) bool {
	k := idKey(id)
	if _, ok := w.ids[k]; ok {
		return true
	}
	if len(w.ring) < cap(w.ring) {
		w.ring = append(w.ring, k)
	} else {
		delete(w.ids, w.ring[w.next])
		w.ring[w.next] = k
		w.next = (w.next + 1) % len(w.ring)
	}
	w.ids[k] = struct{}{}
	return false
}

// finished records that the streak k has ended.
func (w *idWindow) finished(k string) {
	if _, ok := w.done[k]; ok {
		return
	}
	if len(w.doneRing) < cap(w.doneRing) {
		w.doneRing = append(w.doneRing, k)
	} else {
		delete(w.done, w.doneRing[w.doneNext])
		w.doneRing[w.doneNext] = k
		w.doneNext = (w.doneNext + 1) % len(w.doneRing)
	}
	w.done[k] = struct{}{}
}

func (w *idWindow) isFinished(k string) bool {
	_, ok := w.done[k]
	return ok
}

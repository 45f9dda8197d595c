package hub

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// Message is one event, encoded once, shared read-only by every subscriber. It is the contract's
// encoded event, so the store can pass it on without knowing the hub.
type Message = event.Encoded

// ClientInfo describes a subscriber for stats and logs.
type ClientInfo struct {
	Transport string // "ws-legacy" (WebSocket at /), "ws" (/v1/ws), "sse"
	Remote    string // remote address
}

// DefaultMaxQueueBytes is the per-subscriber queue limit when Options.MaxQueueBytes is 0.
const DefaultMaxQueueBytes = 1 << 20

// Options configures a Hub.
type Options struct {
	MaxQueueBytes int // per subscriber, sum of len(JSON) of queued messages; 0 = DefaultMaxQueueBytes (1 MiB)
}

// CloseError is why a subscription ended, with the WebSocket close code the transport sends.
type CloseError struct {
	Code   int    // WebSocket close code
	Reason string // short text for the close frame (< 123 bytes)
}

func (e *CloseError) Error() string {
	return "hub: " + e.Reason + " (close code " + strconv.Itoa(e.Code) + ")"
}

// End reasons. Transports compare against these and send Code and Reason in the close frame.
var (
	ErrShutdown     = &CloseError{Code: 1001, Reason: "server shutting down"}
	ErrSlowConsumer = &CloseError{Code: 4001, Reason: "slow consumer: send queue over limit"}
	ErrWriteTimeout = &CloseError{Code: 4002, Reason: "slow consumer: write timed out"}
	ErrUnsubscribed = &CloseError{Code: 1000, Reason: "unsubscribed"}
	ErrHubClosed    = errors.New("hub: closed") // from Subscribe
)

// Stats is a snapshot of the hub's counters.
type Stats struct {
	Clients        int            // live subscribers
	ByTransport    map[string]int // live subscribers per transport
	Published      uint64         // Publish calls
	Enqueued       uint64         // messages put on subscriber queues (deliveries)
	SlowCloses     uint64         // subscribers ended with ErrSlowConsumer
	TimeoutCloses  uint64         // subscribers ended by Fail(ErrWriteTimeout)
	Dropped        uint64         // messages never delivered: queues dropped when a subscription ended early
	QueuedBytes    int64          // bytes waiting in all queues now
	QueuedMessages int64          // messages waiting in all queues now
}

// Hub fans messages out to subscribers. Create it with New; all methods are safe for
// concurrent use.
type Hub struct {
	maxQueueBytes int

	// subs is the copy-on-write list of every live subscription (for Stats, Count, Drained and
	// Close). Writers replace it under mu.
	subs subList
	// Publish reads the index instead, without a lock: the subscriptions to every room (no room
	// filter), and those of each room a filter names, so a message costs its own room's
	// subscribers, not every room's. rooms is replaced under mu only when a room gains its first
	// subscriber or loses its last; a room's list changes on its own.
	everyRoom subList
	rooms     atomic.Pointer[map[string]*subList]

	mu      sync.Mutex
	closed  bool
	nextID  uint64
	closing []*Subscription // the subscriptions ended by Close, still flushing; for Drained and Stats

	published     atomic.Uint64
	enqueued      atomic.Uint64
	slowCloses    atomic.Uint64
	dropped       atomic.Uint64
	timeoutCloses atomic.Uint64
}

// New returns an open Hub.
func New(opts Options) *Hub {
	h := &Hub{maxQueueBytes: opts.MaxQueueBytes}
	if h.maxQueueBytes <= 0 {
		h.maxQueueBytes = DefaultMaxQueueBytes
	}
	h.subs.reset()
	h.everyRoom.reset()
	h.rooms.Store(&map[string]*subList{})
	return h
}

// subList is a copy-on-write list of subscriptions: loaded without a lock, changed under the
// hub's mu.
type subList struct {
	p atomic.Pointer[[]*Subscription]
}

func (l *subList) load() []*Subscription { return *l.p.Load() }

// reset empties the list (and makes a new subList ready for use).
func (l *subList) reset() { l.p.Store(new([]*Subscription)) }

// add appends s. It appends in place when the array has room: publishers holding the old slice
// see only its length, and no element they can see ever changes (remove always copies). Growing
// by doubling keeps a burst of N subscribes at O(N) copying rather than O(N²).
func (l *subList) add(s *Subscription) {
	old := l.load()
	var list []*Subscription
	if len(old) < cap(old) {
		list = append(old, s)
	} else {
		list = make([]*Subscription, len(old), max(2*len(old), 8))
		copy(list, old)
		list = append(list, s)
	}
	l.p.Store(&list)
}

// remove takes s off the list and reports whether it was on it and how many are left.
func (l *subList) remove(s *Subscription) (found bool, left int) {
	old := l.load()
	for i, x := range old {
		if x != s {
			continue
		}
		list := make([]*Subscription, 0, len(old)-1)
		list = append(list, old[:i]...)
		list = append(list, old[i+1:]...)
		l.p.Store(&list)
		return true, len(list)
	}
	return false, len(old)
}

// roomsOf lists the rooms f's subscription is indexed under; nil means every room.
func roomsOf(f *Filter) []string {
	var rooms []string
	for r, ok := range f.Rooms {
		if ok { // Match passes a room only when its value is true
			rooms = append(rooms, r)
		}
	}
	if rooms == nil && len(f.Rooms) > 0 {
		return []string{} // a filter naming no room with true matches nothing: in no list
	}
	return rooms
}

// Subscribe adds a subscriber that waits for messages with Next; returns ErrHubClosed after
// Close. The filter's maps are copied, so the caller may reuse its own.
func (h *Hub) Subscribe(f Filter, info ClientInfo) (*Subscription, error) {
	return h.subscribe(f, info, nil)
}

// SubscribeFunc adds a subscriber that is told instead of waiting: ready is called (from the
// publisher's goroutine; it must not block) each time a message is queued or the subscription
// ends, and the subscriber drains with TryNext. A client then needs no goroutine while idle.
func (h *Hub) SubscribeFunc(f Filter, info ClientInfo, ready func()) (*Subscription, error) {
	return h.subscribe(f, info, ready)
}

func (h *Hub) subscribe(f Filter, info ClientInfo, ready func()) (*Subscription, error) {
	s := &Subscription{
		hub:    h,
		info:   info,
		filter: f.clone(),
		max:    h.maxQueueBytes,
		ready:  ready,
	}
	if ready == nil {
		s.wake = make(chan struct{}, 1)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	h.nextID++
	s.id = h.nextID
	h.subs.add(s)
	h.index(s)
	return s, nil
}

// index puts s on the lists Publish reads; h.mu is held.
func (h *Hub) index(s *Subscription) {
	rooms := roomsOf(&s.filter)
	if rooms == nil {
		h.everyRoom.add(s)
		return
	}
	// The room map is copied at most once per Subscribe, however many new rooms the filter names.
	idx := *h.rooms.Load()
	var grown map[string]*subList
	for _, r := range rooms {
		l := idx[r]
		if l == nil && grown != nil {
			l = grown[r]
		}
		if l == nil {
			if grown == nil {
				grown = make(map[string]*subList, len(idx)+len(rooms))
				maps.Copy(grown, idx)
			}
			l = &subList{}
			l.reset()
			grown[r] = l
		}
		l.add(s)
	}
	if grown != nil {
		h.rooms.Store(&grown)
	}
}

// unindex takes s off the lists Publish reads; h.mu is held. A room left with no subscriber is
// forgotten, so the index follows the subscriptions, not every name ever asked for.
func (h *Hub) unindex(s *Subscription) {
	rooms := roomsOf(&s.filter)
	if rooms == nil {
		h.everyRoom.remove(s)
		return
	}
	idx := *h.rooms.Load()
	var shrunk map[string]*subList
	for _, r := range rooms {
		l := idx[r]
		if l == nil {
			continue
		}
		if _, left := l.remove(s); left == 0 {
			if shrunk == nil {
				shrunk = maps.Clone(idx)
			}
			delete(shrunk, r)
		}
	}
	if shrunk != nil {
		h.rooms.Store(&shrunk)
	}
}

// remove takes s off the live list. It is a no-op if s is not on it (already removed, or the
// hub was closed and the whole list handed to closing).
func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if found, _ := h.subs.remove(s); found {
		h.unindex(s)
	}
}

// Publish hands m to every matching subscriber's queue. It never blocks on a subscriber and never
// allocates per subscriber in the steady state. A subscriber whose queue would exceed MaxQueueBytes
// is ended with ErrSlowConsumer: its queue is dropped at once and its Next returns ErrSlowConsumer.
// Publish may be called from many goroutines; messages published by one goroutine reach each
// subscriber in that order. m must not be modified afterwards. It looks only at the subscribers of
// m.Room and those of every room.
func (h *Hub) Publish(m *Message) {
	h.published.Add(1)
	var n uint64
	if l := (*h.rooms.Load())[m.Room]; l != nil {
		n += deliver(l.load(), m)
	}
	n += deliver(h.everyRoom.load(), m)
	// One shared atomic per Publish, not per delivery: many room goroutines publish at once
	// and a per-subscriber add would bounce this cache line between them.
	if n > 0 {
		h.enqueued.Add(n)
	}
}

// deliver queues m for the subscriptions of list its filter passes, and returns how many took it.
func deliver(list []*Subscription, m *Message) uint64 {
	var n uint64
	for _, s := range list {
		if s.filter.Match(m) && s.enqueue(m) {
			n++
		}
	}
	return n
}

// Close ends every subscription with ErrShutdown. Unlike a slow-consumer end, the messages already
// queued are still returned by Next first (so a shutdown can flush), then Next returns ErrShutdown.
// Later Subscribe calls fail with ErrHubClosed. Idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	list := h.subs.load()
	h.subs.reset()
	h.everyRoom.reset()
	h.rooms.Store(&map[string]*subList{})
	h.closing = list
	h.mu.Unlock()
	// After this loop no queue can grow: a Publish still walking the old list finds every
	// subscription ended.
	for _, s := range list {
		s.end(ErrShutdown, false, false)
	}
}

// all returns the live subscriptions followed by those still flushing after Close.
func (h *Hub) all() (live, closing []*Subscription) {
	h.mu.Lock()
	closing = h.closing
	h.mu.Unlock()
	return h.subs.load(), closing
}

// Drained reports whether every subscription's queue is empty (used to bound the shutdown flush).
func (h *Hub) Drained() bool {
	live, closing := h.all()
	for _, list := range [][]*Subscription{live, closing} {
		for _, s := range list {
			if n, _ := s.queued(); n > 0 {
				return false
			}
		}
	}
	return true
}

// Unfinished reports, after Close, the subscriptions whose transport has not finished with them
// (not yet released by Close or Fail: the client has not had its last messages and close), and
// the messages still queued for them. For the shutdown's log when the flush runs out of time.
func (h *Hub) Unfinished() (clients, messages int) {
	_, closing := h.all()
	for _, s := range closing {
		if !s.released.Load() {
			clients++
			n, _ := s.queued()
			messages += n
		}
	}
	return clients, messages
}

// Stats returns a snapshot. Queue sizes are summed from the subscriptions themselves rather than
// kept in shared counters, so Publish pays nothing for them; Stats is O(subscribers).
func (h *Hub) Stats() Stats {
	live, closing := h.all()
	st := Stats{
		Clients:       len(live),
		ByTransport:   map[string]int{},
		Published:     h.published.Load(),
		Enqueued:      h.enqueued.Load(),
		SlowCloses:    h.slowCloses.Load(),
		Dropped:       h.dropped.Load(),
		TimeoutCloses: h.timeoutCloses.Load(),
	}
	for _, s := range live {
		st.ByTransport[s.info.Transport]++
	}
	for _, list := range [][]*Subscription{live, closing} {
		for _, s := range list {
			n, b := s.queued()
			st.QueuedMessages += int64(n)
			st.QueuedBytes += int64(b)
		}
	}
	return st
}

// Count returns the number of live subscribers with this transport ("" = all).
func (h *Hub) Count(transport string) int {
	live := h.subs.load()
	if transport == "" {
		return len(live)
	}
	n := 0
	for _, s := range live {
		if s.info.Transport == transport {
			n++
		}
	}
	return n
}

// maxSpareCap is the queue buffer capacity a subscription always keeps between Next calls.
// A larger buffer is kept only while batches still fill a quarter of it, so a sustained backlog
// does not reallocate on every swap but one burst does not pin a large array for the life of
// the connection.
const maxSpareCap = 1024

// Subscription is one subscriber's queue. Publish fills it; the transport's writer drains it
// with Next.
type Subscription struct {
	hub    *Hub
	id     uint64
	info   ClientInfo
	filter Filter
	max    int
	wake   chan struct{} // capacity 1: "the queue or the end reason changed"; sends never block
	ready  func()        // instead of wake (SubscribeFunc)

	released atomic.Bool // the transport is done with it (Close or Fail)

	mu    sync.Mutex
	queue []*Message
	bytes int
	err   *CloseError

	spare []*Message // the other queue buffer; touched only by Next (one goroutine)
}

// ID returns the subscription's id: unique within the hub, increasing in Subscribe order.
func (s *Subscription) ID() uint64 { return s.id }

// Info returns the ClientInfo given to Subscribe.
func (s *Subscription) Info() ClientInfo { return s.info }

// Filter returns the subscription's filter. Its maps must not be modified.
func (s *Subscription) Filter() Filter { return s.filter }

// enqueue appends m, or ends s with ErrSlowConsumer if m would take the queue over the limit.
// It reports whether m was queued.
func (s *Subscription) enqueue(m *Message) bool {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return false
	}
	if s.bytes+len(m.JSON) > s.max {
		// Decided under the same lock as the check, so no other publisher's message slips in
		// between the overflow and the end.
		s.endLocked(ErrSlowConsumer, true)
		s.hub.dropped.Add(1) // m itself
		s.mu.Unlock()
		s.ended(ErrSlowConsumer, true)
		return false
	}
	s.queue = append(s.queue, m)
	s.bytes += len(m.JSON)
	s.mu.Unlock()
	s.signal()
	return true
}

func (s *Subscription) signal() {
	if s.ready != nil {
		s.ready()
		return
	}
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending; Next will see everything queued
	}
}

// end records reason if s is still live and drops the queue if drop is set. The queue is dropped
// even when s had already ended: a client that goes away during the shutdown flush must not keep
// Drained false. unlist takes s off the hub's list; Close does that for all at once instead.
func (s *Subscription) end(reason *CloseError, drop, unlist bool) {
	s.mu.Lock()
	first := s.endLocked(reason, drop)
	s.mu.Unlock()
	if first {
		s.ended(reason, unlist)
	} else if drop {
		s.signal()
	}
}

// endLocked is end's part under s.mu; it reports whether reason is the end reason now.
func (s *Subscription) endLocked(reason *CloseError, drop bool) bool {
	first := s.err == nil
	if first {
		s.err = reason
	}
	if drop {
		s.hub.dropped.Add(uint64(len(s.queue)))
		clear(s.queue) // let the GC free the messages even if the array were kept
		s.queue = nil
		s.bytes = 0
	}
	return first
}

// ended is end's part after s.mu is released (the hub lock is taken after, never inside, s.mu).
func (s *Subscription) ended(reason *CloseError, unlist bool) {
	switch reason.Code {
	case ErrSlowConsumer.Code:
		s.hub.slowCloses.Add(1)
	case ErrWriteTimeout.Code:
		s.hub.timeoutCloses.Add(1)
	}
	if unlist {
		s.hub.remove(s)
	}
	s.signal()
}

// queued returns the number of messages and bytes waiting.
func (s *Subscription) queued() (n, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue), s.bytes
}

// Next appends every queued message, in publish order, to dst and returns it. It blocks until at
// least one message is queued, the subscription ends, or ctx is done. When the subscription has
// ended it returns the remaining messages (if the end allows a flush: only ErrShutdown does) and
// then, on the call after the queue is empty, (dst, *CloseError). If ctx is done while Next would
// block it returns (dst, ctx.Err()); queued messages are returned first even if ctx is done.
// Only one goroutine calls Next. Messages must not be modified by the caller.
func (s *Subscription) Next(ctx context.Context, dst []*Message) ([]*Message, error) {
	for {
		dst, got, err := s.take(dst)
		if got || err != nil {
			return dst, err
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return dst, ctx.Err()
		}
	}
}

// Pending reports whether TryNext has something to return: queued messages or the end.
func (s *Subscription) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) > 0 || s.err != nil
}

// TryNext is Next without waiting: it returns what is queued (possibly nothing) and, once the
// queue is empty and the subscription has ended, the end reason. For SubscribeFunc subscribers.
func (s *Subscription) TryNext(dst []*Message) ([]*Message, error) {
	dst, _, err := s.take(dst)
	return dst, err
}

// take appends what is queued to dst (got reports whether there was any); with nothing queued it
// returns the end reason, nil while live.
func (s *Subscription) take(dst []*Message) (_ []*Message, got bool, _ error) {
	s.mu.Lock()
	if len(s.queue) > 0 {
		// Swap buffers so the lock is held O(1) and Publish is never delayed by the copy.
		q := s.queue
		s.queue = s.spare
		s.spare = nil
		s.bytes = 0
		s.mu.Unlock()
		dst = append(dst, q...)
		clear(q)
		if cap(q) <= maxSpareCap || len(q) >= cap(q)/4 {
			s.spare = q[:0]
		}
		return dst, true, nil
	}
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return dst, false, err
	}
	return dst, false, nil
}

// Fail ends the subscription with reason (e.g. ErrWriteTimeout, when the transport's write
// deadline passed); the queue is dropped. Idempotent; the first end reason wins. A nil reason
// means ErrUnsubscribed.
func (s *Subscription) Fail(reason *CloseError) {
	if reason == nil {
		reason = ErrUnsubscribed
	}
	s.released.Store(true)
	s.end(reason, true, true)
}

// Close unsubscribes (the client went away) and drops the queue. Idempotent. Next then returns
// ErrUnsubscribed, unless the subscription had already ended for another reason.
func (s *Subscription) Close() {
	s.released.Store(true)
	s.end(ErrUnsubscribed, true, true)
}

// Err returns the end reason, or nil while live.
func (s *Subscription) Err() *CloseError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

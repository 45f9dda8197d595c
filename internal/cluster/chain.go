package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// Headers of the room messages.
const (
	hKind  = "Tk-Kind" // "claim" or "event"
	hLease = "Tk-Lease"
	hNode  = "Tk-Node"
	hRoom  = "Tk-Room"
	hEpoch = "Tk-Epoch"
	hSeq   = "Tk-Seq"
	hCount = "Tk-Count" // events in the message (JSON lines)

	kindClaim = "claim"
	kindEvent = "event"
)

// A busy room's queued events go out as one message (JSON lines) of at most this many events or
// bytes: appends are serial per room, so batching is what lets a busy room through.
const (
	maxBatchEvents = 256
	maxBatchBytes  = 256 << 10
)

// maxChainQueue bounds the events waiting for NATS in one room; past it (NATS unreachable for
// long, while the lease is still valid) new events are dropped and counted.
const maxChainQueue = 100_000

// chain is an owned room's publisher: one goroutine appending the room's events, in order, each
// conditional on the subject's last sequence being our previous append.
type chain struct {
	c     *Conn
	room  string
	subj  string
	lease *Lease
	pos   event.Position // where the room's stream continues (read at the claim)
	last  uint64         // the subject's last stream sequence: our last append

	mu     sync.Mutex
	queue  []*event.Encoded
	busy   bool // a message is being appended
	wake   chan struct{}
	idle   chan struct{} // closed and replaced when the queue empties
	closed bool
	err    error // why it stopped

	done      chan struct{}
	published atomic.Uint64
	dropped   atomic.Uint64
}

// claimChain appends the claim marker that makes this lease the room's writer and returns the
// chain positioned after it. An older owner's appends after the marker fail.
func (c *Conn) claimChain(ctx context.Context, l *Lease) (*chain, error) {
	ch := &chain{c: c, room: l.Room, subj: subject(l.Room), lease: l,
		wake: make(chan struct{}, 1), idle: make(chan struct{}), done: make(chan struct{})}
	for attempt := 0; ; attempt++ {
		last, pos, err := c.lastOfRoom(ctx, l.Room)
		if err != nil {
			return nil, err
		}
		m := nats.NewMsg(ch.subj)
		m.Header.Set(hKind, kindClaim)
		m.Header.Set(hLease, strconv.FormatUint(l.ID, 10))
		m.Header.Set(hNode, c.cfg.NodeID)
		m.Header.Set(hRoom, l.Room)
		m.Header.Set(hEpoch, pos.Epoch)
		m.Header.Set(hSeq, strconv.FormatUint(pos.Seq, 10))
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ack, err := c.js.PublishMsg(actx, m, jetstream.WithMsgID(l.Room+":"+strconv.FormatUint(l.ID, 10)+":claim"),
			jetstream.WithExpectLastSequencePerSubject(last))
		cancel()
		switch {
		case err == nil:
			ch.last, ch.pos = ack.Sequence, pos
			return ch, nil
		case isWrongLast(err) && attempt < 20:
			continue // someone appended since we read (an old owner's last events): read again
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case attempt < 20:
			if !sleep(ctx, backoff(attempt)) {
				return nil, ctx.Err()
			}
		default:
			return nil, fmt.Errorf("cluster: claim marker for %s: %w", l.Room, err)
		}
	}
}

// lastOfRoom reads the room subject's last message: its stream sequence (0 if none) and the
// room's position it carries.
func (c *Conn) lastOfRoom(ctx context.Context, room string) (uint64, event.Position, error) {
	var (
		lm  *jetstream.RawStreamMsg
		err error
	)
	err = retry(ctx, func(ctx context.Context) error {
		lm, err = c.events.GetLastMsgForSubject(ctx, subject(room))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			lm, err = nil, nil
		}
		return err
	})
	if err != nil {
		return 0, event.Position{}, fmt.Errorf("cluster: read the last message of %s: %w", room, err)
	}
	if lm == nil {
		return 0, event.Position{}, nil
	}
	seq, _ := strconv.ParseUint(lm.Header.Get(hSeq), 10, 64)
	return lm.Sequence, event.Position{Epoch: lm.Header.Get(hEpoch), Seq: seq}, nil
}

func (ch *chain) enqueue(m *event.Encoded) {
	ch.mu.Lock()
	if ch.closed || len(ch.queue) >= maxChainQueue {
		ch.mu.Unlock()
		ch.dropped.Add(1)
		return
	}
	ch.queue = append(ch.queue, m)
	ch.mu.Unlock()
	select {
	case ch.wake <- struct{}{}:
	default:
	}
}

// run appends queued events until ctx ends or the chain is fenced; fenced is called then with why.
func (ch *chain) run(ctx context.Context, fenced func(room string, err error)) {
	defer close(ch.done)
	for {
		ch.mu.Lock()
		if len(ch.queue) == 0 {
			ch.busy = false
			close(ch.idle)
			ch.idle = make(chan struct{})
			ch.mu.Unlock()
			select {
			case <-ctx.Done():
				ch.stop(ctx.Err())
				return
			case <-ch.wake:
				continue
			}
		}
		n, size := 0, 0
		for n < len(ch.queue) && n < maxBatchEvents && (n == 0 || size+len(ch.queue[n].JSON) < maxBatchBytes) {
			size += len(ch.queue[n].JSON) + 1
			n++
		}
		batch := append([]*event.Encoded(nil), ch.queue[:n]...)
		clear(ch.queue[:n])
		ch.queue = ch.queue[n:]
		ch.busy = true
		ch.mu.Unlock()
		if err := ch.append(ctx, batch...); err != nil {
			ch.stop(err)
			if ctx.Err() == nil {
				fenced(ch.room, err)
			}
			return
		}
	}
}

func (ch *chain) stop(err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.closed, ch.err = true, err
	ch.dropped.Add(uint64(len(ch.queue)))
	ch.queue = nil
	close(ch.idle)
	ch.idle = make(chan struct{})
}

// append publishes events of the room (in seq order) as one message: retried (same message id) on a NATS failure; an answer "wrong last
// sequence" is either our own earlier attempt that was stored although its ack was lost (the last
// message has our id) or another node's append: then this lease is fenced.
func (ch *chain) append(ctx context.Context, ms ...*event.Encoded) error {
	first, last := ms[0], ms[len(ms)-1]
	id := ch.room + ":" + strconv.FormatUint(ch.lease.ID, 10) + ":" + strconv.FormatUint(first.Seq, 10) + "-" + strconv.FormatUint(last.Seq, 10)
	msg := nats.NewMsg(ch.subj)
	if len(ms) == 1 {
		msg.Data = first.JSON
	} else {
		size := 0
		for _, m := range ms {
			size += len(m.JSON) + 1
		}
		msg.Data = make([]byte, 0, size)
		for i, m := range ms {
			if i > 0 {
				msg.Data = append(msg.Data, '\n') // JSON never holds a raw newline
			}
			msg.Data = append(msg.Data, m.JSON...)
		}
	}
	msg.Header.Set(hKind, kindEvent)
	msg.Header.Set(hLease, strconv.FormatUint(ch.lease.ID, 10))
	msg.Header.Set(hNode, ch.c.cfg.NodeID)
	msg.Header.Set(hRoom, first.Room)
	msg.Header.Set(hEpoch, last.Epoch)
	msg.Header.Set(hSeq, strconv.FormatUint(last.Seq, 10)) // the room's position after this message
	msg.Header.Set(hCount, strconv.Itoa(len(ms)))
	for attempt := 0; ; attempt++ {
		if !ch.lease.Valid(ch.c.cfg.LeaseTTL) {
			return fmt.Errorf("%w: %s: not renewed in time (self-fenced)", ErrLost, ch.room)
		}
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ack, err := ch.c.js.PublishMsg(actx, msg, jetstream.WithMsgID(id), jetstream.WithExpectLastSequencePerSubject(ch.last))
		cancel()
		if err == nil {
			ch.last = ack.Sequence
			ch.published.Add(uint64(len(ms)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isWrongLast(err) {
			lm, gerr := ch.c.events.GetLastMsgForSubject(ctx, ch.subj)
			if gerr == nil && lm.Header.Get(jetstream.MsgIDHeader) == id {
				ch.last = lm.Sequence // ours: stored, its ack lost
				ch.published.Add(uint64(len(ms)))
				return nil
			}
			if gerr == nil {
				return fmt.Errorf("%w: %s: node %q appended after us (lease %s)", ErrLost, ch.room, lm.Header.Get(hNode), lm.Header.Get(hLease))
			}
			// Could not read: retry; the next answer decides.
		}
		if !sleep(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
}

// flush waits until every queued event is appended (or the chain stopped), or ctx ends.
func (ch *chain) flush(ctx context.Context) error {
	for {
		ch.mu.Lock()
		empty := (len(ch.queue) == 0 && !ch.busy) || ch.closed
		idle := ch.idle
		ch.mu.Unlock()
		if empty {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func backoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt, 4)
	return min(d, time.Second)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

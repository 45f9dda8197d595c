package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
)

// Log is the committed event log the follower reads (*store.Store). Its cursors only grow and are
// never reused (store migration 0003).
type Log interface {
	LastCursor(ctx context.Context) (int64, error)
	EventsAfter(ctx context.Context, after int64, types []string, limit int, buf []store.Row) ([]store.Row, int64, error)
}

// FollowQueue is what the follower needs of the queue (*SQLiteQueue).
type FollowQueue interface {
	Cursor(ctx context.Context) (int64, bool, error)
	Advance(ctx context.Context, now time.Time, position int64, ds ...Delivery) (int, error)
	ListEndpoints(ctx context.Context) ([]Endpoint, error)
}

// Defaults of FollowerOptions.
const (
	DefaultFollowPoll     = 5 * time.Second
	DefaultFollowCoalesce = 50 * time.Millisecond
	followChunk           = 512
)

// FollowerOptions configures a Follower. Zero values take the defaults.
type FollowerOptions struct {
	Queue FollowQueue
	Log   Log
	// Queued is called after a step queued new deliveries (Dispatcher.Notify).
	Queued func()
	TTL    func(typ string) time.Duration // nil: DefaultTTL
	// PollInterval bounds the wait for new events when no Notify comes (it always should).
	PollInterval time.Duration
	// Coalesce is the least time between two passes over the log: a burst of commits, each one
	// a Notify, is read in one pass.
	Coalesce time.Duration
	Clock    Clock
	Logger   *slog.Logger
}

// Follower turns committed events into queued deliveries. It reads the event log after a cursor
// kept in the queue's database, maps each event with Deliveries for the enabled endpoints, and
// queues the deliveries and moves the cursor in one transaction (Advance). A crash anywhere loses
// nothing: what the log committed and the cursor had not passed is read again at the next start,
// and what was queued is not queued twice (the same webhook-id, deduplicated by the queue).
type Follower struct {
	o      FollowerOptions
	log    *slog.Logger
	wake   chan struct{}
	cursor atomic.Int64
	buf    []store.Row
}

// NewFollower fills in the defaults. Call Start, then Run.
func NewFollower(o FollowerOptions) (*Follower, error) {
	if o.Queue == nil || o.Log == nil {
		return nil, errors.New("webhook: a follower needs a queue and a log")
	}
	if o.Queued == nil {
		o.Queued = func() {}
	}
	if o.TTL == nil {
		o.TTL = DefaultTTL
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultFollowPoll
	}
	if o.Coalesce <= 0 {
		o.Coalesce = DefaultFollowCoalesce
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Follower{o: o, log: o.Logger, wake: make(chan struct{}, 1)}, nil
}

// Notify says events were committed: the follower reads the log now rather than at its next poll.
// It never blocks (the store's writer calls it).
func (f *Follower) Notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Cursor is how far the follower has read the log.
func (f *Follower) Cursor() int64 { return f.cursor.Load() }

// Start settles where the follower begins: the persisted cursor; at the log's end on a first start
// (events from before webhooks were set up are not sent); at the log's end too when the log is
// behind the cursor (a new or replaced events.db: its cursors start again). Events committed after
// Start returns are never missed.
func (f *Follower) Start(ctx context.Context) error {
	pos, ok, err := f.o.Queue.Cursor(ctx)
	if err != nil {
		return err
	}
	last, err := f.o.Log.LastCursor(ctx)
	if err != nil {
		return fmt.Errorf("webhook: follow the event log: %w", err)
	}
	switch {
	case !ok:
		pos = last
	case pos > last:
		f.log.Warn("webhooks: the event log is behind the webhook cursor (a new or replaced events.db); following it from its end",
			"cursor", pos, "logEnd", last)
		pos = last
	}
	if _, err := f.o.Queue.Advance(ctx, f.o.Clock.Now(), pos); err != nil {
		return err
	}
	f.cursor.Store(pos)
	return nil
}

// Run follows the log until ctx ends. A failed step is logged and tried again.
func (f *Follower) Run(ctx context.Context) error {
	retry := time.Duration(0)
	for {
		wait := f.o.PollInterval
		if err := f.catchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			retry = min(max(2*retry, 100*time.Millisecond), f.o.PollInterval)
			wait = retry
			f.log.Warn("webhooks: following the event log failed; trying again", "err", err, "in", retry)
		} else {
			retry = 0
		}
		if !f.sleep(ctx, wait, true) {
			return nil
		}
		// Woken: let the burst of commits that woke us finish, then read it in one pass.
		if !f.sleep(ctx, f.o.Coalesce, false) {
			return nil
		}
	}
}

// sleep waits d, or for a Notify when wakeable; false when ctx ended.
func (f *Follower) sleep(ctx context.Context, d time.Duration, wakeable bool) bool {
	t := f.o.Clock.NewTimer(d)
	defer t.Stop()
	var wake <-chan struct{}
	if wakeable {
		wake = f.wake
	}
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C():
	}
	return true
}

// catchUp reads the log from the cursor to its end, a chunk at a time.
func (f *Follower) catchUp(ctx context.Context) error {
	all, err := f.o.Queue.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	endpoints := all[:0]
	for _, ep := range all {
		if !ep.Disabled {
			endpoints = append(endpoints, ep)
		}
	}
	for {
		cursor := f.cursor.Load()
		if len(endpoints) == 0 {
			// No one to deliver to: skip what is there without reading it.
			last, err := f.o.Log.LastCursor(ctx)
			if err != nil {
				return fmt.Errorf("webhook: follow the event log: %w", err)
			}
			if last <= cursor {
				return nil
			}
			if _, err := f.o.Queue.Advance(ctx, f.o.Clock.Now(), last); err != nil {
				return err
			}
			f.cursor.Store(last)
			return nil
		}
		rows, next, err := f.o.Log.EventsAfter(ctx, cursor, EventTypes, followChunk, f.buf)
		f.buf = rows[:0]
		if err != nil {
			return fmt.Errorf("webhook: follow the event log: %w", err)
		}
		if next <= cursor {
			return nil
		}
		var ds []Delivery
		for i := range rows {
			r := &rows[i]
			var ev event.Event
			if err := json.Unmarshal(r.JSON, &ev); err != nil {
				// One unreadable event must not stop every webhook after it.
				f.log.Warn("webhooks: skipping an event the log holds but that does not decode", "cursor", r.Cursor, "room", r.Room, "seq", r.Seq, "err", err)
				continue
			}
			d, err := Deliveries(&ev, endpoints, f.o.TTL)
			if err != nil {
				f.log.Warn("webhooks: skipping an event that does not map", "cursor", r.Cursor, "room", r.Room, "seq", r.Seq, "err", err)
				continue
			}
			ds = append(ds, d...)
		}
		n, err := f.o.Queue.Advance(ctx, f.o.Clock.Now(), next, ds...)
		if err != nil {
			return err
		}
		f.cursor.Store(next)
		if n > 0 {
			f.o.Queued()
		}
	}
}

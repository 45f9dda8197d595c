package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// Sink is where the Archiver puts events: the store (which delivers them to the hub once
// committed, through the Archiver's Delivered).
type Sink interface {
	Position(ctx context.Context, room string) (event.Position, error)
	Append(e *event.Event, m *event.Encoded)
}

// ArchiverConfig configures an Archiver.
type ArchiverConfig struct {
	Sink Sink
	// Backlog, if set, is how many events wait in the sink; past MaxBacklog the archiver waits, so
	// the store is never asked to shed.
	Backlog    func() int
	MaxBacklog int
	// StatePath keeps the stream sequence archived so far, so a restart does not replay the
	// whole stream ("" = start from the stream's beginning every time; replays are skipped).
	StatePath string
	Logger    *slog.Logger
}

// Archiver copies the event stream, in stream order, into the node's store: every node has every
// room's events at the positions their owner gave them. Events the store already has (a replay
// after a restart) are skipped by position.
type Archiver struct {
	c   *Conn
	cfg ArchiverConfig

	mu        sync.Mutex
	positions map[string]event.Position
	pending   []uint64 // per event handed to the sink, not yet delivered (FIFO): the stream sequence done once it is
	committed uint64   // the last stream sequence whose event the sink delivered
	created   time.Time

	seen     atomic.Uint64 // the last stream sequence read
	archived atomic.Uint64 // events handed to the sink
	skipped  atomic.Uint64 // replays skipped
	gaps     atomic.Uint64 // seq jumps within an epoch (events an owner could not append)
	ready    atomic.Bool   // caught up with the stream once
}

type archiveState struct {
	Created time.Time `json:"streamCreated"`
	Seq     uint64    `json:"seq"`
}

// NewArchiver returns an archiver of c's stream into cfg.Sink.
func NewArchiver(c *Conn, cfg ArchiverConfig) *Archiver {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = 5000
	}
	return &Archiver{c: c, cfg: cfg, positions: map[string]event.Position{}}
}

// Delivered is the store's Deliver hook: m was committed (in append order).
func (a *Archiver) Delivered(*event.Encoded) {
	a.mu.Lock()
	if len(a.pending) > 0 {
		a.committed = a.pending[0]
		a.pending = a.pending[1:]
	}
	a.mu.Unlock()
}

// Run archives until ctx ends. A NATS outage is waited out (the consumer recovers by itself).
func (a *Archiver) Run(ctx context.Context) error {
	var info *jetstream.StreamInfo
	if err := retry(ctx, func(ctx context.Context) (err error) {
		info, err = a.c.events.Info(ctx)
		return err
	}); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while NATS was away
		}
		return fmt.Errorf("cluster: archiver: stream info: %w", err)
	}
	st := a.load()
	start := uint64(1)
	if st.Created.Equal(info.Created) && st.Seq > 0 {
		start = st.Seq + 1
	}
	a.mu.Lock()
	a.created, a.committed = info.Created, start-1
	a.mu.Unlock()
	if info.State.LastSeq < start {
		a.ready.Store(true)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subjectPrefix + ">"}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if start > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start
	}
	var cons jetstream.Consumer
	if err := retry(ctx, func(ctx context.Context) (err error) {
		cons, err = a.c.events.OrderedConsumer(ctx, cfg)
		return err
	}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("cluster: archiver: consumer: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("cluster: archiver: %w", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { <-ctx.Done(); it.Stop() })
	wg.Go(func() { a.saveLoop(ctx) })
	defer wg.Wait()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			a.cfg.Logger.Warn("cluster: archiver read failed; retrying", "err", err)
			if !sleep(ctx, 200*time.Millisecond) {
				return nil
			}
			continue
		}
		if err := a.handle(ctx, msg); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.cfg.Logger.Error("cluster: archiver: message not archived", "err", err)
		}
	}
}

func (a *Archiver) handle(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return err
	}
	sseq := meta.Sequence.Stream
	a.seen.Store(sseq)
	if meta.NumPending == 0 {
		a.ready.Store(true)
	}
	h := msg.Headers()
	if h.Get(hKind) != kindEvent {
		a.advance(sseq)
		return nil
	}
	room := h.Get(hRoom)
	if room == "" {
		a.advance(sseq)
		return fmt.Errorf("stream message %d names no room", sseq)
	}
	pos, err := a.position(ctx, room)
	if err != nil {
		return err
	}
	data := msg.Data()
	handed := 0
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		var e event.Event
		if err := json.Unmarshal(line, &e); err != nil || e.Epoch == "" {
			a.cfg.Logger.Error("cluster: archiver: an event in the stream cannot be read; skipped", "stream", sseq, "room", room, "err", err)
			continue
		}
		if pos.Epoch == e.Epoch && e.Seq <= pos.Seq {
			a.skipped.Add(1)
			continue
		}
		if pos.Epoch == e.Epoch && e.Seq > pos.Seq+1 {
			a.gaps.Add(1)
			a.cfg.Logger.Warn("cluster: room stream has a gap", "room", room, "after", pos.Seq, "next", e.Seq)
		}
		m := &event.Encoded{Room: room, Type: e.Type, Seq: e.Seq, Epoch: e.Epoch, JSON: line}
		if g, ok := e.Data.(event.GiftData); ok && g.StreakState == event.StreakProgress {
			m.StreakStep = true
		}
		for a.cfg.Backlog != nil && a.cfg.Backlog() > a.cfg.MaxBacklog {
			if !sleep(ctx, 2*time.Millisecond) {
				return ctx.Err()
			}
		}
		pos = event.Position{Epoch: e.Epoch, Seq: e.Seq}
		a.mu.Lock()
		a.positions[room] = pos
		// Once delivered, an event makes everything before its message done, and the message's
		// last line the message itself.
		done := sseq - 1
		if len(data) == 0 {
			done = sseq
		}
		a.pending = append(a.pending, done)
		a.mu.Unlock()
		a.archived.Add(1)
		handed++
		a.cfg.Sink.Append(&e, m)
	}
	if handed == 0 {
		a.advance(sseq)
	}
	return nil
}

// advance records a stream message that needs no delivery as done, once all before it are.
func (a *Archiver) advance(sseq uint64) {
	a.mu.Lock()
	if len(a.pending) == 0 {
		a.committed = sseq
	}
	a.mu.Unlock()
}

func (a *Archiver) position(ctx context.Context, room string) (event.Position, error) {
	a.mu.Lock()
	p, ok := a.positions[room]
	a.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := a.cfg.Sink.Position(ctx, room)
	if err != nil {
		return p, fmt.Errorf("room %s position: %w", room, err)
	}
	a.mu.Lock()
	a.positions[room] = p
	a.mu.Unlock()
	return p, nil
}

// Ready reports whether the archiver has caught up with the stream once (readiness).
func (a *Archiver) Ready() bool { return a.ready.Load() }

// ArchiveStats are the archiver's counters.
type ArchiveStats struct {
	Seen      uint64 `json:"streamSeq"` // the last stream sequence read
	Committed uint64 `json:"committedSeq"`
	Archived  uint64 `json:"archived"`
	Skipped   uint64 `json:"skipped"`
	Gaps      uint64 `json:"gaps"`
}

// Stats returns the counters.
func (a *Archiver) Stats() ArchiveStats {
	a.mu.Lock()
	committed := a.committed
	a.mu.Unlock()
	return ArchiveStats{Seen: a.seen.Load(), Committed: committed, Archived: a.archived.Load(), Skipped: a.skipped.Load(), Gaps: a.gaps.Load()}
}

func (a *Archiver) load() archiveState {
	var st archiveState
	if a.cfg.StatePath == "" {
		return st
	}
	b, err := os.ReadFile(a.cfg.StatePath)
	if err == nil {
		_ = json.Unmarshal(b, &st)
	}
	return st
}

func (a *Archiver) saveLoop(ctx context.Context) {
	if a.cfg.StatePath == "" {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var saved uint64
	for {
		select {
		case <-ctx.Done():
			a.save(&saved)
			return
		case <-t.C:
			a.save(&saved)
		}
	}
}

func (a *Archiver) save(saved *uint64) {
	a.mu.Lock()
	st := archiveState{Created: a.created, Seq: a.committed}
	a.mu.Unlock()
	if st.Seq == *saved {
		return
	}
	b, _ := json.Marshal(st)
	tmp := a.cfg.StatePath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		a.cfg.Logger.Warn("cluster: cannot save the archive position", "err", err)
		return
	}
	if err := os.Rename(tmp, a.cfg.StatePath); err != nil {
		a.cfg.Logger.Warn("cluster: cannot save the archive position", "err", err)
		return
	}
	*saved = st.Seq

}

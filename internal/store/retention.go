package store

import (
	"context"
	"time"
)

// Retention works in turns of at most pruneChunk rows per table, each its own short transaction
// on the writer's connection, so a large backlog of old sessions never holds commits up for long.
// The writer takes a turn whenever it is idle, and at most one per pruneSpacing while events are
// waiting: retention keeps making progress when the writer never catches up.
const (
	pruneChunk   = 1000
	pruneSpacing = 100 * time.Millisecond
)

// Prune removes what retention no longer keeps: sessions whose last event is older than now minus
// Options.Retention, with their events and captures, and events outside any session that old. It
// runs in the background; tests and operators may call it directly (it runs the turns back to
// back). It returns the events removed.
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	if s.opts.Retention <= 0 {
		return 0, nil
	}
	p := &prunePass{cutoff: now.Add(-s.opts.Retention).UnixMilli()}
	for !p.done {
		if err := s.pruneStep(ctx, p); err != nil {
			return p.removed, err
		}
	}
	return p.removed, nil
}

// prunePass is one retention pass: everything older than cutoff (unix ms) goes, a turn at a time.
type prunePass struct {
	cutoff  int64
	removed int64 // events
	done    bool
}

// pruneStep deletes up to pruneChunk old events and captures; once none are left, the old
// sessions themselves, and the pass is done.
func (s *Store) pruneStep(ctx context.Context, p *prunePass) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Live sessions are kept whatever their age: their events are still arriving. A session
	// reopened meanwhile (the same broadcast again) stops matching, so its pruning stops too.
	const old = "SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?"
	res, err := tx.ExecContext(ctx, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE session_id IN ("+old+") LIMIT ?)",
		p.cutoff, pruneChunk)
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	if n < pruneChunk {
		res, err := tx.ExecContext(ctx, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE session_id IS NULL AND at < ? LIMIT ?)",
			p.cutoff, pruneChunk-n)
		if err != nil {
			return err
		}
		m, _ := res.RowsAffected()
		n += m
	}
	res, err = tx.ExecContext(ctx, "DELETE FROM captures WHERE id IN (SELECT id FROM captures WHERE session_id IN ("+old+") LIMIT ?)",
		p.cutoff, pruneChunk)
	if err != nil {
		return err
	}
	c, _ := res.RowsAffected()
	done := n < pruneChunk && c < pruneChunk
	if done {
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?", p.cutoff); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.pruned.Add(uint64(n))
	p.removed += n
	p.done = done
	return nil
}

// startPrune begins a retention pass in the writer, unless one is running.
func (s *Store) startPrune(now time.Time) {
	if s.opts.Retention > 0 && s.pass == nil {
		s.pass = &prunePass{cutoff: now.Add(-s.opts.Retention).UnixMilli()}
	}
}

// pruneTurn is one turn of the writer's retention pass, logging rather than failing: a failed
// pass is dropped and the next tick starts another.
func (s *Store) pruneTurn(ctx context.Context) {
	p := s.pass
	s.lastTurn = time.Now()
	if err := s.pruneStep(ctx, p); err != nil {
		s.pass = nil
		if ctx.Err() == nil {
			s.log.Warn("store: retention prune failed; will retry at the next interval", "err", err)
		}
		return
	}
	if p.done {
		s.pass = nil
		if p.removed > 0 {
			s.log.Info("store: retention pruned old events", "events", p.removed, "retention", s.opts.Retention)
		}
	}
}

// pruneMemory keeps the in-memory log within MemoryMaxEvents, dropping the oldest events (and
// captures past the same count), so a memory-only server runs for ever in bounded memory.
func (s *Store) pruneMemory(ctx context.Context) {
	max := s.opts.MemoryMaxEvents
	res, err := s.w.ExecContext(ctx, "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)", max)
	if err == nil {
		n, _ := res.RowsAffected()
		s.pruned.Add(uint64(n))
		_, err = s.w.ExecContext(ctx, "DELETE FROM captures WHERE id <= (SELECT id FROM captures ORDER BY id DESC LIMIT 1 OFFSET ?)", max)
	}
	if err != nil {
		s.log.Warn("store: memory bound prune failed", "err", err)
	}
}

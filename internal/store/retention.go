package store

import (
	"context"
	"time"
)

// Prune removes what retention no longer keeps: sessions whose last event is older than now minus
// Options.Retention, with their events and captures, and events outside any session that old. It
// runs in the background; tests and operators may call it directly. It returns the events removed.
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	if s.opts.Retention <= 0 {
		return 0, nil
	}
	return s.pruneBefore(ctx, now.Add(-s.opts.Retention))
}

func (s *Store) pruneBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	c := cutoff.UnixMilli()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// Live sessions are kept whatever their age: their events are still arriving.
	const old = "SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?"
	res, err := tx.ExecContext(ctx, "DELETE FROM events WHERE session_id IN ("+old+") OR (session_id IS NULL AND at < ?)", c, c)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, "DELETE FROM captures WHERE session_id IN ("+old+")", c); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?", c); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	s.pruned.Add(uint64(n))
	return n, nil
}

// prune runs retention from the writer, logging rather than failing.
func (s *Store) prune(ctx context.Context, now time.Time) {
	n, err := s.Prune(ctx, now)
	if err != nil {
		s.log.Warn("store: retention prune failed; will retry", "err", err)
		return
	}
	if n > 0 {
		s.log.Info("store: retention pruned old events", "events", n, "retention", s.opts.Retention)
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

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
)

// Row is one stored event.
type Row struct {
	Cursor   int64  // position in the log; history pages continue after it
	Room     string // lower-case username
	Epoch    string
	Seq      uint64
	Type     string
	MsgID    string
	At       time.Time
	UserID   string
	UniqueID string
	Nickname string
	Action   string // social/member action, gift streak state, streamEnd action
	GiftName string
	Amount   int64 // gifts in a completed gift, likes in a like event
	Diamonds int64 // completed gifts only
	Viewers  int64 // roomUser only
	JSON     []byte
}

// Query selects stored events. Zero fields do not restrict.
type Query struct {
	Room      string // a room's events (lower-cased here)
	Session   int64  // a session's events
	Epoch     string // only this epoch
	SinceSeq  uint64 // seq > SinceSeq
	UntilSeq  uint64 // seq <= UntilSeq
	SinceTime time.Time
	UntilTime time.Time // at < UntilTime
	Types     []string
	After     int64 // cursor: events after this position
	Limit     int   // at most this many; 0 = all
}

const chunk = 512 // rows per read: the memory an export holds, whatever its size

const rowCols = "id, username, epoch, seq, type, coalesce(msg_id, ''), at, coalesce(user_id, ''), coalesce(unique_id, ''), coalesce(nickname, ''), coalesce(action, ''), coalesce(gift_name, ''), amount, diamonds, coalesce(viewers, 0), json"

func (q *Query) where() (string, []any) {
	var conds []string
	var args []any
	add := func(c string, a ...any) { conds = append(conds, c); args = append(args, a...) }
	if q.Room != "" {
		add("username = ?", roomKey(q.Room))
	}
	if q.Session != 0 {
		add("session_id = ?", q.Session)
	}
	if q.Epoch != "" {
		add("epoch = ?", q.Epoch)
	}
	if q.SinceSeq > 0 {
		add("seq > ?", int64(q.SinceSeq))
	}
	if q.UntilSeq > 0 {
		add("seq <= ?", int64(q.UntilSeq))
	}
	if !q.SinceTime.IsZero() {
		add("at >= ?", q.SinceTime.UnixMilli())
	}
	if !q.UntilTime.IsZero() {
		add("at < ?", q.UntilTime.UnixMilli())
	}
	if len(q.Types) > 0 {
		add("type IN ("+strings.TrimSuffix(strings.Repeat("?,", len(q.Types)), ",")+")", anys(q.Types)...)
	}
	if len(conds) == 0 {
		return "1", nil
	}
	return strings.Join(conds, " AND "), args
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Events calls fn for each matching event in log order, reading in small chunks so memory stays
// constant for any size. It returns the cursor of the next page when Limit cut the result short
// (0 when there is nothing more). An error from fn stops the walk and is returned.
func (s *Store) Events(ctx context.Context, q Query, fn func(*Row) error) (next int64, err error) {
	cond, args := q.where()
	after, sent := q.After, 0
	var r Row
	for {
		n := chunk
		if q.Limit > 0 {
			n = min(n, q.Limit-sent+1) // one more than wanted: is there a next page?
		}
		rows, err := s.r.QueryContext(ctx, "SELECT "+rowCols+" FROM events WHERE "+cond+" AND id > ? ORDER BY id LIMIT ?",
			append(args, after, n)...)
		if err != nil {
			return 0, fmt.Errorf("read events: %w", err)
		}
		got := 0
		for rows.Next() {
			got++
			if q.Limit > 0 && sent == q.Limit {
				rows.Close()
				return after, nil
			}
			if err := scanRow(rows, &r); err != nil {
				rows.Close()
				return 0, err
			}
			after = r.Cursor
			if err := fn(&r); err != nil {
				rows.Close()
				return 0, err
			}
			sent++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return 0, fmt.Errorf("read events: %w", err)
		}
		if got < n {
			return 0, nil
		}
	}
}

// NextCursor is the cursor Events would return for q, without reading the events: for answers
// whose headers go out before their body.
func (s *Store) NextCursor(ctx context.Context, q Query) (int64, error) {
	if q.Limit <= 0 {
		return 0, nil
	}
	cond, args := q.where()
	var last int64
	err := s.r.QueryRowContext(ctx, "SELECT id FROM events WHERE "+cond+" AND id > ? ORDER BY id LIMIT 1 OFFSET ?",
		append(args, q.After, q.Limit-1)...).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read events: %w", err)
	}
	var more int
	err = s.r.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM events WHERE "+cond+" AND id > ? LIMIT 1)",
		append(args, last)...).Scan(&more)
	if err != nil {
		return 0, fmt.Errorf("read events: %w", err)
	}
	if more == 0 {
		return 0, nil
	}
	return last, nil
}

func scanRow(rows *sql.Rows, r *Row) error {
	var seq, at int64
	r.JSON = r.JSON[:0]
	var js sql.RawBytes
	if err := rows.Scan(&r.Cursor, &r.Room, &r.Epoch, &seq, &r.Type, &r.MsgID, &at, &r.UserID, &r.UniqueID, &r.Nickname,
		&r.Action, &r.GiftName, &r.Amount, &r.Diamonds, &r.Viewers, &js); err != nil {
		return fmt.Errorf("read event: %w", err)
	}
	r.Seq, r.At = uint64(seq), time.UnixMilli(at).UTC()
	r.JSON = append(r.JSON, js...)
	return nil
}

// Resumption is what Resumable found.
type Resumption struct {
	OK      bool   // every event after since is in the log
	Last    uint64 // the room's last seq now
	Current string // the room's current epoch ("" for a room the log has not seen)
}

// Resumable reports whether the room's log holds every event after seq since in epoch, up to which
// seq it holds them now, and the room's current epoch. It is not OK when the epoch is not the
// room's current one, when retention or the memory bound pruned events after since, or when some
// were delivered unstored.
func (s *Store) Resumable(ctx context.Context, room, epoch string, since uint64) (Resumption, error) {
	room = roomKey(room)
	cur, lastSeq, err := s.Position(ctx, room)
	if err != nil {
		return Resumption{}, err
	}
	res := Resumption{Last: lastSeq, Current: cur}
	if cur == "" || cur != epoch || since > lastSeq {
		return res, nil
	}
	var gaps int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM gaps WHERE username = ? AND epoch = ? AND to_seq > ?",
		room, epoch, int64(since)).Scan(&gaps); err != nil {
		return Resumption{}, fmt.Errorf("read gaps: %w", err)
	}
	if gaps > 0 {
		return res, nil
	}
	var n int64
	var hi sql.NullInt64
	if err := s.r.QueryRowContext(ctx, "SELECT count(*), max(seq) FROM events WHERE username = ? AND epoch = ? AND seq > ?",
		room, epoch, int64(since)).Scan(&n, &hi); err != nil {
		return Resumption{}, fmt.Errorf("read events: %w", err)
	}
	if n == 0 {
		res.OK, res.Last = true, since
		return res, nil
	}
	res.OK, res.Last = uint64(n) == uint64(hi.Int64)-since, uint64(hi.Int64)
	return res, nil
}

// Capture writes the raw messages recorded for a session, in the capture format the fake replays
// (delayMs from the previous message), through fn, in constant memory.
func (s *Store) Capture(ctx context.Context, session int64, fn func(capture.Line) error) (int, error) {
	var after, prev int64
	sent := 0
	for {
		rows, err := s.r.QueryContext(ctx, "SELECT id, at, method, msg_id, payload FROM captures WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?",
			session, after, chunk)
		if err != nil {
			return sent, fmt.Errorf("read capture: %w", err)
		}
		got := 0
		for rows.Next() {
			got++
			var l capture.Line
			var at int64
			if err := rows.Scan(&after, &at, &l.Method, &l.MsgID, &l.Payload); err != nil {
				rows.Close()
				return sent, err
			}
			if sent > 0 {
				l.DelayMs = max(at-prev, 0)
			}
			prev = at
			if err := fn(l); err != nil {
				rows.Close()
				return sent, err
			}
			sent++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return sent, err
		}
		if got < chunk {
			return sent, nil
		}
	}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
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

// Events calls fn for each matching event in log order (see EventChunks). A row passed to fn is
// valid until fn returns. It returns the cursor of the next page when Limit cut the result short
// (0 when there is nothing more). An error from fn stops the walk and is returned.
func (s *Store) Events(ctx context.Context, q Query, fn func(*Row) error) (next int64, err error) {
	return s.EventChunks(ctx, q, func(rows []Row) error {
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// EventChunks is Events a chunk (at most 512 rows) at a time. Each chunk is read into memory and
// its query ended before fn gets it, so memory stays constant for any size and a slow fn (an
// HTTP client that stops reading) holds no reader connection; the next chunk starts after the
// last cursor. The rows passed to fn are valid until fn returns.
func (s *Store) EventChunks(ctx context.Context, q Query, fn func([]Row) error) (next int64, err error) {
	cond, args := q.where()
	after, sent := q.After, 0
	var buf []Row // grows to the largest chunk read, at most chunk rows (+1 with a Limit)
	for {
		n := chunk
		if q.Limit > 0 {
			n = min(n, q.Limit-sent+1) // one more than wanted: is there a next page?
		}
		buf, err = s.readRows(ctx, buf[:0], "SELECT "+rowCols+" FROM events WHERE "+cond+" AND id > ? ORDER BY id LIMIT ?",
			append(args, after, n)...)
		if err != nil {
			return 0, err
		}
		rows := buf
		if q.Limit > 0 {
			rows = rows[:min(len(rows), q.Limit-sent)]
		}
		if len(rows) > 0 {
			if err := fn(rows); err != nil {
				return 0, err
			}
			sent += len(rows)
			after = rows[len(rows)-1].Cursor
		}
		switch {
		case len(rows) < len(buf): // the extra row: the page is full and there is more
			return after, nil
		case len(buf) < n:
			return 0, nil
		}
	}
}

// readRows appends the query's rows to buf, reusing the rows (and JSON buffers) in its spare
// capacity, and ends the query before returning.
func (s *Store) readRows(ctx context.Context, buf []Row, query string, args ...any) ([]Row, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return buf, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if len(buf) < cap(buf) {
			buf = buf[:len(buf)+1] // a row of an earlier chunk: its JSON buffer is reused
		} else {
			buf = append(buf, Row{})
		}
		if err := scanRow(rows, &buf[len(buf)-1]); err != nil {
			return buf, err
		}
	}
	if err := rows.Err(); err != nil {
		return buf, fmt.Errorf("read events: %w", err)
	}
	return buf, nil
}

// LastCursor is the cursor of the newest event ever committed, 0 for a log that never had one: where
// a reader that starts following the log now begins.
func (s *Store) LastCursor(ctx context.Context) (int64, error) {
	var last int64
	if err := s.r.QueryRowContext(ctx, "SELECT last FROM event_ids").Scan(&last); err != nil {
		return 0, fmt.Errorf("read the last cursor: %w", err)
	}
	return last, nil
}

// followScan bounds the cursors one EventsAfter call looks through, so catching up on a long log
// of other types (chat, likes) is many short reads rather than one that holds a reader.
const followScan = 20_000

// EventsAfter is the read of a reader that follows the log by cursor (the webhook follower): up to
// limit committed events after the cursor after whose type is one of types (every type when
// empty), in log order, read into buf's spare capacity. next is where to read on: past the last
// row returned when limit rows came back, else past every cursor looked through, so the events of
// other types in between are not read again. Cursors are never reused, even after retention
// deleted the newest events, so a persisted cursor misses nothing committed after it.
func (s *Store) EventsAfter(ctx context.Context, after int64, types []string, limit int, buf []Row) (rows []Row, next int64, err error) {
	last, err := s.LastCursor(ctx)
	if err != nil {
		return buf[:0], after, err
	}
	if last <= after {
		return buf[:0], after, nil
	}
	upto := min(last, after+followScan)
	query := "SELECT " + rowCols + " FROM events WHERE id > ? AND id <= ?"
	args := []any{after, upto}
	if len(types) > 0 {
		query += " AND type IN (" + strings.TrimSuffix(strings.Repeat("?,", len(types)), ",") + ")"
		args = append(args, anys(types)...)
	}
	if limit <= 0 {
		limit = chunk
	}
	rows, err = s.readRows(ctx, buf[:0], query+" ORDER BY id LIMIT ?", append(args, limit)...)
	if err != nil {
		return rows, after, err
	}
	if len(rows) == limit {
		return rows, rows[len(rows)-1].Cursor, nil
	}
	return rows, upto, nil
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
	OK bool // every event after since is in the log
	// Now is the room's current epoch ("" for a room the log has not seen) and its last seq: up
	// to which seq the log holds the events after since, when OK.
	Now event.Position
}

// Resumable reports whether the room's log holds every event after since, up to which seq it
// holds them now, and the room's current epoch. It is not OK when since's epoch is not the room's
// current one, when retention or the memory bound pruned events after since, or when some were
// delivered unstored.
func (s *Store) Resumable(ctx context.Context, room string, since event.Position) (Resumption, error) {
	room = roomKey(room)
	now, err := s.Position(ctx, room)
	if err != nil {
		return Resumption{}, err
	}
	res := Resumption{Now: now}
	if now.Epoch == "" || !now.AtOrAfter(since) {
		return res, nil
	}
	var gaps int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM gaps WHERE username = ? AND epoch = ? AND to_seq > ?",
		room, since.Epoch, int64(since.Seq)).Scan(&gaps); err != nil {
		return Resumption{}, fmt.Errorf("read gaps: %w", err)
	}
	if gaps > 0 {
		return res, nil
	}
	var n int64
	var hi sql.NullInt64
	if err := s.r.QueryRowContext(ctx, "SELECT count(*), max(seq) FROM events WHERE username = ? AND epoch = ? AND seq > ?",
		room, since.Epoch, int64(since.Seq)).Scan(&n, &hi); err != nil {
		return Resumption{}, fmt.Errorf("read events: %w", err)
	}
	if n == 0 {
		res.OK, res.Now.Seq = true, since.Seq
		return res, nil
	}
	res.OK, res.Now.Seq = uint64(n) == uint64(hi.Int64)-since.Seq, uint64(hi.Int64)
	return res, nil
}

// Capture writes the raw messages recorded for a session, in the capture format the fake replays
// (delayMs from the previous message), through fn, in constant memory (see CaptureChunks).
func (s *Store) Capture(ctx context.Context, session int64, fn func(capture.Line) error) (int, error) {
	sent := 0
	err := s.CaptureChunks(ctx, session, func(lines []capture.Line) error {
		for _, l := range lines {
			if err := fn(l); err != nil {
				return err
			}
			sent++
		}
		return nil
	})
	return sent, err
}

// CaptureChunks is Capture a chunk (at most 512 lines) at a time. Like EventChunks, it calls fn
// only with the chunk's query ended, so a slow fn holds no reader connection.
func (s *Store) CaptureChunks(ctx context.Context, session int64, fn func([]capture.Line) error) error {
	var after, prev int64
	first := true
	var lines []capture.Line
	read := func() error {
		lines = lines[:0]
		rows, err := s.r.QueryContext(ctx, "SELECT id, at, method, msg_id, payload FROM captures WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?",
			session, after, chunk)
		if err != nil {
			return fmt.Errorf("read capture: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var l capture.Line
			var at int64
			if err := rows.Scan(&after, &at, &l.Method, &l.MsgID, &l.Payload); err != nil {
				return fmt.Errorf("read capture: %w", err)
			}
			if !first {
				l.DelayMs = max(at-prev, 0)
			}
			first, prev = false, at
			lines = append(lines, l)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read capture: %w", err)
		}
		return nil
	}
	for {
		if err := read(); err != nil {
			return err
		}
		if len(lines) > 0 {
			if err := fn(lines); err != nil {
				return err
			}
		}
		if len(lines) < chunk {
			return nil
		}
	}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// Session end reasons the store sets itself (others come from connection_closed: requested,
// replaced, shutdown; and from streamEnd: ended, suspended).
const (
	EndOffline      = "offline"       // the host went offline (waiting_for_live)
	EndNewBroadcast = "new_broadcast" // the room connected to a different TikTok room id
	EndError        = "error"         // a final error stopped the room
)

// Session is one continuous live stream of a room: reconnects inside it stay in it.
type Session struct {
	ID        int64      `json:"id"`
	Username  string     `json:"username"`
	RoomID    string     `json:"roomId"`
	Epoch     string     `json:"epoch"`
	StartedAt time.Time  `json:"startedAt"`
	EndedAt   *time.Time `json:"endedAt"`   // null while live
	EndReason *string    `json:"endReason"` // null while live
	FirstSeq  uint64     `json:"firstSeq"`
	LastSeq   uint64     `json:"lastSeq"`
	Events    int64      `json:"events"`
}

// openSession is the writer's view of a room's live session.
type openSession struct {
	id       int64
	roomID   string
	lastSeq  uint64
	events   int64
	updated  int64 // unix ms
	dirty    bool
	ended    bool
	endedAt  int64
	endWhy   string
	username string
}

func (s *Store) loadOpenSessions(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, "SELECT id, username, room_id, last_seq, events, updated_at FROM sessions WHERE ended_at IS NULL")
	if err != nil {
		return fmt.Errorf("load sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		o := &openSession{}
		var last int64
		if err := rows.Scan(&o.id, &o.username, &o.roomID, &last, &o.events, &o.updated); err != nil {
			return err
		}
		o.lastSeq = uint64(last)
		// A process that died leaves its sessions open; the room's next connection decides.
		s.sessions[o.username] = o
	}
	return rows.Err()
}

func roomKey(name string) string { return strings.ToLower(name) }

// trackSession moves the room's session along with e and returns the session e belongs to (nil
// outside a live session). Changes to open sessions are written by flushSessions.
func (s *Store) trackSession(ctx context.Context, tx *sql.Tx, e *event.Event) (any, error) {
	room := roomKey(e.Username)
	cur := s.sessions[room]
	at := e.Time.UnixMilli()
	switch d := e.Data.(type) {
	case event.ConnectionCreatedData:
		if cur != nil && cur.roomID == d.RoomID {
			break // a reconnect inside the same broadcast
		}
		if cur != nil {
			if err := s.endSession(ctx, tx, cur, at, EndNewBroadcast); err != nil {
				return nil, err
			}
		}
		next, err := s.startSession(ctx, tx, room, d.RoomID, e)
		if err != nil {
			return nil, err
		}
		cur = next
	}
	if cur == nil {
		return nil, nil
	}
	if !cur.dirty {
		s.dirty = append(s.dirty, cur)
	}
	cur.lastSeq, cur.updated, cur.dirty = e.Seq, at, true
	cur.events++
	id := cur.id
	var why string
	switch d := e.Data.(type) {
	case event.StreamEndData:
		why = d.Action
		if why == "" {
			why = "ended"
		}
	case event.ConnectionClosedData:
		why = d.Reason
	case event.WaitingForLiveData:
		why = EndOffline
	case event.ErrorData:
		if !d.Retryable {
			why = EndError
		}
	}
	if why != "" {
		if err := s.endSession(ctx, tx, cur, at, why); err != nil {
			return nil, err
		}
	}
	return id, nil
}

// startSession opens a session for a connection to roomID, or reopens the room's last one when it
// was the same broadcast and did not end with the stream (a restart of the server, or a stop and
// start of the room, in the middle of one LIVE).
func (s *Store) startSession(ctx context.Context, tx *sql.Tx, room, roomID string, e *event.Event) (*openSession, error) {
	var (
		id       int64
		reason   sql.NullString
		last, n  int64
		lastRoom string
	)
	err := tx.QueryRowContext(ctx, "SELECT id, room_id, end_reason, last_seq, events FROM sessions WHERE username = ? ORDER BY id DESC LIMIT 1", room).
		Scan(&id, &lastRoom, &reason, &last, &n)
	at := e.Time.UnixMilli()
	if err == nil && lastRoom == roomID && reason.String != "ended" && reason.String != "suspended" {
		if _, err := tx.ExecContext(ctx, "UPDATE sessions SET ended_at = NULL, end_reason = NULL WHERE id = ?", id); err != nil {
			return nil, err
		}
		o := &openSession{id: id, roomID: roomID, username: room, lastSeq: uint64(last), events: n, updated: at}
		s.sessions[room] = o
		return o, nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO sessions (username, room_id, epoch, started_at, updated_at, first_seq, last_seq, events)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0)`, room, roomID, e.Epoch, at, at, int64(e.Seq), int64(e.Seq))
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	id, err = res.LastInsertId()
	if err != nil {
		return nil, err
	}
	o := &openSession{id: id, roomID: roomID, username: room, lastSeq: e.Seq, updated: at}
	s.sessions[room] = o
	return o, nil
}

func (s *Store) endSession(ctx context.Context, tx *sql.Tx, o *openSession, at int64, why string) error {
	o.ended, o.endedAt, o.endWhy, o.dirty = true, at, why, true
	delete(s.sessions, o.username)
	return s.writeSession(ctx, tx, o)
}

// flushSessions writes the progress of every open session touched by the batch (s.dirty: with
// many rooms, looking through every open session for the few a batch touched cost more than
// writing them).
func (s *Store) flushSessions(ctx context.Context, tx *sql.Tx) error {
	for _, o := range s.dirty {
		if o.dirty {
			if err := s.writeSession(ctx, tx, o); err != nil {
				return err
			}
		}
	}
	clear(s.dirty)
	s.dirty = s.dirty[:0]
	return nil
}

func (s *Store) writeSession(ctx context.Context, tx *sql.Tx, o *openSession) error {
	var err error
	if o.ended {
		_, err = tx.StmtContext(ctx, s.stmts.endSession).ExecContext(ctx,
			int64(o.lastSeq), o.events, o.updated, o.endedAt, o.endWhy, o.id)
	} else {
		_, err = tx.StmtContext(ctx, s.stmts.updateSession).ExecContext(ctx,
			int64(o.lastSeq), o.events, o.updated, o.id)
	}
	if err != nil {
		return fmt.Errorf("update session %d: %w", o.id, err)
	}
	o.dirty = false
	return nil
}

const sessionCols = "id, username, room_id, epoch, started_at, ended_at, end_reason, first_seq, last_seq, events"

func scanSession(sc interface{ Scan(...any) error }) (Session, error) {
	var (
		x              Session
		start          int64
		ended          sql.NullInt64
		why            sql.NullString
		first, lastSeq int64
	)
	if err := sc.Scan(&x.ID, &x.Username, &x.RoomID, &x.Epoch, &start, &ended, &why, &first, &lastSeq, &x.Events); err != nil {
		return Session{}, err
	}
	x.StartedAt = time.UnixMilli(start).UTC()
	if ended.Valid {
		t := time.UnixMilli(ended.Int64).UTC()
		x.EndedAt = &t
	}
	if why.Valid {
		x.EndReason = &why.String
	}
	x.FirstSeq, x.LastSeq = uint64(first), uint64(lastSeq)
	return x, nil
}

// Session returns one session.
func (s *Store) Session(ctx context.Context, id int64) (Session, error) {
	x, err := scanSession(s.r.QueryRowContext(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("%w: no session %d", ErrNotFound, id)
	}
	return x, err
}

// Sessions lists a room's sessions, newest first, at most limit (0 = 100) older than the session
// id before (0 = from the newest).
func (s *Store) Sessions(ctx context.Context, room string, before int64, limit int) ([]Session, error) {
	if limit <= 0 {
		limit = 100
	}
	q := "SELECT " + sessionCols + " FROM sessions WHERE username = ?"
	args := []any{roomKey(room)}
	if before > 0 {
		q += " AND id < ?"
		args = append(args, before)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		x, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// WatchedRoom is one room of the watch list (table watched_rooms): a room monitored on request,
// which a restarted server resumes.
type WatchedRoom struct {
	Username      string
	GiveUpOffline bool
	Priority      int
	Proxy         string
	Upstream      string
	AddedAt       time.Time
	WatchState
}

// WatchState is what the room's supervisor knew: zero times are none; LiveRoomID "" is no
// broadcast in progress.
type WatchState struct {
	OfflineSince  time.Time
	LastLiveAt    time.Time
	LiveRoomID    string
	LiveTitle     string
	LiveStartedAt time.Time
}

// The watch list is written on the writer's connection, between its batches: its writes are rare
// (a room added, removed, going live or offline) and small.

// Watch inserts the room into the watch list, or updates its options and state (keeping when it
// was added).
func (s *Store) Watch(ctx context.Context, w WatchedRoom) error {
	now := s.opts.Now().UnixMilli()
	_, err := s.w.ExecContext(ctx, `INSERT INTO watched_rooms
		(username, give_up_offline, priority, proxy, upstream, added_at, updated_at, offline_since, last_live_at, live_room_id, live_title, live_started_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (username) DO UPDATE SET give_up_offline = excluded.give_up_offline, priority = excluded.priority,
			proxy = excluded.proxy, upstream = excluded.upstream, updated_at = excluded.updated_at,
			offline_since = excluded.offline_since, last_live_at = excluded.last_live_at, live_room_id = excluded.live_room_id,
			live_title = excluded.live_title, live_started_at = excluded.live_started_at`,
		roomKey(w.Username), w.GiveUpOffline, w.Priority, w.Proxy, w.Upstream, orNow(w.AddedAt, now), now,
		nullMs(w.OfflineSince), nullMs(w.LastLiveAt), nullStr(w.LiveRoomID), nullStr(w.LiveTitle), nullMs(w.LiveStartedAt))
	if err != nil {
		return fmt.Errorf("watch %s: %w", w.Username, err)
	}
	return nil
}

// SaveWatchState updates the state of a listed room; a room not listed stays unlisted.
func (s *Store) SaveWatchState(ctx context.Context, username string, st WatchState) error {
	_, err := s.w.ExecContext(ctx, `UPDATE watched_rooms SET updated_at = ?, offline_since = ?, last_live_at = ?,
		live_room_id = ?, live_title = ?, live_started_at = ? WHERE username = ?`,
		s.opts.Now().UnixMilli(), nullMs(st.OfflineSince), nullMs(st.LastLiveAt), nullStr(st.LiveRoomID), nullStr(st.LiveTitle),
		nullMs(st.LiveStartedAt), roomKey(username))
	if err != nil {
		return fmt.Errorf("save the watch state of %s: %w", username, err)
	}
	return nil
}

// Unwatch removes the room from the watch list and reports whether it was there.
func (s *Store) Unwatch(ctx context.Context, username string) (bool, error) {
	res, err := s.w.ExecContext(ctx, "DELETE FROM watched_rooms WHERE username = ?", roomKey(username))
	if err != nil {
		return false, fmt.Errorf("unwatch %s: %w", username, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// WatchList returns the whole watch list, by username.
func (s *Store) WatchList(ctx context.Context) ([]WatchedRoom, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT username, give_up_offline, priority, proxy, upstream, added_at,
		offline_since, last_live_at, live_room_id, live_title, live_started_at FROM watched_rooms ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("read the watch list: %w", err)
	}
	defer rows.Close()
	var out []WatchedRoom
	for rows.Next() {
		var (
			w                              WatchedRoom
			added                          int64
			offline, lastLive, liveStarted sql.NullInt64
			liveRoom, liveTitle            sql.NullString
		)
		if err := rows.Scan(&w.Username, &w.GiveUpOffline, &w.Priority, &w.Proxy, &w.Upstream, &added,
			&offline, &lastLive, &liveRoom, &liveTitle, &liveStarted); err != nil {
			return nil, fmt.Errorf("read the watch list: %w", err)
		}
		w.AddedAt = time.UnixMilli(added).UTC()
		w.OfflineSince, w.LastLiveAt, w.LiveStartedAt = msTime(offline), msTime(lastLive), msTime(liveStarted)
		w.LiveRoomID, w.LiveTitle = liveRoom.String, liveTitle.String
		out = append(out, w)
	}
	return out, rows.Err()
}

// BroadcastSummary is the summary of the room's latest session if it is of the TikTok room roomID
// and did not end with the stream (a session a restart interrupted, which the room's next
// connection to that room continues); ok is false otherwise.
func (s *Store) BroadcastSummary(ctx context.Context, room, roomID string) (sum Summary, ok bool, err error) {
	list, err := s.Sessions(ctx, room, 0, 1)
	if err != nil || len(list) == 0 {
		return Summary{}, false, err
	}
	sess := list[0]
	if sess.RoomID != roomID || (sess.EndReason != nil && (*sess.EndReason == "ended" || *sess.EndReason == "suspended")) {
		return Summary{}, false, nil
	}
	sum, err = s.Summary(ctx, sess, s.opts.Now())
	return sum, err == nil, err
}

func nullMs(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func msTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

func orNow(t time.Time, now int64) int64 {
	if t.IsZero() {
		return now
	}
	return t.UnixMilli()
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Summary is what happened in one session. Simulated events are left out of every figure.
type Summary struct {
	Session        Session        `json:"session"`
	DurationMs     int64          `json:"durationMs"` // to the end, or to now while live
	Viewers        ViewerFigures  `json:"viewers"`
	Likes          int64          `json:"likes"`    // likes summed over like events
	Diamonds       int64          `json:"diamonds"` // each streak counted once, at its end
	Gifts          []GiftFigure   `json:"gifts"`    // by kind, most diamonds first
	Chats          int64          `json:"chats"`
	UniqueChatters int64          `json:"uniqueChatters"`
	Follows        int64          `json:"follows"`
	Shares         int64          `json:"shares"`
	Joins          int64          `json:"joins"`
	Subscribers    int64          `json:"subscribers"` // distinct users who subscribed
	EventCounts    map[string]int `json:"eventCounts"`
	TopGifters     []Entry        `json:"topGifters"`
	TopLikers      []Entry        `json:"topLikers"`
	TopChatters    []Entry        `json:"topChatters"`
}

// ViewerFigures come from the roomUser events: TikTok's periodic viewer counts.
type ViewerFigures struct {
	Peak    int64   `json:"peak"`
	Average float64 `json:"average"` // mean of the reported counts
	Samples int64   `json:"samples"`
}

// GiftFigure is one kind of gift in a session.
type GiftFigure struct {
	GiftID   int64  `json:"giftId"`
	GiftName string `json:"giftName"`
	Count    int64  `json:"count"` // gifts sent (a streak of 5 counts 5)
	Diamonds int64  `json:"diamonds"`
}

// Entry is one place on a leaderboard.
type Entry struct {
	Rank  int       `json:"rank"`
	User  EntryUser `json:"user"`
	Value int64     `json:"value"`
}

// EntryUser names the user of an Entry (as last seen).
type EntryUser struct {
	UserID   string `json:"userId"`
	UniqueID string `json:"uniqueId"`
	Nickname string `json:"nickname"`
}

// Boards a leaderboard ranks by.
const (
	ByDiamonds = "diamonds" // top gifters
	ByLikes    = "likes"    // top likers
	ByChats    = "chats"    // top chatters
)

// Scope selects the events of a leaderboard: a session, or every stored event of a room.
type Scope struct {
	Session int64
	Room    string
}

func (sc Scope) where() (string, []any) {
	if sc.Session != 0 {
		return "session_id = ?", []any{sc.Session}
	}
	return "username = ?", []any{roomKey(sc.Room)}
}

// Leaderboard ranks users by diamonds sent, likes sent or chat messages, at most limit (0 = 10).
func (s *Store) Leaderboard(ctx context.Context, sc Scope, by string, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = 10
	}
	var agg, typ string
	switch by {
	case ByDiamonds:
		agg, typ = "sum(diamonds)", "gift"
	case ByLikes:
		agg, typ = "sum(amount)", "like"
	case ByChats:
		agg, typ = "count(*)", "chat"
	default:
		return nil, fmt.Errorf("leaderboard by %q: want diamonds, likes or chats", by)
	}
	cond, args := sc.where()
	// The user's names are those of their latest event (max(id) picks that row's bare columns).
	rows, err := s.r.QueryContext(ctx, `SELECT user_id, unique_id, nickname, v FROM (
		SELECT user_id, coalesce(unique_id, '') AS unique_id, coalesce(nickname, '') AS nickname, max(id), `+agg+` AS v
		FROM events WHERE `+cond+` AND type = ? AND simulated = 0 AND user_id IS NOT NULL GROUP BY user_id)
		WHERE v > 0 ORDER BY v DESC, user_id LIMIT ?`, append(args, typ, limit)...)
	if err != nil {
		return nil, fmt.Errorf("leaderboard: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.User.UserID, &e.User.UniqueID, &e.User.Nickname, &e.Value); err != nil {
			return nil, fmt.Errorf("leaderboard: %w", err)
		}
		e.Rank = len(out) + 1
		out = append(out, e)
	}
	return out, rows.Err()
}

// Summary computes a session's figures from its stored events (sess as Session returned it).
func (s *Store) Summary(ctx context.Context, sess Session, now time.Time) (Summary, error) {
	id := sess.ID
	out := Summary{Session: sess, Gifts: []GiftFigure{}, EventCounts: map[string]int{}}
	end := now
	if sess.EndedAt != nil {
		end = *sess.EndedAt
	}
	out.DurationMs = max(end.Sub(sess.StartedAt).Milliseconds(), 0)

	var avg sql.NullFloat64
	err := s.r.QueryRowContext(ctx, `SELECT
		coalesce(max(viewers), 0), avg(viewers), count(viewers),
		coalesce(sum(CASE WHEN type = 'like' THEN amount END), 0),
		coalesce(sum(diamonds), 0),
		count(CASE WHEN type = 'chat' THEN 1 END),
		count(DISTINCT CASE WHEN type = 'chat' THEN user_id END),
		count(CASE WHEN type = 'social' AND action = 'follow' THEN 1 END),
		count(CASE WHEN type = 'social' AND action = 'share' THEN 1 END),
		count(CASE WHEN type = 'member' AND action = 'join' THEN 1 END),
		count(DISTINCT CASE WHEN type = 'subscribe' OR (type = 'member' AND action = 'subscribe') THEN user_id END)
		FROM events WHERE session_id = ? AND simulated = 0`, id).Scan(
		&out.Viewers.Peak, &avg, &out.Viewers.Samples, &out.Likes, &out.Diamonds, &out.Chats, &out.UniqueChatters,
		&out.Follows, &out.Shares, &out.Joins, &out.Subscribers)
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	out.Viewers.Average = avg.Float64

	rows, err := s.r.QueryContext(ctx, `SELECT coalesce(gift_id, 0), coalesce(max(gift_name), ''), sum(amount), sum(diamonds)
		FROM events WHERE session_id = ? AND type = 'gift' AND simulated = 0 AND action != 'progress'
		GROUP BY gift_id ORDER BY sum(diamonds) DESC, gift_id`, id)
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	for rows.Next() {
		var g GiftFigure
		if err := rows.Scan(&g.GiftID, &g.GiftName, &g.Count, &g.Diamonds); err != nil {
			rows.Close()
			return Summary{}, fmt.Errorf("summary: %w", err)
		}
		out.Gifts = append(out.Gifts, g)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}

	rows, err = s.r.QueryContext(ctx, "SELECT type, count(*) FROM events WHERE session_id = ? AND simulated = 0 GROUP BY type", id)
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			rows.Close()
			return Summary{}, fmt.Errorf("summary: %w", err)
		}
		out.EventCounts[t] = n
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}

	sc := Scope{Session: id}
	if out.TopGifters, err = s.Leaderboard(ctx, sc, ByDiamonds, 10); err != nil {
		return Summary{}, err
	}
	if out.TopLikers, err = s.Leaderboard(ctx, sc, ByLikes, 10); err != nil {
		return Summary{}, err
	}
	if out.TopChatters, err = s.Leaderboard(ctx, sc, ByChats, 10); err != nil {
		return Summary{}, err
	}
	return out, nil
}

package cli

import (
	"context"
	"log/slog"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
)

// watchList is the store's watch list as the room manager wants it. It lives here, in the wiring,
// so neither package needs to know the other.
type watchList struct {
	st  *store.Store
	log *slog.Logger
}

var _ room.WatchList = watchList{}

func (l watchList) Watch(ctx context.Context, w room.Watched) error {
	return l.st.Watch(ctx, store.WatchedRoom{
		Username: w.Username, GiveUpOffline: w.GiveUpOffline, Priority: w.Options.Priority, Proxy: w.Options.Proxy,
		Upstream: w.Options.Upstream, AddedAt: w.AddedAt, WatchState: toStoreState(w.State),
	})
}

func (l watchList) SaveState(ctx context.Context, username string, st room.WatchState) error {
	return l.st.SaveWatchState(ctx, username, toStoreState(st))
}

func (l watchList) Unwatch(ctx context.Context, username string) (bool, error) {
	return l.st.Unwatch(ctx, username)
}

// Watched reads the list; a broadcast in progress gets its figures so far from the event log's
// session summary, so live_ended's totals cover all of it.
func (l watchList) Watched(ctx context.Context) ([]room.Watched, error) {
	rows, err := l.st.WatchList(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]room.Watched, 0, len(rows))
	for _, r := range rows {
		w := room.Watched{
			Username: r.Username, GiveUpOffline: r.GiveUpOffline, AddedAt: r.AddedAt,
			Options: room.WatchOptions{Priority: r.Priority, Proxy: r.Proxy, Upstream: r.Upstream},
			State:   room.WatchState{OfflineSince: r.OfflineSince, LastLiveAt: r.LastLiveAt},
		}
		if r.LiveRoomID != "" {
			b := &room.Broadcast{RoomID: r.LiveRoomID, Title: r.LiveTitle, StartedAt: r.LiveStartedAt}
			switch sum, ok, err := l.st.BroadcastSummary(ctx, r.Username, r.LiveRoomID); {
			case err != nil:
				l.log.Warn("watch list: no figures for the broadcast in progress; its totals start from zero", "room", r.Username, "err", err)
			case ok:
				b.Totals = totalsOf(sum)
			}
			w.State.Live = b
		}
		out = append(out, w)
	}
	return out, nil
}

func toStoreState(st room.WatchState) store.WatchState {
	out := store.WatchState{OfflineSince: st.OfflineSince, LastLiveAt: st.LastLiveAt}
	if b := st.Live; b != nil {
		out.LiveRoomID, out.LiveTitle, out.LiveStartedAt = b.RoomID, b.Title, b.StartedAt
	}
	return out
}

// totalsOf is a session summary as live_ended's totals.
func totalsOf(s store.Summary) event.LiveTotals {
	t := event.LiveTotals{Likes: s.Likes, Diamonds: s.Diamonds, Follows: s.Follows, Shares: s.Shares, Chats: s.Chats,
		PeakViewers: s.Viewers.Peak}
	for _, g := range s.Gifts {
		t.Gifts += g.Count
	}
	for _, n := range s.EventCounts {
		t.Events += int64(n)
	}
	return t
}

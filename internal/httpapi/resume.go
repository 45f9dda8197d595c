package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
)

// TypeResume is the first message of a resumed stream, one per room asked for.
const TypeResume = "resume"

// resumePoint is where a client left a room's stream: the last seq it has, in an epoch.
type resumePoint struct {
	room, epoch string
	since       uint64
}

// maxResumeRooms bounds the rooms one resume request names.
const maxResumeRooms = 64

// parseResume reads where a client resumes: since=<seq>&epoch=<epoch> with exactly one room in
// rooms=, or since=<room>:<seq>:<epoch>,... for any number (the form SSE ids take, so
// Last-Event-ID, used when since= is absent, is the same). Nil when the client does not resume.
func parseResume(q url.Values, lastEventID string, f hub.Filter) ([]resumePoint, error) {
	since, epoch := q.Get("since"), q.Get("epoch")
	if since == "" && epoch != "" {
		return nil, fmt.Errorf("epoch= needs since=<seq>: the last seq the client received in that epoch")
	}
	if since == "" {
		since = lastEventID
	}
	if since == "" {
		return nil, nil
	}
	if !strings.Contains(since, ":") {
		n, err := strconv.ParseUint(since, 10, 63)
		if err != nil {
			return nil, fmt.Errorf("since=%q: want a seq, or room:seq:epoch items separated by commas", clip(since))
		}
		if !isEpoch(epoch) {
			return nil, fmt.Errorf("since=<seq> needs epoch=<the 16 hex digits of the stream's epoch>, as in the events")
		}
		if len(f.Rooms) != 1 {
			return nil, fmt.Errorf("since=<seq>&epoch= resumes one room: name it alone in rooms=, or use since=room:seq:epoch items")
		}
		var room string
		for r := range f.Rooms {
			room = r
		}
		return []resumePoint{{room: room, epoch: epoch, since: n}}, nil
	}
	if epoch != "" {
		return nil, fmt.Errorf("epoch= goes with since=<seq>; in the room:seq:epoch form each item has its own")
	}
	var out []resumePoint
	seen := map[string]bool{}
	for item := range strings.SplitSeq(since, ",") {
		parts := strings.Split(item, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("since item %q: want room:seq:epoch", clip(item))
		}
		room, ok := roomName(parts[0])
		n, err := strconv.ParseUint(parts[1], 10, 63)
		if !ok || err != nil || !isEpoch(parts[2]) {
			return nil, fmt.Errorf("since item %q: want room:seq:epoch (a username, a number, 16 hex digits)", clip(item))
		}
		if len(f.Rooms) > 0 && !f.Rooms[room] {
			return nil, fmt.Errorf("since names room %q, which rooms= leaves out", room)
		}
		if seen[room] {
			return nil, fmt.Errorf("since names room %q twice", room)
		}
		seen[room] = true
		out = append(out, resumePoint{room: room, epoch: parts[2], since: n})
		if len(out) > maxResumeRooms {
			return nil, fmt.Errorf("since names more than %d rooms", maxResumeRooms)
		}
	}
	return out, nil
}

// roomName checks a room key as hub filters do.
func roomName(s string) (string, bool) {
	f, err := hub.ParseFilter(url.Values{"rooms": {s}})
	if err != nil || len(f.Rooms) != 1 {
		return "", false
	}
	for r := range f.Rooms {
		return r, true
	}
	return "", false
}

// replayed is how far a replay went for a room: live messages up to it were sent already.
type replayed struct {
	epoch string
	upTo  uint64
}

// skipLive reports whether a live message was already sent by a replay.
func skipLive(done map[string]replayed, m *hub.Message) bool {
	if len(done) == 0 {
		return false
	}
	d, ok := done[m.Room]
	return ok && m.Epoch == d.epoch && m.Seq <= d.upTo
}

type resumeData struct {
	Recovered  bool   `json:"recovered"`
	Since      uint64 `json:"since"`
	SinceEpoch string `json:"sinceEpoch"`
	Missed     uint64 `json:"missed"` // events in the log after since (before the client's filters)
	Reason     string `json:"reason,omitempty"`
}

type resumeMessage struct {
	Type     string     `json:"type"`
	Username string     `json:"username"`
	Seq      uint64     `json:"seq"`
	Epoch    string     `json:"epoch"`
	Time     string     `json:"time"`
	Data     resumeData `json:"data"`
}

// replay sends, for one room, the resume message and then every stored event after the client's
// seq that passes f, through send. The client's subscription is already live, so whatever is
// committed after the log is read arrives through it; skipLive drops the overlap.
func (s *Server) replay(ctx context.Context, p resumePoint, f hub.Filter, send func(*hub.Message) error) (replayed, error) {
	msg := resumeMessage{Type: TypeResume, Username: p.room, Epoch: p.epoch, Time: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		Data: resumeData{Since: p.since, SinceEpoch: p.epoch}}
	var ok bool
	var last uint64
	if s.cfg.Store == nil {
		msg.Data.Reason = "no_store"
	} else {
		res, err := s.cfg.Store.Resumable(ctx, p.room, p.epoch, p.since)
		if err != nil {
			return replayed{}, err
		}
		ok, last = res.OK, res.Last
		cur := res.Current
		if cur != "" {
			msg.Epoch = cur
		}
		switch {
		case ok:
			msg.Data.Missed = last - p.since
		case cur == "" && s.cfg.Store.Memory():
			msg.Data.Reason = "unknown_room"
		case cur != p.epoch:
			msg.Data.Reason = "epoch_changed"
		case p.since > last:
			msg.Data.Reason = "ahead"
		default:
			msg.Data.Reason = "history_gone"
		}
	}
	msg.Data.Recovered = ok
	b, _ := json.Marshal(msg)
	if err := send(&hub.Message{Room: p.room, Type: TypeResume, Epoch: msg.Epoch, JSON: b}); err != nil {
		return replayed{}, err
	}
	if !ok || last == p.since {
		return replayed{}, nil
	}
	m := hub.Message{Room: p.room, Epoch: p.epoch}
	_, err := s.cfg.Store.Events(ctx, store.Query{Room: p.room, Epoch: p.epoch, SinceSeq: p.since, UntilSeq: last}, func(r *store.Row) error {
		m.Type, m.Seq, m.JSON = r.Type, r.Seq, r.JSON
		m.StreakStep = r.Type == event.TypeGift && r.Action == event.StreakProgress
		if !f.Match(&m) {
			return nil
		}
		return send(&m)
	})
	if err != nil {
		return replayed{}, err
	}
	return replayed{epoch: p.epoch, upTo: last}, nil
}

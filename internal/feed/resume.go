package feed

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
)

// MaxResumeRooms bounds the rooms one resume request names.
const MaxResumeRooms = 64

// ParseResume reads where a client resumes: since=<seq>&epoch=<epoch> with exactly one room in
// rooms=, or since=<room>:<seq>:<epoch>,... for any number (the form SSE ids take, so
// Last-Event-ID, used when since= is absent, is the same). Nil when the client does not resume.
// f is the client's filter, already narrowed: the rooms resumed must be among its rooms.
func ParseResume(q url.Values, lastEventID string, f hub.Filter) ([]Point, error) {
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
		if !event.ValidEpoch(epoch) {
			return nil, fmt.Errorf("since=<seq> needs epoch=<the 16 hex digits of the stream's epoch>, as in the events")
		}
		if len(f.Rooms) != 1 {
			return nil, fmt.Errorf("since=<seq>&epoch= resumes one room: name it alone in rooms=, or use since=room:seq:epoch items")
		}
		var room string
		for r := range f.Rooms {
			room = r
		}
		return []Point{{Room: room, Since: event.Position{Epoch: epoch, Seq: n}}}, nil
	}
	if epoch != "" {
		return nil, fmt.Errorf("epoch= goes with since=<seq>; in the room:seq:epoch form each item has its own")
	}
	var out []Point
	seen := map[string]bool{}
	for item := range strings.SplitSeq(since, ",") {
		parts := strings.Split(item, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("since item %q: want room:seq:epoch", clip(item))
		}
		room, ok := roomName(parts[0])
		n, err := strconv.ParseUint(parts[1], 10, 63)
		if !ok || err != nil || !event.ValidEpoch(parts[2]) {
			return nil, fmt.Errorf("since item %q: want room:seq:epoch (a username, a number, 16 hex digits)", clip(item))
		}
		if len(f.Rooms) > 0 && !f.Rooms[room] {
			return nil, fmt.Errorf("since names room %q, which rooms= leaves out", room)
		}
		if seen[room] {
			return nil, fmt.Errorf("since names room %q twice", room)
		}
		seen[room] = true
		out = append(out, Point{Room: room, Since: event.Position{Epoch: parts[2], Seq: n}})
		if len(out) > MaxResumeRooms {
			return nil, fmt.Errorf("since names more than %d rooms", MaxResumeRooms)
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

// clip keeps echoed input short in error messages.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// catchUpPoll is how often catchUp looks at the log's position.
const catchUpPoll = 10 * time.Millisecond

// catchUp waits, until the deadline, while the room's log is behind the client's position: in the
// client's epoch but short of its seq, or in no epoch yet. A log in another epoch will not get
// there by waiting.
func (s *Server) catchUp(ctx context.Context, p Point, until time.Time) error {
	var t *time.Timer
	for {
		now, err := s.cfg.Store.Position(ctx, p.Room)
		if err != nil {
			return err
		}
		behind := now.Epoch == "" || (now.Epoch == p.Since.Epoch && now.Seq < p.Since.Seq)
		if !behind || !time.Now().Before(until) {
			return nil
		}
		if t == nil {
			t = time.NewTimer(catchUpPoll)
			defer t.Stop()
		} else {
			t.Reset(catchUpPoll)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// replays is, per room, how far the replay went: live messages up to there were sent already.
type replays map[string]event.Position

// add records a replay that went up to p (a replay that sent no event records nothing).
func (d *replays) add(room string, p event.Position) {
	if p.Seq == 0 {
		return
	}
	if *d == nil {
		*d = replays{}
	}
	(*d)[room] = p
}

// sent reports whether a live message was already sent by a replay.
func (d replays) sent(m *hub.Message) bool {
	if len(d) == 0 {
		return false
	}
	p, ok := d[m.Room]
	return ok && p.AtOrAfter(event.Position{Epoch: m.Epoch, Seq: m.Seq})
}

// replay sends, for one room, the resume message and then every stored event after the client's
// seq that passes f, through send; it returns how far it went (zero when it sent no event). The
// client's subscription is already live, so whatever is committed after the log is read arrives
// through it; replays.sent drops the overlap.
//
// until is the request's catch-up deadline (see Config.ResumeCatchUp).
func (s *Server) replay(ctx context.Context, p Point, f hub.Filter, until time.Time, send func(*hub.Message) error) (event.Position, error) {
	var now event.Position
	var reason string
	if s.cfg.Store == nil {
		reason = event.ResumeNoStore
	} else {
		if s.cfg.ResumeCatchUp > 0 {
			if err := s.catchUp(ctx, p, until); err != nil {
				return event.Position{}, err
			}
		}
		res, err := s.cfg.Store.Resumable(ctx, p.Room, p.Since)
		if err != nil {
			return event.Position{}, err
		}
		now = res.Now
		switch {
		case res.OK:
		case now.Epoch == "" && s.cfg.Store.Memory():
			reason = event.ResumeUnknownRoom
		case now.Epoch != p.Since.Epoch:
			reason = event.ResumeEpochChanged
		case p.Since.Seq > now.Seq:
			reason = event.ResumeAhead
		default:
			reason = event.ResumeHistoryGone
		}
	}
	msg := event.NewResume(p.Room, p.Since, now, reason, time.Now())
	if err := send(&hub.Message{Room: p.Room, Type: event.TypeResume, Epoch: msg.Epoch, JSON: msg.JSON()}); err != nil {
		return event.Position{}, err
	}
	if !msg.Data.Recovered {
		return event.Position{}, nil
	}
	if now.Seq == p.Since.Seq {
		// Nothing to replay, but live messages queued since the subscription may still be ones
		// the client had (committed before the log was read, or while a resume caught up):
		// report the position so they are dropped.
		return event.Position{Epoch: p.Since.Epoch, Seq: now.Seq}, nil
	}
	m := hub.Message{Room: p.Room, Epoch: p.Since.Epoch}
	_, err := s.cfg.Store.Events(ctx, store.Query{Room: p.Room, Epoch: p.Since.Epoch, SinceSeq: p.Since.Seq, UntilSeq: now.Seq}, func(r *store.Row) error {
		m.Type, m.Seq, m.JSON = r.Type, r.Seq, r.JSON
		m.StreakStep = r.Type == event.TypeGift && r.Action == event.StreakProgress
		if !f.Match(&m) {
			return nil
		}
		return send(&m)
	})
	if err != nil {
		return event.Position{}, err
	}
	return event.Position{Epoch: p.Since.Epoch, Seq: now.Seq}, nil
}

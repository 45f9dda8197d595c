package feed

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
)

// SSE streams the events req asks for as Server-Sent Events: "event: <type>", "id: <position>",
// "data: <event JSON>"; with resume points, each room's resume message and missed events go
// first. The id is the client's position in every room it has seen, room:seq:epoch joined by
// commas, so the Last-Event-ID a browser sends back on reconnect resumes them all. It returns when
// the stream ends.
func (s *Server) SSE(w http.ResponseWriter, r *http.Request, transport string, req Request) {
	sub, done := s.subscribe(w, r, transport, req.Filter, nil)
	if sub == nil {
		return
	}
	defer done()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	buf := []byte("retry: 2000\n: connected\n\n")
	var pos ssePositions
	for _, p := range req.Resume {
		pos.set(p.Room, p.Since)
	}
	ctx := r.Context()
	var replayed replays
	until := time.Now().Add(s.cfg.ResumeCatchUp)
	for _, p := range req.Resume {
		upTo, err := s.replay(ctx, p, req.Filter, until, func(m *hub.Message) error {
			buf = pos.appendEvent(buf, m)
			if len(buf) < 64<<10 {
				return nil
			}
			rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			_, err := w.Write(buf)
			buf = buf[:0]
			return err
		})
		if err != nil {
			s.log.Info("resume ended early", "remote", r.RemoteAddr, "room", p.Room, "err", err)
			return
		}
		replayed.add(p.Room, upTo)
	}
	var batch []*hub.Message
	for {
		if len(buf) > 0 {
			rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			_, err := w.Write(buf)
			if err == nil {
				err = rc.Flush()
			}
			if err != nil {
				s.writeFailed(sub, transport, r.RemoteAddr, err)
				return
			}
			buf = buf[:0]
		}
		nctx, cancel := context.WithTimeout(ctx, s.cfg.SSEPing)
		var err error
		batch, err = sub.Next(nctx, batch[:0])
		cancel()
		for _, m := range batch {
			if !replayed.sent(m) {
				buf = pos.appendEvent(buf, m)
			}
		}
		clear(batch)
		var ce *hub.CloseError
		switch {
		case err == nil:
		case errors.As(err, &ce):
			buf = append(buf, "event: close\ndata: {\"code\":"...)
			buf = strconv.AppendInt(buf, int64(ce.Code), 10)
			buf = append(buf, ",\"reason\":"...)
			buf = strconv.AppendQuote(buf, ce.Reason)
			buf = append(buf, "}\n\n"...)
			rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			w.Write(buf)
			rc.Flush()
			return
		case ctx.Err() != nil:
			return // the client went away
		default: // ping interval passed with nothing to send
			buf = append(buf, ": ping\n\n"...)
		}
	}
}

// ssePositions is an SSE client's position per room, in the order the rooms first appeared.
type ssePositions struct {
	rooms []string
	pos   []event.Position
}

func (p *ssePositions) set(room string, at event.Position) {
	for i, r := range p.rooms {
		if r == room {
			p.pos[i] = at
			return
		}
	}
	p.rooms, p.pos = append(p.rooms, room), append(p.pos, at)
}

// appendEvent appends one SSE event; an event with a seq moves the position, and the id line
// carries all of them. The resume message (seq 0) has no id: it moves nothing.
func (p *ssePositions) appendEvent(buf []byte, m *hub.Message) []byte {
	if m.Seq > 0 {
		p.set(m.Room, event.Position{Epoch: m.Epoch, Seq: m.Seq})
		buf = append(buf, "id: "...)
		for i, r := range p.rooms {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, r...)
			buf = append(buf, ':')
			buf = strconv.AppendUint(buf, p.pos[i].Seq, 10)
			buf = append(buf, ':')
			buf = append(buf, p.pos[i].Epoch...)
		}
		buf = append(buf, '\n')
	}
	buf = append(buf, "event: "...)
	buf = append(buf, m.Type...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, m.JSON...)
	return append(buf, "\n\n"...)
}

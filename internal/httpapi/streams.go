package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/wsserver"
)

// Transports, as the hub counts them.
const (
	transportLegacy = "ws-legacy" // WebSocket at /: the original server's
	transportWS     = "ws"        // /v1/ws
	transportSSE    = "sse"       // /v1/events
)

var allEvents = hub.Filter{}

func (s *Server) v1WebSocket(w http.ResponseWriter, r *http.Request) {
	f, err := hub.ParseFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_filter", err.Error())
		return
	}
	if f.Rooms, err = scopeRooms(r, f.Rooms); err != nil {
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
		return
	}
	points, err := parseResume(r.URL.Query(), "", f)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_resume", err.Error())
		return
	}
	s.serveWebSocket(w, r, transportWS, f, points)
}

// subscribe registers a stream client with the hub, or answers 503 while shutting down (then sub
// is nil). done unsubscribes and tells WaitStreams the handler has finished.
// A room token's stream is narrowed to its room; the client's address must have a free slot.
// With ready set, the subscriber is told of messages (hub.SubscribeFunc) rather than waiting.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, transport string, f hub.Filter, ready func()) (sub *hub.Subscription, done func()) {
	rooms, err := scopeRooms(r, f.Rooms)
	if err != nil {
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
		return nil, nil
	}
	f.Rooms = rooms
	if !s.shuttingDown.Load() {
		release, ok := s.acquireStream(w, r)
		if !ok {
			return nil, nil
		}
		s.streams.Add(1)
		info := hub.ClientInfo{Transport: transport, Remote: r.RemoteAddr}
		if ready != nil {
			sub, err = s.cfg.Hub.SubscribeFunc(f, info, ready)
		} else {
			sub, err = s.cfg.Hub.Subscribe(f, info)
		}
		if err == nil {
			return sub, func() { sub.Close(); release(); s.streams.Done() }
		}
		release()
		s.streams.Done()
	}
	writeError(w, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
	return nil, nil
}

// serveWebSocket streams every matching event as one JSON text message. The client's queue lives
// in the hub; this loop writes whatever is queued, with a deadline per batch.
// With resume points, each room's resume message and missed events go first.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, transport string, f hub.Filter, points []resumePoint) {
	c := &wsWriter{s: s, transport: transport, remote: r.RemoteAddr, wake: make(chan struct{}, 1)}
	c.flushing.Store(true) // the replay writes first; the hub's wake-ups wait for it
	// Subscribe before the handshake answer: once the client has its 101 it is counted (/health's
	// wsClients) and gets every event published from then on.
	sub, done := s.subscribe(w, r, transport, f, c.ready)
	if sub == nil {
		return
	}
	conn, err := wsserver.Upgrade(w, r)
	if err != nil {
		done()
		var he *wsserver.HandshakeError
		if errors.As(err, &he) {
			writeError(w, http.StatusBadRequest, "bad_handshake", he.Error())
		}
		return
	}
	c.conn, c.sub, c.done = conn, sub, done
	// The handler returns now, so the HTTP server's request, buffers and goroutine go. The
	// client's side is read by the shared poller (pings, the close handshake, a client gone), and
	// a writer runs only while there is something to send: an idle client has no goroutine.
	if err := s.poller.Add(conn, maxClientMessage, sub.Close); err != nil {
		go func() {
			conn.ReadLoop(maxClientMessage)
			sub.Close() // the client went away: the writer sees it and cleans up
		}()
	}
	go c.start(f, points)
}

// wsWriter is one WebSocket client's writing side.
type wsWriter struct {
	s                 *Server
	conn              *wsserver.Conn
	sub               *hub.Subscription
	done              func()
	transport, remote string
	replays           map[string]replayed
	flushing          atomic.Bool // a writer goroutine runs (or the replay does)
	batch             []*hub.Message
	payloads          [][]byte
	wake              chan struct{} // capacity 1: something was queued while the writer lingers
	linger            *time.Timer
}

func (c *wsWriter) deadline() time.Time { return time.Now().Add(c.s.cfg.WriteTimeout) }

// ready is the hub's wake-up: start a writer unless one runs. It never blocks the publisher.
func (c *wsWriter) ready() {
	if c.flushing.CompareAndSwap(false, true) {
		go c.flush()
		return
	}
	select { // a lingering writer waits for this
	case c.wake <- struct{}{}:
	default:
	}
}

// writerLinger is how long a writer stays after its queue empties. A busy room wakes every client
// many times a second; keeping the writer that long saves starting a goroutine per client per
// event (the publisher's fan-out loop is then a channel send per client), while a quiet client
// still ends up with no writer.
const writerLinger = 250 * time.Millisecond

// start replays what the client missed, then writes what queued meanwhile.
func (c *wsWriter) start(f hub.Filter, points []resumePoint) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var frames []byte
	for _, p := range points {
		d, err := c.s.replay(ctx, p, f, func(m *hub.Message) error {
			frames = wsserver.AppendText(frames, m.JSON)
			if len(frames) < 64<<10 {
				return nil
			}
			err := c.conn.WriteRaw(frames, c.deadline())
			frames = frames[:0]
			return err
		})
		if err == nil && len(frames) > 0 {
			err = c.conn.WriteRaw(frames, c.deadline())
		}
		frames = frames[:0]
		if err != nil {
			c.s.log.Info("resume ended early", "remote", c.remote, "room", p.room, "err", err)
			c.sub.Fail(hub.ErrUnsubscribed)
			c.conn.Close(wsserver.StatusInternalError, "resume failed")
			c.done()
			return
		}
		if d.upTo > 0 {
			if c.replays == nil {
				c.replays = map[string]replayed{}
			}
			c.replays[p.room] = d
		}
	}
	c.flush()
}

// flush writes everything queued, each backlog in one write (under load a client gets many events
// per system call, which is where fan-out spends its time), until the queue is empty or the
// subscription ends. Only one flush runs at a time (flushing).
func (c *wsWriter) flush() {
	for {
		batch, err := c.sub.TryNext(c.batch[:0])
		if len(batch) > 0 {
			c.payloads = c.payloads[:0]
			for _, m := range batch {
				if !skipLive(c.replays, m) {
					c.payloads = append(c.payloads, m.JSON)
				}
			}
			clear(batch)
			werr := c.conn.WriteText(c.payloads, c.deadline())
			clear(c.payloads)
			c.batch = batch[:0]
			if werr != nil {
				c.s.writeFailed(c.sub, c.transport, c.remote, werr)
				c.conn.CloseNow()
				c.done()
				return
			}
			continue
		}
		if err != nil {
			var ce *hub.CloseError
			if errors.As(err, &ce) && ce != hub.ErrUnsubscribed {
				if ce == hub.ErrSlowConsumer {
					c.s.log.Info("stream client too slow, closed", "transport", c.transport, "remote", c.remote)
				}
				c.conn.Close(ce.Code, ce.Reason)
			} else {
				c.conn.CloseNow()
			}
			c.done()
			return
		}
		// Nothing queued: wait a little for more, then let the writer go.
		if c.linger == nil {
			c.linger = time.NewTimer(writerLinger)
		} else {
			c.linger.Reset(writerLinger)
		}
		select {
		case <-c.wake:
			c.linger.Stop()
			continue
		case <-c.linger.C:
		}
		// A message queued after TryNext saw flushing set and started nothing, so look once more
		// before leaving.
		c.flushing.Store(false)
		if !c.sub.Pending() || !c.flushing.CompareAndSwap(false, true) {
			return
		}
	}
}

// writeFailed ends a stream client whose write failed. Past the write deadline it is a slow
// consumer: ended with ErrWriteTimeout (close 4002 on a WebSocket), counted, logged. Any other
// error (connection reset, broken pipe, EOF) means the client went away: that is not slowness,
// so it is only unsubscribed, like any client that leaves.
func (s *Server) writeFailed(sub *hub.Subscription, transport, remote string, err error) {
	if isTimeout(err) {
		sub.Fail(hub.ErrWriteTimeout)
		s.log.Info("stream client too slow, closed", "transport", transport, "remote", remote)
		return
	}
	sub.Close()
	s.log.Debug("stream client gone while written to", "transport", transport, "remote", remote, "err", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// maxClientMessage bounds what a stream client may send us; we read and ignore it (the original
// server ignored it too; some overlays send keep-alive text).
const maxClientMessage = 64 << 10

// sse streams events as Server-Sent Events: "event: <type>", "id: <position>", "data: <event
// JSON>". The id is the client's position in every room it has seen, room:seq:epoch joined by
// commas, so the Last-Event-ID a browser sends back on reconnect resumes them all.
func (s *Server) sse(w http.ResponseWriter, r *http.Request) {
	f, err := hub.ParseFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_filter", err.Error())
		return
	}
	if f.Rooms, err = scopeRooms(r, f.Rooms); err != nil {
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
		return
	}
	points, err := parseResume(r.URL.Query(), r.Header.Get("Last-Event-ID"), f)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_resume", err.Error())
		return
	}
	sub, done := s.subscribe(w, r, transportSSE, f, nil)
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
	for _, p := range points {
		pos.set(p.room, p.since, p.epoch)
	}
	ctx := r.Context()
	var replays map[string]replayed
	for _, p := range points {
		d, err := s.replay(ctx, p, f, func(m *hub.Message) error {
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
			s.log.Info("resume ended early", "remote", r.RemoteAddr, "room", p.room, "err", err)
			return
		}
		if d.upTo > 0 {
			if replays == nil {
				replays = map[string]replayed{}
			}
			replays[p.room] = d
		}
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
				s.writeFailed(sub, transportSSE, r.RemoteAddr, err)
				return
			}
			buf = buf[:0]
		}
		nctx, cancel := context.WithTimeout(ctx, s.cfg.SSEPing)
		batch, err = sub.Next(nctx, batch[:0])
		cancel()
		for _, m := range batch {
			if !skipLive(replays, m) {
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
	seq   []uint64
	epoch []string
}

func (p *ssePositions) set(room string, seq uint64, epoch string) {
	for i, r := range p.rooms {
		if r == room {
			p.seq[i], p.epoch[i] = seq, epoch
			return
		}
	}
	p.rooms, p.seq, p.epoch = append(p.rooms, room), append(p.seq, seq), append(p.epoch, epoch)
}

// appendEvent appends one SSE event; an event with a seq moves the position, and the id line
// carries all of them. The resume message (seq 0) has no id: it moves nothing.
func (p *ssePositions) appendEvent(buf []byte, m *hub.Message) []byte {
	if m.Seq > 0 {
		p.set(m.Room, m.Seq, m.Epoch)
		buf = append(buf, "id: "...)
		for i, r := range p.rooms {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, r...)
			buf = append(buf, ':')
			buf = strconv.AppendUint(buf, p.seq[i], 10)
			buf = append(buf, ':')
			buf = append(buf, p.epoch[i]...)
		}
		buf = append(buf, '\n')
	}
	buf = append(buf, "event: "...)
	buf = append(buf, m.Type...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, m.JSON...)
	return append(buf, "\n\n"...)
}

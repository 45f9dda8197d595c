package feed

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/wsserver"
)

// maxClientMessage bounds what a stream client may send us; we read and ignore it (the original
// server ignored it too; some overlays send keep-alive text).
const maxClientMessage = 64 << 10

// WebSocket upgrades r and streams every event req asks for as one JSON text message; with resume
// points, each room's resume message and missed events go first. The client's queue lives in the
// hub; the writer pool writes whatever is queued (see writerPool). It returns once the client
// is handed over (its side read by the poller, its writer started): the request's goroutine and
// buffers go, and an idle client holds no goroutine.
func (s *Server) WebSocket(w http.ResponseWriter, r *http.Request, transport string, req Request) {
	c := &wsWriter{s: s, transport: transport, remote: r.RemoteAddr}
	c.flushing.Store(true) // the replay writes first; the hub's wake-ups wait for it
	// Subscribe before the handshake answer: once the client has its 101 it is counted (/health's
	// wsClients) and gets every event published from then on.
	sub, done := s.subscribe(w, r, transport, req.Filter, c.ready)
	if sub == nil {
		return
	}
	conn, err := wsserver.Upgrade(w, r)
	if err != nil {
		done()
		var he *wsserver.HandshakeError
		if errors.As(err, &he) {
			s.cfg.Refuse(w, http.StatusBadRequest, "bad_handshake", he.Error())
		}
		return
	}
	c.conn, c.sub, c.done = conn, sub, done
	// The client's side is read by the shared poller (pings, the close handshake, a client gone),
	// and its side is written by the writer pool, or a goroutine of its own while its socket is
	// full: nothing runs for it while there is nothing to send.
	if err := s.poller.Add(conn, maxClientMessage, sub.Close); err != nil {
		go func() {
			conn.ReadLoop(maxClientMessage)
			sub.Close() // the client went away: the writer sees it and cleans up
		}()
	}
	go c.start(req)
}

// wsWriter is one WebSocket client's writing side.
type wsWriter struct {
	s                 *Server
	conn              *wsserver.Conn
	sub               *hub.Subscription
	done              func()
	transport, remote string
	replays           replays
	// flushing: someone writes for this client, or will: the replay, the pool's queue or a
	// worker, or a goroutine of its own while its socket is full. The hub's wake-ups then start
	// nothing; whoever holds it looks at the queue again before letting go.
	flushing atomic.Bool
	batch    []*hub.Message
	payloads [][]byte
}

func (c *wsWriter) deadline() time.Time { return time.Now().Add(c.s.cfg.WriteTimeout) }

// ready is the hub's wake-up: queue the client for the writer pool unless someone writes for it
// already. It never blocks the publisher.
func (c *wsWriter) ready() {
	if c.flushing.CompareAndSwap(false, true) {
		c.s.writers.push(c)
	}
}

// start replays what the client missed, then writes what queued meanwhile.
func (c *wsWriter) start(req Request) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var frames []byte
	until := time.Now().Add(c.s.cfg.ResumeCatchUp)
	for _, p := range req.Resume {
		upTo, err := c.s.replay(ctx, p, req.Filter, until, func(m *hub.Message) error {
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
			c.s.log.Info("resume ended early", "remote", c.remote, "room", p.Room, "err", err)
			c.sub.Fail(hub.ErrUnsubscribed)
			c.conn.Close(wsserver.StatusInternalError, "resume failed")
			c.done()
			return
		}
		c.replays.add(p.Room, upTo)
	}
	c.flush()
}

// take returns the queued messages to write (those a replay already sent are left out) or, once
// the queue is empty and the subscription ended, why.
func (c *wsWriter) take() ([][]byte, error) {
	batch, err := c.sub.TryNext(c.batch[:0])
	c.payloads = c.payloads[:0]
	for _, m := range batch {
		if !c.replays.sent(m) {
			c.payloads = append(c.payloads, m.JSON)
		}
	}
	clear(batch)
	c.batch = batch[:0]
	if len(batch) > 0 {
		return c.payloads, nil // the end reason, if any, comes with the next call
	}
	return c.payloads, err
}

// serve is one turn of a pool worker: write the client's backlog without waiting, then let go
// (queued again if more came meanwhile, behind the clients already waiting). A socket too full
// to take it all, or the end of the subscription (the close handshake waits for the client),
// goes to a goroutine of the client's own.
func (c *wsWriter) serve() {
	payloads, err := c.take()
	switch {
	case len(payloads) > 0:
		done, werr := c.conn.TryWriteText(payloads)
		clear(c.payloads)
		if werr != nil {
			c.failed(werr)
			return
		}
		if !done {
			c.s.slowHandoffs.Add(1)
			go c.flush() // waits for room, with the write deadline
			return
		}
	case err != nil:
		go c.end(err)
		return
	}
	c.release()
}

// release lets go of the client; a message queued after take saw flushing set and started
// nothing, so look once more and queue the client again if so.
func (c *wsWriter) release() {
	c.flushing.Store(false)
	if c.sub.Pending() && c.flushing.CompareAndSwap(false, true) {
		c.s.writers.push(c)
	}
}

// flush writes, waiting with the write deadline, what an earlier try left and everything queued,
// each backlog in one write, until the queue is empty (the client then goes back to the pool) or
// the subscription ends. It runs on a goroutine of the client's own: after the replay, or while
// the client's socket is full.
func (c *wsWriter) flush() {
	if err := c.conn.Flush(c.deadline()); err != nil {
		c.failed(err)
		return
	}
	for {
		payloads, err := c.take()
		if len(payloads) > 0 {
			werr := c.conn.WriteText(payloads, c.deadline())
			clear(c.payloads)
			if werr != nil {
				c.failed(werr)
				return
			}
			continue
		}
		if err != nil {
			c.end(err)
			return
		}
		c.release()
		return
	}
}

// failed ends a client whose write failed (flushing stays set: nobody writes to it again).
func (c *wsWriter) failed(err error) {
	c.s.writeFailed(c.sub, c.transport, c.remote, err)
	c.conn.CloseNow()
	c.done()
}

// end closes the connection of an ended subscription with its reason.
func (c *wsWriter) end(err error) {
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
}

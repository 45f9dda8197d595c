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
// hub; a writer writes whatever is queued, with a deadline per batch. It returns once the client
// is handed over (its side read by the poller, its writer started): the request's goroutine and
// buffers go, and an idle client holds no goroutine.
func (s *Server) WebSocket(w http.ResponseWriter, r *http.Request, transport string, req Request) {
	c := &wsWriter{s: s, transport: transport, remote: r.RemoteAddr, wake: make(chan struct{}, 1)}
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
	// and a writer runs only while there is something to send.
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
func (c *wsWriter) start(req Request) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var frames []byte
	for _, p := range req.Resume {
		upTo, err := c.s.replay(ctx, p, req.Filter, func(m *hub.Message) error {
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

// flush writes everything queued, each backlog in one write (under load a client gets many events
// per system call, which is where fan-out spends its time), until the queue is empty or the
// subscription ends. Only one flush runs at a time (flushing).
func (c *wsWriter) flush() {
	for {
		batch, err := c.sub.TryNext(c.batch[:0])
		if len(batch) > 0 {
			c.payloads = c.payloads[:0]
			for _, m := range batch {
				if !c.replays.sent(m) {
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

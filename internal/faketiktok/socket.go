package faketiktok

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

const (
	writeTimeout   = 10 * time.Second
	closeGrace     = 500 * time.Millisecond
	endGrace       = time.Second // how long a socket waits for the client to leave after the stream end
	maxQueue       = 4096        // pending batches per socket before it counts as too slow and is dropped
	oversizedBytes = 9 << 20     // above webcast.MaxFrameBytes
)

// batch is messages due together: one msg frame. Its payload is encoded once, however many
// sockets send it; only the frame around it (seq and log id) is per socket.
type batch struct {
	msgs []*pb.WireMessage

	once        sync.Once
	raw, gz     []byte
	cursor, ext string
	onceGz      sync.Once
}

func newBatch(msgs []*pb.WireMessage) *batch { return &batch{msgs: msgs} }

// payload returns the encoded FetchResult (gzip'd if asked) and its internal_ext.
func (b *batch) payload(roomID int64, gzip bool) ([]byte, string, string) {
	b.once.Do(func() {
		now := time.Now().UnixMilli()
		b.cursor = makeCursor(b.msgs[len(b.msgs)-1].MsgId)
		b.ext = internalExt(roomID, b.cursor, now)
		b.raw, _ = proto.Marshal(&pb.FetchResult{
			Messages: b.msgs, Cursor: b.cursor, FetchIntervalMs: 1000, ServerNowMs: now, InternalExt: b.ext,
			NeedsAck: true, HeartbeatDurationMs: 10_000,
		})
	})
	if !gzip {
		return b.raw, b.cursor, b.ext
	}
	b.onceGz.Do(func() { b.gz = webcast.Gzip(b.raw) })
	return b.gz, b.cursor, b.ext
}

// outItem is one thing the socket writer has to do.
type outItem struct {
	batch     *batch
	enterResp bool // answer an im_enter_room
	end       bool // the broadcast ended (its end message came before): linger, then close
}

// socket is one accepted push connection subscribed to a room.
type socket struct {
	mu       sync.Mutex
	queue    []outItem
	overflow bool
	notify   chan struct{}
}

// enqueue never blocks: the room's timeline must not wait for a slow client.
func (sk *socket) enqueue(it outItem) {
	sk.mu.Lock()
	if len(sk.queue) >= maxQueue {
		sk.overflow = true
	} else {
		sk.queue = append(sk.queue, it)
	}
	sk.mu.Unlock()
	select {
	case sk.notify <- struct{}{}:
	default:
	}
}

func (sk *socket) drain() ([]outItem, bool) {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	q := sk.queue
	sk.queue = nil
	return q, sk.overflow
}

// session is the server side of one accepted socket.
type session struct {
	s       *Server
	r       *room // nil for an unknown room
	rec     *SocketRecord
	conn    *websocket.Conn
	netConn net.Conn // under conn: closing it cuts a close handshake the client does not answer
	sk      *socket
	gzip    bool
	roomID  int64
	seq     int64
	sent    int // messages sent so far (fault AfterMessages counts these)
	fault   *Fault
	stall   bool
}

// handleSocket serves the push WebSocket. The room comes from the room_id query parameter.
func (s *Server) handleSocket(w http.ResponseWriter, req *http.Request) {
	if !s.track() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	q := req.URL.Query()
	roomID := parseRoomID(q.Get("room_id"))
	r := s.roomByID(roomID)
	rec := &SocketRecord{Query: cloneValues(q), Header: req.Header.Clone()}
	var fault *Fault
	if r != nil {
		if f, ok := r.takeFault(FaultKind.isSocket); ok {
			fault = &f
		}
		r.mu.Lock()
		r.sockets = append(r.sockets, rec)
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			rec.Closed = true
			r.mu.Unlock()
		}()
	}
	log := s.log.With("room", roomID, "remote", req.RemoteAddr)
	if fault != nil && fault.Kind == FaultHandshake {
		msg := fault.Message
		if msg == "" {
			msg = "DEVICE_BLOCKED"
		}
		r.mu.Lock()
		rec.Refused = true
		r.mu.Unlock()
		// TikTok refuses with a plain 200 instead of 101; clients read the reason from this header.
		w.Header().Set("Handshake-Msg", msg)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("websocket handshake refused\n"))
		log.Info("socket refused (fault)", "handshake_msg", msg)
		return
	}
	hj := &hijackRecorder{ResponseWriter: w}
	conn, err := websocket.Accept(hj, req, &websocket.AcceptOptions{
		InsecureSkipVerify: true,                                        // any Origin: clients are not browsers
		Subprotocols:       headerTokens(req, "Sec-WebSocket-Protocol"), // e.g. Python's echo-protocol
	})
	if err != nil {
		log.Debug("socket accept failed", "err", err)
		return
	}
	conn.SetReadLimit(1 << 20)
	ses := &session{
		s: s, r: r, rec: rec, conn: conn, netConn: hj.conn, roomID: roomID, fault: fault,
		sk:   &socket{notify: make(chan struct{}, 1)},
		gzip: q.Get("compress") == "gzip",
	}
	log.Info("socket open", "fault", faultName(fault))
	err = ses.run(s.ctx, q.Get("cursor"))
	log.Info("socket closed", "reason", err)
	if r != nil {
		r.mu.Lock()
		delete(r.subs, ses.sk)
		r.mu.Unlock()
	}
}

func faultName(f *Fault) string {
	if f == nil {
		return ""
	}
	return string(f.Kind)
}

// headerTokens lists the comma-separated values of a request header.
func headerTokens(req *http.Request, key string) []string {
	var out []string
	for _, v := range req.Header.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// errClientLeft ends a session whose client closed or dropped the connection.
var errClientLeft = errors.New("client left")

// run reads the client's frames in a goroutine it owns and writes the room's messages until the
// client leaves, the broadcast ends, a fault ends the socket, or the server closes.
func (ses *session) run(ctx context.Context, cursor string) error {
	// The reader must outlive ctx: a cancelled Read closes the connection at once, and a server
	// shutdown should send a close frame first. It ends when the connection closes.
	readCtx, stopRead := context.WithCancel(context.WithoutCancel(ctx))
	readDone := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { readDone <- ses.read(readCtx) })
	defer wg.Wait()
	defer stopRead()
	defer ses.conn.CloseNow() //nolint:errcheck // after a clean Close this is a no-op

	err := ses.stream(ctx, cursor, readDone)
	if errors.Is(err, errEnded) {
		return ses.linger(ctx, readDone)
	}
	return err
}

// errEnded: the stream-end message went out; the socket lingers for the client to close it.
var errEnded = errors.New("stream ended")

// stream sends the room's messages until something ends the socket.
func (ses *session) stream(ctx context.Context, cursor string, readDone <-chan error) error {
	if ses.r == nil || !ses.subscribe(cursor) {
		// Offline or unknown room: as TikTok does, the socket opens and says the stream ended.
		return ses.endStream(ctx, "The LIVE has ended")
	}
	if err := ses.maybeFire(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			ses.closeSoon(websocket.StatusGoingAway, "server shutting down")
			return ctx.Err()
		case err := <-readDone:
			return fmt.Errorf("%w: %w", errClientLeft, err)
		case <-ses.sk.notify:
		}
		items, overflow := ses.sk.drain()
		if overflow {
			return errors.New("client too slow: queue overflow")
		}
		for _, it := range items {
			if err := ses.handle(ctx, it); err != nil {
				return err
			}
		}
	}
}

// linger waits for the client to close after the stream ended, as the clients do on action 3,
// then closes itself. Closing at once would lose the client's last acks: the library discards
// messages that arrive during a close handshake.
func (ses *session) linger(ctx context.Context, readDone <-chan error) error {
	t := time.NewTimer(endGrace)
	defer t.Stop()
	select {
	case err := <-readDone:
		return fmt.Errorf("%w after the stream end: %w", errClientLeft, err)
	case <-t.C:
		ses.closeSoon(websocket.StatusNormalClosure, "stream ended")
		return errEnded
	case <-ctx.Done():
		ses.closeSoon(websocket.StatusGoingAway, "server shutting down")
		return ctx.Err()
	}
}

// closeSoon sends a close frame and waits a little for the client's answer (the library would wait
// 5 s), then drops the connection.
func (ses *session) closeSoon(code websocket.StatusCode, reason string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ses.conn.Close(code, reason)
	}()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		if ses.netConn != nil {
			_ = ses.netConn.Close()
		}
		<-done
	}
}

// hijackRecorder keeps the connection the WebSocket library hijacks.
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = c
	return c, rw, err
}

// subscribe adds the socket to its room and queues what the client missed since the sign answer's
// cursor. It returns false when the room is not live.
func (ses *session) subscribe(cursor string) bool {
	r := ses.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.live {
		return false
	}
	r.startLocked()
	if after, ok := cursorMsgID(cursor); ok {
		var missed []*pb.WireMessage
		for _, w := range r.ring {
			if w.MsgId > after {
				missed = append(missed, w)
			}
		}
		if len(missed) > 0 {
			ses.sk.enqueue(outItem{batch: newBatch(missed)})
		}
	}
	r.subs[ses.sk] = struct{}{}
	return true
}

func (ses *session) handle(ctx context.Context, it outItem) error {
	switch {
	case ses.stall:
		return nil
	case it.enterResp:
		return ses.write(ctx, &pb.PushFrame{
			SeqId: ses.nextSeq(), LogId: ses.s.nextLogID(), PayloadEncoding: "pb", PayloadType: webcast.FrameEnterRoomResp,
		})
	case it.end:
		return errEnded
	}
	b := it.batch
	for b != nil {
		n := len(b.msgs)
		if f := ses.fault; f != nil {
			n = min(n, max(f.AfterMessages-ses.sent, 0))
		}
		var rest *batch
		if n > 0 && n < len(b.msgs) { // the fault fires mid-batch: split it there
			b, rest = newBatch(b.msgs[:n]), newBatch(b.msgs[n:])
		}
		if n > 0 {
			if err := ses.sendMsgs(ctx, b); err != nil {
				return err
			}
			b = rest
		}
		if err := ses.maybeFire(ctx); err != nil {
			return err
		}
		if ses.stall {
			return nil
		}
	}
	return nil
}

func (ses *session) nextSeq() int64 {
	ses.seq++
	return ses.seq
}

// sendMsgs sends one msg frame: gzip(FetchResult) with needs_ack, as TikTok's push server does.
func (ses *session) sendMsgs(ctx context.Context, b *batch) error {
	f, ext := ses.msgFrame(b)
	if err := ses.write(ctx, f); err != nil {
		return err
	}
	ses.sent += len(b.msgs)
	if ses.r != nil {
		ses.r.mu.Lock()
		m := ses.s.maxEmitted
		ses.rec.SentLogIDs = keepNewest(append(ses.rec.SentLogIDs, f.LogId), m)
		ses.rec.SentInternalExt = keepNewest(append(ses.rec.SentInternalExt, ext), m)
		ses.r.mu.Unlock()
	}
	return nil
}

func (ses *session) msgFrame(b *batch) (*pb.PushFrame, string) {
	payload, cursor, ext := b.payload(ses.roomID, ses.gzip)
	headers := map[string]string{"im-cursor": cursor, "im-internal_ext": ext, "im-now": strconv.FormatInt(time.Now().UnixMilli(), 10)}
	if ses.gzip {
		headers["compress_type"] = "gzip"
	}
	return &pb.PushFrame{
		SeqId: ses.nextSeq(), LogId: ses.s.nextLogID(), Headers: headers,
		PayloadEncoding: "pb", PayloadType: webcast.FrameMsg, Payload: payload,
	}, ext
}

// internalExt is opaque to clients, who echo it in acks and put it in the socket URL.
func internalExt(roomID int64, cursor string, now int64) string {
	return fmt.Sprintf("internal_src:fake|wss_push_room_id:%d|wss_push_did:0|first_req_ms:%d|fetch_time:%d|seq:1|next_cursor:%s|wss_info:0-%d-0-0",
		roomID, now, now, cursor, now)
}

func (ses *session) write(ctx context.Context, f *pb.PushFrame) error {
	return ses.writeRaw(ctx, webcast.EncodeFrame(f))
}

// writeRaw writes one binary message. A cancelled write would drop the connection, so a write is
// bounded by its timeout only, never by the server's shutdown.
func (ses *session) writeRaw(ctx context.Context, b []byte) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if err := ses.conn.Write(ctx, websocket.MessageBinary, b); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// maybeFire fires the socket's fault once AfterMessages messages were sent. A non-nil error ends
// the socket.
func (ses *session) maybeFire(ctx context.Context) error {
	f := ses.fault
	if f == nil || ses.sent < f.AfterMessages {
		return nil
	}
	ses.fault = nil
	ses.s.log.Info("socket fault", "kind", f.Kind, "after", ses.sent)
	switch f.Kind {
	case FaultAbruptClose:
		_ = ses.conn.CloseNow() // no close frame: the TCP connection just drops
		return errors.New("fault: abrupt close")
	case FaultGarbageFrame:
		return ses.writeRaw(ctx, garbage())
	case FaultTruncatedFrame:
		b := webcast.EncodeFrame(ses.sampleFrame())
		return ses.writeRaw(ctx, b[:len(b)/2])
	case FaultOversizedFrame:
		return ses.writeRaw(ctx, webcast.EncodeFrame(ses.oversizedFrame(f.Message == "plain")))
	case FaultStall:
		ses.stall = true
		return nil
	case FaultStreamEnd:
		return ses.endStream(ctx, "The LIVE has ended")
	}
	return nil
}

// endStream sends WebcastControlMessage action 3; the socket then lingers and closes.
func (ses *session) endStream(ctx context.Context, tips string) error {
	var w *pb.WireMessage
	if ses.r != nil {
		r := ses.r
		r.mu.Lock()
		w = r.wireLocked(controlMessage(webcast.ControlEnded, tips))
		r.recordEmittedLocked(Emitted{MsgID: w.MsgId, Method: w.Method})
		r.mu.Unlock()
	} else {
		m := &pb.ControlMessage{Action: webcast.ControlEnded, Tips: tips}
		id := time.Now().UnixMilli() << 22
		fillCommon(m, webcast.MethodControl, id, ses.roomID, time.Now())
		payload, _ := proto.Marshal(m)
		w = wireOf(webcast.MethodControl, payload, id)
	}
	if err := ses.sendMsgs(ctx, newBatch([]*pb.WireMessage{w})); err != nil {
		return err
	}
	return errEnded
}

// garbage is random bytes that cannot parse as a protobuf: the first byte is a tag with field 0
// and the reserved wire type 7.
func garbage() []byte {
	b := make([]byte, 64+rand.IntN(192))
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	b[0] = 0x07
	return b
}

// sampleFrame is a valid msg frame (a chat that is not part of the room's stream), for truncation.
func (ses *session) sampleFrame() *pb.PushFrame {
	m := &pb.ChatMessage{Comment: "this frame is cut in half", User: &pb.User{Id: 1, UniqueId: "fake", Nickname: "fake"}}
	fillCommon(m, webcast.MethodChat, 1, ses.roomID, time.Now())
	payload, _ := proto.Marshal(m)
	f, _ := ses.msgFrame(newBatch([]*pb.WireMessage{wireOf(webcast.MethodChat, payload, 1)}))
	return f
}

// oversizedFrame inflates past webcast.MaxFrameBytes: a gzip bomb (tiny on the wire) or, plain,
// 9 MiB on the wire. Its one message has a method no client knows, so a client that does read it
// skips it.
func (ses *session) oversizedFrame(plain bool) *pb.PushFrame {
	res, _ := proto.Marshal(&pb.FetchResult{
		Messages: []*pb.WireMessage{wireOf("WebcastFakeOversizedMessage", make([]byte, oversizedBytes), 1)},
		Cursor:   makeCursor(1),
	})
	f := &pb.PushFrame{SeqId: ses.nextSeq(), LogId: ses.s.nextLogID(), PayloadEncoding: "pb", PayloadType: webcast.FrameMsg}
	if plain {
		f.Payload = res
	} else {
		f.Payload = webcast.Gzip(res)
		f.Headers = map[string]string{"compress_type": "gzip"}
	}
	return f
}

// read records the client's frames until the connection ends.
func (ses *session) read(ctx context.Context) error {
	for {
		typ, b, err := ses.conn.Read(ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageBinary {
			continue
		}
		f, err := webcast.DecodeFrame(b)
		if err != nil {
			ses.s.log.Debug("bad client frame", "err", err)
			continue
		}
		ses.recordFrame(f)
	}
}

func (ses *session) recordFrame(f *pb.PushFrame) {
	r := ses.r
	var enter bool
	switch f.GetPayloadType() {
	case webcast.FrameHeartbeat:
		hb := new(pb.HeartbeatRequest)
		if proto.Unmarshal(f.GetPayload(), hb) != nil {
			return
		}
		if r != nil {
			r.mu.Lock()
			ses.rec.Heartbeats = keepNewest(append(ses.rec.Heartbeats, Heartbeat{RoomID: hb.GetRoomId(), SeqID: hb.GetSendPacketSeqId(), At: time.Now()}), ses.s.maxEmitted)
			r.mu.Unlock()
		}
	case webcast.FrameEnterRoom:
		er := new(pb.EnterRoomRequest)
		if proto.Unmarshal(f.GetPayload(), er) != nil {
			return
		}
		if r != nil {
			r.mu.Lock()
			ses.rec.EnterRoom = append(ses.rec.EnterRoom, er)
			r.mu.Unlock()
		}
		enter = true
	case webcast.FrameAck:
		if r != nil {
			r.mu.Lock()
			ses.rec.Acks = keepNewest(append(ses.rec.Acks, Ack{LogID: f.GetLogId(), InternalExt: string(f.GetPayload())}), ses.s.maxEmitted)
			r.mu.Unlock()
		}
	}
	if enter {
		ses.sk.enqueue(outItem{enterResp: true})
	}
}

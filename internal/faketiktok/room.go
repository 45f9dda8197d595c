package faketiktok

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

const (
	defaultHistory = 10
	ringMin        = 1024 // messages kept for history batches and cursor catch-up
	maxBatch       = 500  // synthetic messages published in one frame at most
)

// room is one user's LIVE room: its config, its broadcast (timeline) and what clients did.
type room struct {
	s    *Server
	name string
	hash int64 // mixed into message ids so rooms do not share ids

	mu      sync.Mutex
	id      int64
	cfg     UserConfig
	live    bool
	gen     *synth // synthetic generator; kept across broadcasts so totals keep rising
	ring    []*pb.WireMessage
	lastID  int64
	emitted []Emitted
	signs   []SignCall
	sockets []*SocketRecord
	faults  []*queuedFault
	subs    map[*socket]struct{}
	bcast   *broadcast // the running broadcast; nil when none
}

// broadcast is one run of the room's timeline, from its start to its end.
type broadcast struct {
	cancel context.CancelFunc
	count  int // messages published in it (backlog excluded)
}

type queuedFault struct {
	Fault
	left int // -1 = forever
}

// message is one message waiting to be published.
type message struct {
	method  string
	msg     proto.Message // filled in on publish; nil when raw is set
	raw     []byte        // sent byte-for-byte
	id      int64         // 0 = fresh
	created time.Time     // zero = now
}

func newRoom(s *Server, name string, c UserConfig) *room {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return &room{
		s:    s,
		name: name,
		hash: int64(h.Sum32() & 0x3ff),
		id:   c.RoomID,
		cfg:  c,
		live: c.Kind != KindOffline && c.Kind != KindNotFound,
		subs: make(map[*socket]struct{}),
	}
}

// snapshot is what the HTTP routes need to answer for a room.
type snapshot struct {
	name string
	id   int64
	kind UserKind
	live bool
}

func (r *room) snapshot() snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return snapshot{name: r.name, id: r.id, kind: r.cfg.Kind, live: r.live}
}

func (r *room) historySize() int {
	switch n := r.cfg.Stream.HistorySize; {
	case n < 0:
		return 0
	case n == 0:
		return defaultHistory
	default:
		return n
	}
}

// nextIDLocked returns a fresh message id: snowflake-like (time in the high bits, as TikTok's ids
// are) and always above every id the room used before.
func (r *room) nextIDLocked() int64 {
	id := time.Now().UnixMilli()<<22 | r.hash<<12
	if id <= r.lastID {
		id = r.lastID + 1
	}
	r.lastID = id
	return id
}

// startLocked starts a broadcast if the room is live and none runs. A new broadcast starts with
// fresh history (a backlog of synthetic messages, so the first sign answer is not empty).
func (r *room) startLocked() {
	if r.bcast != nil || !r.live {
		return
	}
	ctx, cancel := context.WithCancel(r.s.ctx)
	b := &broadcast{cancel: cancel}
	r.bcast = b
	r.ring = r.ring[:0]
	st := r.cfg.Stream
	switch {
	case len(st.Capture) > 0:
		lines := append([]capture.Line(nil), st.Capture...)
		r.goTimeline(func() { r.runCapture(ctx, b, lines, st.Loop) })
	case st.Rate > 0:
		if r.gen == nil {
			r.gen = newSynth(st.Seed, r.id, r.name)
		}
		r.gen.startBroadcast()
		interval := time.Duration(float64(time.Second) / st.Rate)
		if n := r.historySize(); n > 0 {
			now := time.Now()
			backlog := make([]message, 0, n)
			for i := range n {
				m := r.gen.next()
				m.created = now.Add(-time.Duration(n-i) * min(interval, time.Second))
				backlog = append(backlog, m)
			}
			r.publishLocked(backlog, pubBacklog)
		}
		r.goTimeline(func() { r.runSynthetic(ctx, b, interval) })
	}
}

// goTimeline runs a timeline goroutine owned by the server (Close waits for it).
func (r *room) goTimeline(f func()) {
	if !r.s.track() {
		return
	}
	go func() {
		defer r.s.wg.Done()
		f()
	}()
}

// endLocked ends the running broadcast: a stream-end control message to every socket, then close.
func (r *room) endLocked(tips string) {
	if r.bcast != nil {
		r.bcast.cancel()
		r.bcast = nil
	}
	if len(r.subs) == 0 {
		return
	}
	r.publishLocked([]message{controlMessage(webcast.ControlEnded, tips)}, pubControl)
	for sk := range r.subs {
		sk.enqueue(outItem{end: true})
		delete(r.subs, sk)
	}
}

func controlMessage(action int32, tips string) message {
	return message{method: webcast.MethodControl, msg: &pb.ControlMessage{Action: action, Tips: tips}}
}

// pubKind says how a published batch is treated.
type pubKind int

const (
	pubLive    pubKind = iota // sent to sockets, counts towards EndAfter
	pubBacklog                // history of a broadcast that just started: ring only
	pubControl                // sent to sockets, not counted (the broadcast's own end)
)

// publishLocked assigns ids, fills common fields, appends to the history ring and the emitted log,
// and hands the batch to every socket. Live messages count towards EndAfter; reaching it ends the
// broadcast.
func (r *room) publishLocked(ms []message, kind pubKind) []int64 {
	b := r.bcast
	live := kind == pubLive
	if live && b != nil && r.cfg.Stream.EndAfter > 0 {
		if left := r.cfg.Stream.EndAfter - b.count; len(ms) > left {
			ms = ms[:max(left, 0)]
		}
	}
	if len(ms) == 0 {
		return nil
	}
	batch := make([]*pb.WireMessage, 0, len(ms))
	ids := make([]int64, 0, len(ms))
	for _, m := range ms {
		w := r.wireLocked(m)
		batch = append(batch, w)
		ids = append(ids, w.MsgId)
		r.recordEmittedLocked(Emitted{MsgID: w.MsgId, Method: w.Method})
	}
	r.ring = append(r.ring, batch...)
	if limit := max(ringMin, r.historySize()); len(r.ring) > 2*limit {
		r.ring = append(r.ring[:0], r.ring[len(r.ring)-limit:]...)
	}
	if kind != pubBacklog {
		bt := newBatch(batch)
		for sk := range r.subs {
			sk.enqueue(outItem{batch: bt})
		}
	}
	if live && b != nil {
		b.count += len(ms)
		if r.cfg.Stream.EndAfter > 0 && b.count >= r.cfg.Stream.EndAfter {
			r.s.log.Info("broadcast ended (EndAfter)", "user", r.name, "messages", b.count)
			r.endLocked("The LIVE has ended")
		}
	}
	return ids
}

// wireLocked turns a pending message into its wire form.
func (r *room) wireLocked(m message) *pb.WireMessage {
	id := m.id
	if id == 0 && m.msg != nil {
		if c := commonOf(m.msg); c != nil {
			id = c.GetMsgId()
		}
	}
	if id == 0 {
		id = r.nextIDLocked()
	} else if id > r.lastID {
		r.lastID = id
	}
	payload := m.raw
	if m.msg != nil {
		created := m.created
		if created.IsZero() {
			created = time.Now()
		}
		fillCommon(m.msg, m.method, id, r.id, created)
		payload, _ = proto.Marshal(m.msg) // generated messages always marshal
	}
	return wireOf(m.method, payload, id)
}

var commonName = (&pb.MessageCommon{}).ProtoReflect().Descriptor().FullName()

// commonField finds a message's "common" field of our MessageCommon type (every event has it as field 1).
func commonField(m proto.Message) protoreflect.FieldDescriptor {
	fd := m.ProtoReflect().Descriptor().Fields().ByName("common")
	if fd == nil || fd.Message() == nil || fd.Message().FullName() != commonName {
		return nil
	}
	return fd
}

func commonOf(m proto.Message) *pb.MessageCommon {
	fd := commonField(m)
	if fd == nil || !m.ProtoReflect().Has(fd) {
		return nil
	}
	c, _ := m.ProtoReflect().Get(fd).Message().Interface().(*pb.MessageCommon)
	return c
}

// fillCommon sets common.msg_id, room_id, create_time_ms and method where they are zero.
func fillCommon(m proto.Message, method string, id, roomID int64, at time.Time) {
	fd := commonField(m)
	if fd == nil {
		return
	}
	c, ok := m.ProtoReflect().Mutable(fd).Message().Interface().(*pb.MessageCommon)
	if !ok {
		return
	}
	if c.MsgId == 0 {
		c.MsgId = id
	}
	if c.RoomId == 0 {
		c.RoomId = roomID
	}
	if c.CreateTimeMs == 0 {
		c.CreateTimeMs = at.UnixMilli()
	}
	if c.Method == "" {
		c.Method = method
	}
}

// runSynthetic publishes generated messages at the configured rate; messages that fall due
// together go out as one batch (one frame).
func (r *room) runSynthetic(ctx context.Context, b *broadcast, interval time.Duration) {
	interval = max(interval, time.Microsecond)
	start := time.Now()
	var sent int64
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for {
		next := start.Add(time.Duration(sent+1) * interval)
		t.Reset(max(time.Until(next), time.Millisecond/2))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := min(int64(time.Since(start)/interval)-sent, maxBatch)
		if n < 1 {
			continue
		}
		if !r.stepSynthetic(b, int(n)) {
			return
		}
		sent += n
	}
}

func (r *room) stepSynthetic(b *broadcast, n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bcast != b || r.gen == nil {
		return false
	}
	ms := make([]message, n)
	for i := range ms {
		ms[i] = r.gen.next()
	}
	r.publishLocked(ms, pubLive)
	return r.bcast == b
}

// runCapture replays capture lines in order, honouring DelayMs; lines due together share a frame.
// Payloads go out byte-for-byte; a looped replay gives repeated lines fresh ids.
func (r *room) runCapture(ctx context.Context, b *broadcast, lines []capture.Line, loop bool) {
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for pass := 0; ; pass++ {
		for i := 0; i < len(lines); {
			if d := time.Duration(lines[i].DelayMs) * time.Millisecond; d > 0 {
				t.Reset(d)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			} else if ctx.Err() != nil {
				return
			}
			j := i + 1
			for j < len(lines) && lines[j].DelayMs == 0 {
				j++
			}
			ms := make([]message, 0, j-i)
			for _, l := range lines[i:j] {
				m := message{method: l.Method, raw: l.Payload}
				if pass == 0 {
					m.id = l.MsgID
				}
				ms = append(ms, m)
			}
			if !r.publishBatch(b, ms) {
				return
			}
			i = j
		}
		if !loop {
			return
		}
	}
}

func (r *room) publishBatch(b *broadcast, ms []message) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bcast != b {
		return false
	}
	r.publishLocked(ms, pubLive)
	return r.bcast == b
}

// inject publishes one message now (starting the broadcast if the room is live).
func (r *room) inject(method string, msg proto.Message) int64 {
	m := proto.Clone(msg)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startLocked()
	ids := r.publishLocked([]message{{method: method, msg: m}}, pubLive)
	if len(ids) == 0 {
		return 0
	}
	return ids[0]
}

func (r *room) injectRaw(method string, payload []byte, id int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startLocked()
	ids := r.publishLocked([]message{{method: method, raw: append([]byte(nil), payload...), id: id}}, pubLive)
	if len(ids) == 0 {
		return 0
	}
	return ids[0]
}

// reconfigure applies a new config; a running broadcast restarts with it.
func (r *room) reconfigure(c UserConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seedChanged := c.Stream.Seed != r.cfg.Stream.Seed
	r.cfg = c
	r.id = c.RoomID
	if seedChanged {
		r.gen = nil
	}
	live := c.Kind != KindOffline && c.Kind != KindNotFound
	if r.bcast != nil {
		r.bcast.cancel()
		r.bcast = nil
	}
	if !live {
		r.live = false
		r.endLocked("The LIVE has ended")
		return
	}
	r.live = true
	if len(r.subs) > 0 {
		r.startLocked()
	}
}

func (r *room) setLive(live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live == live {
		return
	}
	r.live = live
	if !live {
		r.endLocked("The LIVE has ended")
	}
}

func (r *room) addFault(f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	left := f.Times
	if left == 0 {
		left = 1
	}
	r.faults = append(r.faults, &queuedFault{Fault: f, left: left})
}

// takeFault consumes one use of the first queued fault that matches.
func (r *room) takeFault(match func(FaultKind) bool) (Fault, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, q := range r.faults {
		if !match(q.Kind) {
			continue
		}
		if q.left > 0 {
			q.left--
			if q.left == 0 {
				r.faults = append(r.faults[:i], r.faults[i+1:]...)
			}
		}
		return q.Fault, true
	}
	return Fault{}, false
}

func (r *room) recordSign(c SignCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signs = append(r.signs, c)
}

func (r *room) record() Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := Record{
		SignCalls: make([]SignCall, len(r.signs)),
		Sockets:   make([]SocketRecord, len(r.sockets)),
	}
	for i, c := range r.signs {
		out.SignCalls[i] = c.clone()
	}
	for i, s := range r.sockets {
		out.Sockets[i] = s.clone()
	}
	return out
}

// recordEmittedLocked logs a sent message, keeping about the newest Options.MaxEmitted.
func (r *room) recordEmittedLocked(e Emitted) {
	r.emitted = keepNewest(append(r.emitted, e), r.s.maxEmitted)
}

// keepNewest bounds a log to about its newest max entries (between max and 2·max, so trimming is
// amortised); max 0 keeps everything.
func keepNewest[T any](log []T, max int) []T {
	if max > 0 && len(log) > 2*max {
		n := copy(log, log[len(log)-max:])
		clear(log[n:])
		return log[:n]
	}
	return log
}

func (r *room) emittedCopy() []Emitted {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Emitted(nil), r.emitted...)
}

// signAnswer starts the broadcast if needed and returns the first batch: the last HistorySize
// messages and the cursor after them.
func (r *room) signAnswer() (history []*pb.WireMessage, cursor string, id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startLocked()
	if !r.live {
		return nil, makeCursor(r.lastID), r.id
	}
	if n := min(r.historySize(), len(r.ring)); n > 0 {
		history = append(history, r.ring[len(r.ring)-n:]...)
	}
	return history, makeCursor(r.lastID), r.id
}

// makeCursor builds a cursor in TikTok's shape; the fake reads back the r- part to resume a socket
// right after the sign answer's batch.
func makeCursor(lastID int64) string {
	return fmt.Sprintf("t-%d_r-%d_d-1_u-1", time.Now().UnixMilli(), lastID)
}

// cursorMsgID reads the message id out of a cursor; ok is false when there is none.
func cursorMsgID(cursor string) (int64, bool) {
	for part := range strings.SplitSeq(cursor, "_") {
		if v, ok := strings.CutPrefix(part, "r-"); ok {
			id, err := strconv.ParseInt(v, 10, 64)
			return id, err == nil
		}
	}
	return 0, false
}

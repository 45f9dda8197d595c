package webcast

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// Session defaults.
const (
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultStallTimeout      = 60 * time.Second
	DefaultDialTimeout       = 20 * time.Second
	writeTimeout             = 10 * time.Second
)

// ConnectRequest says which room to open and how.
type ConnectRequest struct {
	RoomID   string
	UniqueID string // optional, passed to the sign server
	Cursor   string // optional, a cursor from an earlier session
	// HeartbeatInterval between "hb" frames; 0 = DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// StallTimeout is how long the socket may stay silent before Run returns ErrStalled;
	// 0 = DefaultStallTimeout.
	StallTimeout time.Duration
	// OnFrameError is told about frames that do not decode; the session goes on. May be nil.
	OnFrameError func(error)
}

// Session is one open push socket to a room. Run it once; Close it if Run is never called.
type Session struct {
	roomID  string
	roomNum uint64
	conn    *websocket.Conn
	initial []Message
	hbEvery time.Duration
	stall   time.Duration
	onErr   func(error)

	writeMu sync.Mutex // heartbeats and acks never interleave
	hbSeq   int64
	closed  atomic.Bool

	frames, messages, decodeErrors atomic.Int64
	lastFrame                      atomic.Int64 // unix nanos
}

// Connect signs the room, opens its push socket, enters the room and sends the first heartbeat.
// The sign answer's messages are kept and delivered first by Run, flagged as history.
func (c *Client) Connect(ctx context.Context, signer Signer, req ConnectRequest) (*Session, error) {
	op := "connect room " + req.RoomID
	roomNum, err := strconv.ParseUint(req.RoomID, 10, 64)
	if err != nil || roomNum == 0 {
		return nil, &Error{Kind: KindBadResponse, Op: op, Detail: "room id is not a positive integer"}
	}
	signed, err := signer.Sign(ctx, SignRequest{RoomID: req.RoomID, UniqueID: req.UniqueID, UserAgent: c.ua, Cursor: req.Cursor})
	if err != nil {
		return nil, err
	}
	if id := signed.RoomID; id != "" && id != req.RoomID {
		if n, err := strconv.ParseUint(id, 10, 64); err == nil && n != 0 {
			req.RoomID, roomNum = id, n
		}
	}
	fetch := signed.Fetch
	wsURL, err := c.socketURL(fetch, req.RoomID)
	if err != nil {
		return nil, &Error{Kind: KindBadResponse, Op: op, Detail: "bad socket URL from the sign server", Err: err}
	}
	h := http.Header{}
	h.Set("User-Agent", c.ua)
	h.Set("Origin", "https://www.tiktok.com")
	if len(signed.Cookies) > 0 {
		parts := make([]string, 0, len(signed.Cookies))
		for _, ck := range signed.Cookies {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
		h.Set("Cookie", strings.Join(parts, "; "))
	}
	dialCtx, cancel := context.WithTimeout(ctx, DefaultDialTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dialCtx, wsURL, &websocket.DialOptions{
		HTTPClient: c.http, HTTPHeader: h, CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			msg := resp.Header.Get("Handshake-Msg")
			if resp.StatusCode == http.StatusOK || msg != "" {
				return nil, &Error{Kind: KindHandshake, Op: op, Status: resp.StatusCode, Detail: orDefault(msg, "no Handshake-Msg"),
					Hint: "TikTok refused the socket; a fresh sign call (new cookie) is needed"}
			}
			return nil, &Error{Kind: KindBadResponse, Op: op, Status: resp.StatusCode, Detail: "socket handshake refused"}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Kind: KindNetwork, Op: op, Err: stripURL(err), Hint: "the push socket could not be opened"}
	}
	conn.SetReadLimit(MaxFrameBytes)
	s := &Session{
		roomID: req.RoomID, roomNum: roomNum, conn: conn,
		initial: Messages(fetch, true, time.Now()),
		hbEvery: req.HeartbeatInterval, stall: req.StallTimeout, onErr: req.OnFrameError,
	}
	if s.hbEvery <= 0 {
		s.hbEvery = DefaultHeartbeatInterval
	}
	if s.stall <= 0 {
		s.stall = DefaultStallTimeout
	}
	if s.onErr == nil {
		s.onErr = func(error) {}
	}
	s.lastFrame.Store(time.Now().UnixNano())
	if err := s.enterRoom(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.heartbeat(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// socketURL appends the query parameters TikTok's web client sends (spec 3.1), in its order.
func (c *Client) socketURL(fetch *pb.FetchResult, roomID string) (string, error) {
	u, err := url.Parse(fetch.GetWsUrl())
	if err != nil {
		return "", err
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", fmt.Errorf("scheme %q is not ws or wss", u.Scheme)
	}
	var b strings.Builder
	b.WriteString(u.RawQuery)
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	for _, kv := range [][2]string{
		{"version_code", "180800"}, {"aid", "1988"}, {"app_language", "en"}, {"app_name", "tiktok_web"},
		{"browser_platform", "MacIntel"}, {"browser_language", "en-US"}, {"browser_name", "Mozilla"},
		{"browser_version", strings.TrimPrefix(c.ua, "Mozilla/")}, {"browser_online", "true"},
		{"cookie_enabled", "true"}, {"tz_name", "Europe/Berlin"}, {"device_platform", "web"},
		{"debug", "false"}, {"host", "https://webcast.tiktok.com"}, {"identity", "audience"},
		{"live_id", "12"}, {"sup_ws_ds_opt", "1"}, {"update_version_code", "2.0.0"}, {"did_rule", "3"},
		{"screen_height", "1080"}, {"screen_width", "1920"}, {"heartbeat_duration", "0"},
		{"resp_content_type", "protobuf"}, {"history_comment_count", "6"}, {"client_enter", "1"},
		{"last_rtt", "150"}, {"compress", "gzip"}, {"room_id", roomID},
		{"internal_ext", fetch.GetInternalExt()}, {"cursor", fetch.GetCursor()},
	} {
		add(kv[0], kv[1])
	}
	for k, v := range fetch.GetWsParams() {
		add(k, v)
	}
	add("version_code", "270000") // sent twice by the web client; kept for fidelity
	u.RawQuery = b.String()
	return u.String(), nil
}

// RoomID is the room this session is in (after any sign-server override).
func (s *Session) RoomID() string { return s.roomID }

// Stats are counters of a session, safe to read while it runs.
type Stats struct {
	Frames, Messages, DecodeErrors int64
	LastFrameAt                    time.Time
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	return Stats{
		Frames: s.frames.Load(), Messages: s.messages.Load(), DecodeErrors: s.decodeErrors.Load(),
		LastFrameAt: time.Unix(0, s.lastFrame.Load()),
	}
}

// Close closes the socket at once. Safe to call more than once and concurrently with Run.
func (s *Session) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.conn.CloseNow()
}

// Run delivers the initial batch, then every message of the socket, in order, until the stream
// ends (ErrStreamEnded, after delivering the control message), the socket stays silent past the
// stall timeout (ErrStalled), it closes or breaks (ErrClosed), or ctx is done (ctx's error).
// In every case the socket is closed before Run returns, with a close frame where the peer listens.
// deliver is called from Run's goroutine only; it must not block for long.
func (s *Session) Run(ctx context.Context, deliver func(Message)) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-ctx.Done() // cancelled by the caller or by Run's return: either way, close cleanly
		s.closeGracefully()
	}()
	for _, m := range s.initial {
		s.messages.Add(1)
		deliver(m)
		if ended(m) {
			wg.Done() // the heartbeat loop never started
			return s.endErr()
		}
	}
	s.initial = nil
	go func() {
		defer wg.Done()
		s.heartbeatLoop(ctx)
	}()
	return s.readLoop(ctx, deliver)
}

func (s *Session) endErr() error {
	return &Error{Kind: KindStreamEnded, Op: "room " + s.roomID, Detail: "the host ended the LIVE"}
}

func ended(m Message) bool {
	c, ok := m.Decoded.(*pb.ControlMessage)
	return ok && (c.GetAction() == ControlEnded || c.GetAction() == ControlSuspended)
}

func (s *Session) readLoop(ctx context.Context, deliver func(Message)) error {
	op := "room " + s.roomID
	for {
		// Not derived from ctx: cancelling a Read's context drops the connection without a close
		// frame; cancellation closes it cleanly from Run instead, which ends this Read.
		readCtx, cancel := context.WithTimeout(context.Background(), s.stall)
		typ, data, err := s.conn.Read(readCtx)
		timedOut := readCtx.Err() == context.DeadlineExceeded
		cancel()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case timedOut:
				return &Error{Kind: KindStalled, Op: op, Detail: fmt.Sprintf("no frame for %s", s.stall),
					Hint: "the socket went silent; reconnect"}
			default:
				return &Error{Kind: KindClosed, Op: op, Detail: closeDetail(err), Err: err}
			}
		}
		now := time.Now()
		s.lastFrame.Store(now.UnixNano())
		s.frames.Add(1)
		if typ != websocket.MessageBinary {
			continue
		}
		f, err := DecodeFrame(data)
		if err != nil {
			s.decodeErrors.Add(1)
			s.onErr(err)
			continue
		}
		if f.GetPayloadType() != FrameMsg {
			continue // hb, im_enter_room_resp and others carry nothing for us
		}
		r, err := DecodeFetchResult(f.GetPayload())
		if err != nil {
			s.decodeErrors.Add(1)
			s.onErr(err)
			continue
		}
		if r.GetNeedsAck() && f.GetLogId() != 0 {
			if err := s.ack(ctx, f.GetLogId(), r.GetInternalExt()); err != nil && ctx.Err() == nil {
				return &Error{Kind: KindClosed, Op: op, Detail: "ack failed", Err: err}
			}
		}
		for _, w := range r.GetMessages() {
			m := newMessageFrom(w, false, now)
			if m.Err != nil {
				s.decodeErrors.Add(1)
			}
			s.messages.Add(1)
			deliver(m)
			if ended(m) {
				return s.endErr()
			}
		}
	}
}

func closeDetail(err error) string {
	if st := websocket.CloseStatus(err); st != -1 {
		return "closed by upstream with code " + strconv.Itoa(int(st))
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return "connection lost"
}

// closeGracefully sends a normal close frame and waits a moment for the peer's answer.
func (s *Session) closeGracefully() {
	if s.closed.Swap(true) {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.conn.Close(websocket.StatusNormalClosure, "")
	}()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C: // the peer does not answer: drop the connection
		_ = s.conn.CloseNow()
		<-done
	}
}

func (s *Session) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(s.hbEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.heartbeat(ctx); err != nil {
				return // the read loop sees the broken socket
			}
		}
	}
}

func (s *Session) write(ctx context.Context, f *pb.PushFrame) error {
	b := EncodeFrame(f)
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageBinary, b)
}

func (s *Session) enterRoom(ctx context.Context) error {
	payload := EncodeEnterRoom(s.roomNum)
	if err := s.write(ctx, &pb.PushFrame{PayloadEncoding: "pb", PayloadType: FrameEnterRoom, Payload: payload}); err != nil {
		return &Error{Kind: KindClosed, Op: "enter room " + s.roomID, Err: err}
	}
	return nil
}

func (s *Session) heartbeat(ctx context.Context) error {
	s.writeMu.Lock()
	s.hbSeq++
	seq := s.hbSeq
	s.writeMu.Unlock()
	payload := EncodeHeartbeat(s.roomNum, seq)
	if err := s.write(ctx, &pb.PushFrame{PayloadEncoding: "pb", PayloadType: FrameHeartbeat, Payload: payload}); err != nil {
		return &Error{Kind: KindClosed, Op: "heartbeat room " + s.roomID, Err: err}
	}
	return nil
}

func (s *Session) ack(ctx context.Context, logID int64, internalExt string) error {
	if internalExt == "" {
		internalExt = "-" // an empty ack payload is what the Python client avoids this way
	}
	return s.write(ctx, &pb.PushFrame{LogId: logID, PayloadEncoding: "pb", PayloadType: FrameAck, Payload: []byte(internalExt)})
}

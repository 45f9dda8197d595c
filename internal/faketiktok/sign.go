package faketiktok

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// wsPath is where the sign answer points clients; any path under /webcast/im/ is served.
const wsPath = "/webcast/im/ws_proxy/ws_reuse_supplement/"

const defaultRetryAfter = 30 * time.Second

// handleSign serves the connect call of the sign server: GET /webcast/fetch?room_id= (2.0.7) and
// GET /webcast/rooms/{roomId}/connect (2.5.0). The answer is a protobuf FetchResult: the room's
// first batch plus the WebSocket URL.
func (s *Server) handleSign(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	id := parseRoomID(req.PathValue("roomId"))
	if id == 0 {
		id = parseRoomID(q.Get("room_id"))
	}
	var r *room
	if id != 0 {
		r = s.roomByID(id)
	}
	if r == nil && q.Get("unique_id") != "" {
		r = s.room(q.Get("unique_id")) // connectWithUniqueId: the sign server resolves the room
		id = r.snapshot().id
	}
	status := s.sign(w, req, r, id)
	s.log.Info("sign call", "path", req.URL.Path, "room", id, "status", status)
	if r != nil {
		r.recordSign(SignCall{At: time.Now(), Path: req.URL.Path, Query: cloneValues(q), Header: req.Header.Clone(), Status: status})
	}
}

// sign writes the answer and returns its status.
func (s *Server) sign(w http.ResponseWriter, req *http.Request, r *room, id int64) int {
	if !s.checkKey(w, req) {
		return http.StatusUnauthorized
	}
	var fault Fault
	if r != nil {
		fault, _ = r.takeFault(FaultKind.isSign)
	}
	logID := strconv.FormatInt(s.nextLogID(), 10)
	w.Header().Set("X-Log-Id", logID)
	w.Header().Set("X-Request-Id", logID)
	w.Header().Set("X-Agent-ID", "fake-tiktok")
	switch fault.Kind {
	case FaultSign429:
		wait := fault.RetryAfter
		if wait <= 0 {
			wait = defaultRetryAfter
		}
		secs := int64((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Unix()+secs, 10))
		w.Header().Set("X-RateLimit-Limit", "10")
		w.Header().Set("X-RateLimit-Remaining", "0")
		writeJSON(w, http.StatusTooManyRequests, obj{
			"code": 429, "limit_label": "fake-connect-limit",
			"message": orDefault(fault.Message, "You have hit the rate limit of the fake sign server; wait before connecting again."),
		})
		return http.StatusTooManyRequests
	case FaultSign402:
		writeJSON(w, http.StatusPaymentRequired, obj{
			"code":    402,
			"message": orDefault(fault.Message, "This feature needs a paid plan on the fake sign server."),
		})
		return http.StatusPaymentRequired
	case FaultSign5xx:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprintln(w, orDefault(fault.Message, "fake sign server: internal error"))
		return http.StatusInternalServerError
	}
	if id == 0 {
		writeJSON(w, http.StatusBadRequest, obj{"code": 400, "message": "room_id is required"})
		return http.StatusBadRequest
	}
	var (
		history []*pb.WireMessage
		cursor  = makeCursor(0)
	)
	if r != nil {
		history, cursor, id = r.signAnswer()
	}
	// An offline or unknown room still gets a socket URL; the socket then says the stream ended.
	now := time.Now().UnixMilli()
	body, _ := proto.Marshal(&pb.FetchResult{
		Messages:            history,
		Cursor:              cursor,
		FetchIntervalMs:     1000,
		ServerNowMs:         now,
		InternalExt:         internalExt(id, cursor, now),
		WsParams:            map[string]string{"wrss": randomToken(43)},
		HeartbeatDurationMs: 10_000,
		NeedsAck:            true,
		WsUrl:               "ws://" + req.Host + wsPath,
		IsFirst:             true,
	})
	if fault.Kind != FaultSignNoCookie {
		w.Header().Set("X-Set-TT-Cookie", "ttwid=1%7C"+randomToken(43)+"%7C"+strconv.FormatInt(now/1000, 10)+"%7Cfake")
	}
	w.Header().Set("X-Room-Id", strconv.FormatInt(id, 10))
	w.Header().Set("Content-Type", "application/x-protobuf")
	if fault.Kind == FaultSignEmpty {
		w.WriteHeader(http.StatusOK)
		return http.StatusOK
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return http.StatusOK
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

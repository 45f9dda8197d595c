package faketiktok

import (
	"net/http"
	"net/url"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// FaultKind names a failure the fake can produce.
type FaultKind string

// Fault kinds. Sign faults hit sign calls; the others hit socket connections.
const (
	FaultSign429        FaultKind = "sign_429"          // 429 + Retry-After + X-RateLimit-Reset + JSON {message, limit_label}
	FaultSign402        FaultKind = "sign_402"          // 402 JSON {message}
	FaultSign5xx        FaultKind = "sign_5xx"          // 500 with a text body
	FaultSignNoCookie   FaultKind = "sign_no_cookie"    // 200 without X-Set-TT-Cookie
	FaultSignEmpty      FaultKind = "sign_empty"        // 200 with an empty body
	FaultHandshake      FaultKind = "handshake_refused" // HTTP 200 instead of 101, with Handshake-Msg
	FaultAbruptClose    FaultKind = "abrupt_close"      // drop the TCP connection without a close frame
	FaultGarbageFrame   FaultKind = "garbage_frame"     // one binary message that is not a protobuf
	FaultTruncatedFrame FaultKind = "truncated_frame"   // one valid frame cut in half
	FaultOversizedFrame FaultKind = "oversized_frame"   // a 9 MiB gzip bomb payload (Message "plain": 9 MiB raw)
	FaultStall          FaultKind = "stall"             // keep the socket open, send nothing more
	FaultStreamEnd      FaultKind = "stream_end"        // WebcastControlMessage action 3, then close
)

// Valid reports whether k is a known fault kind.
func (k FaultKind) Valid() bool { return k.isSign() || k.isSocket() }

func (k FaultKind) isSign() bool {
	switch k {
	case FaultSign429, FaultSign402, FaultSign5xx, FaultSignNoCookie, FaultSignEmpty:
		return true
	}
	return false
}

func (k FaultKind) isSocket() bool {
	switch k {
	case FaultHandshake, FaultAbruptClose, FaultGarbageFrame, FaultTruncatedFrame, FaultOversizedFrame,
		FaultStall, FaultStreamEnd:
		return true
	}
	return false
}

// Fault is one queued failure for a user.
type Fault struct {
	Kind          FaultKind
	Times         int           // sign calls / socket connections it hits (0 = 1; -1 = forever)
	RetryAfter    time.Duration // 429: Retry-After (seconds, rounded up; default 30 s) and X-RateLimit-Reset
	AfterMessages int           // socket faults: fire after this many messages were sent on that socket
	// Message: handshake: the Handshake-Msg value (default "DEVICE_BLOCKED"); 429/402: the JSON message
	// (the JS libraries crash on messages shorter than 19 characters); 5xx: the body.
	Message string
}

// SignCall is one call of a sign route.
type SignCall struct {
	At     time.Time // when the call arrived
	Path   string
	Query  url.Values
	Header http.Header
	Status int
}

// Heartbeat is one "hb" frame a client sent.
type Heartbeat struct {
	RoomID uint64
	SeqID  int64
	At     time.Time
}

// Ack is one "ack" frame a client sent.
type Ack struct {
	LogID       int64
	InternalExt string
}

// SocketRecord is one WebSocket handshake (accepted or refused) and what happened on it.
type SocketRecord struct {
	Query      url.Values
	Header     http.Header
	Refused    bool
	EnterRoom  []*pb.EnterRoomRequest
	Heartbeats []Heartbeat
	Acks       []Ack
	SentLogIDs []int64 // log ids of the msg frames sent, so tests can check every needs_ack frame was acked
	// SentInternalExt is the internal_ext of each msg frame sent, parallel to SentLogIDs.
	SentInternalExt []string
	Closed          bool
}

// Record is what clients did for one user.
type Record struct {
	SignCalls []SignCall
	Sockets   []SocketRecord // in handshake order
}

func (c SignCall) clone() SignCall {
	c.Query = cloneValues(c.Query)
	c.Header = c.Header.Clone()
	return c
}

func (r *SocketRecord) clone() SocketRecord {
	out := *r
	out.Query = cloneValues(r.Query)
	out.Header = r.Header.Clone()
	out.EnterRoom = make([]*pb.EnterRoomRequest, len(r.EnterRoom))
	for i, e := range r.EnterRoom {
		out.EnterRoom[i] = proto.Clone(e).(*pb.EnterRoomRequest)
	}
	out.Heartbeats = append([]Heartbeat(nil), r.Heartbeats...)
	out.Acks = append([]Ack(nil), r.Acks...)
	out.SentLogIDs = append([]int64(nil), r.SentLogIDs...)
	out.SentInternalExt = append([]string(nil), r.SentInternalExt...)
	return out
}

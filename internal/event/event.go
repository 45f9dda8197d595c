// Package event is the event contract (../shared/spec/events.md, documented in docs/events.md): the
// envelope every transport sends, the data of every type, its JSON, and Encoded, the encoded form
// the store and the hub pass on. Everything here is pure: no I/O and no clocks; callers pass the times.
// It sits at the bottom of the data flow and imports no other package of ours: the conversion from
// decoded TikTok messages is internal/webcast's (webcast.ToEvent), so nothing downstream needs
// protobuf.
package event

import (
	"time"
)

// Event types: one per TikTok message kind, then the lifecycle types the server adds.
const (
	TypeChat         = "chat"
	TypeGift         = "gift"
	TypeLike         = "like"
	TypeMember       = "member"
	TypeSocial       = "social"
	TypeRoomUser     = "roomUser"
	TypeSubscribe    = "subscribe"
	TypeQuestion     = "question"
	TypeEmote        = "emote"
	TypeEnvelope     = "envelope"
	TypeBattle       = "battle"
	TypeBattleArmies = "battleArmies"
	TypeLiveIntro    = "liveIntro"
	TypeControl      = "control"
	TypeStreamEnd    = "streamEnd"
	TypeUnknown      = "unknown"

	TypeConnectionCreated = "connection_created"
	TypeConnectionClosed  = "connection_closed"
	TypeDisconnected      = "disconnected"
	TypeReconnecting      = "reconnecting"
	TypeRateLimited       = "rate_limited"
	TypeWaitingForLive    = "waiting_for_live"
	TypeStalled           = "stalled"
	TypeError             = "error"
	TypeLiveStarted       = "live_started"
	TypeLiveEnded         = "live_ended"
)

// Room names the monitored room an event belongs to.
type Room struct {
	Username string // the host's @handle
	RoomID   string // decimal; when empty, webcast.ToEvent takes the message's common.room_id
}

// Event is one contract event. The JSON form (AppendJSON) has the keys in the order of the fields.
type Event struct {
	Type      string    `json:"type"`
	Username  string    `json:"username"`
	RoomID    string    `json:"roomId"`
	Seq       uint64    `json:"seq"`             // set by the room stream; 0 where there is none (decode)
	Epoch     string    `json:"epoch,omitempty"` // set by the room stream
	ID        string    `json:"id,omitempty"`    // TikTok's msgId, decimal; empty on lifecycle events
	Time      time.Time `json:"time"`            // UTC, millisecond precision; also data.timestamp
	History   bool      `json:"history,omitempty"`
	Simulated bool      `json:"simulated,omitempty"` // produced by a synthetic stream, not by TikTok
	Data      Data      `json:"data"`
}

// Data is the type-specific part of an event: one of the *Data structs of this package (by value),
// or RawData. The unexported methods keep the set closed, so the JSON encoder can rely on them.
type Data interface {
	eventType() string
	// appendFields appends the data object's members, without braces and without "timestamp"
	// (which the envelope adds from Event.Time, so the two cannot disagree).
	appendFields(dst []byte) []byte
}

// Lifecycle returns a server-made event (connection_created, error, ...) at time at. A nil data
// gives the type's zero data.
func Lifecycle(typ string, room Room, at time.Time, data Data) Event {
	if data == nil {
		data = zeroData(typ)
	}
	return Event{Type: typ, Username: room.Username, RoomID: room.RoomID, Time: msUTC(at), Data: data}
}

// msUTC is the precision and zone events carry: what the JSON shows, so a round trip is lossless.
func msUTC(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// RawData is the data of a type this package does not know, read back from JSON (for example an
// event written by a newer server). It is written out as it was read.
type RawData struct {
	Type string // the envelope type it came with
	JSON []byte // the data object, compact
}

func (d RawData) eventType() string { return d.Type }

package event

import "time"

// The data of the lifecycle events: what the server says about its connection to a room. Build the
// events with Lifecycle, which sets the time (and so data.timestamp).

// ConnectionCreatedData: the server is connected to the room.
type ConnectionCreatedData struct {
	RoomID string `json:"roomId"`
	IsLive bool   `json:"isLive"`
}

// ConnectionClosedData: the room was disconnected on purpose.
type ConnectionClosedData struct {
	Reason string `json:"reason"` // requested, replaced, shutdown, ...
}

// DisconnectedData: the upstream dropped.
type DisconnectedData struct {
	Reason    string `json:"reason"` // stream_end, upstream_closed, ...
	WillRetry bool   `json:"willRetry"`
	RetryInMs int64  `json:"retryInMs"`
}

// ReconnectingData: a reconnect attempt is scheduled.
type ReconnectingData struct {
	Attempt int   `json:"attempt"`
	DelayMs int64 `json:"delayMs"`
}

// RateLimitedData: the sign server refused us until RetryAt.
type RateLimitedData struct {
	RetryAt time.Time `json:"retryAt"` // RFC 3339 UTC with milliseconds
}

// WaitingForLiveData: the host is not live; the next check is at NextCheckAt.
type WaitingForLiveData struct {
	NextCheckAt time.Time `json:"nextCheckAt"` // RFC 3339 UTC with milliseconds
}

// StalledData: no frame arrived for SilentMs.
type StalledData struct {
	SilentMs int64 `json:"silentMs"`
}

// ErrorData: something failed. Code is a short machine word (rate_limited, user_offline, decode, ...).
type ErrorData struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

func (ConnectionCreatedData) eventType() string { return TypeConnectionCreated }
func (ConnectionClosedData) eventType() string  { return TypeConnectionClosed }
func (DisconnectedData) eventType() string      { return TypeDisconnected }
func (ReconnectingData) eventType() string      { return TypeReconnecting }
func (RateLimitedData) eventType() string       { return TypeRateLimited }
func (WaitingForLiveData) eventType() string    { return TypeWaitingForLive }
func (StalledData) eventType() string           { return TypeStalled }
func (ErrorData) eventType() string             { return TypeError }

func (d ConnectionCreatedData) appendFields(b []byte) []byte {
	b = appendStringField(b, `"roomId":`, d.RoomID)
	return appendBoolField(b, `,"isLive":`, d.IsLive)
}

func (d ConnectionClosedData) appendFields(b []byte) []byte {
	return appendStringField(b, `"reason":`, d.Reason)
}

func (d DisconnectedData) appendFields(b []byte) []byte {
	b = appendStringField(b, `"reason":`, d.Reason)
	b = appendBoolField(b, `,"willRetry":`, d.WillRetry)
	return appendIntField(b, `,"retryInMs":`, d.RetryInMs)
}

func (d ReconnectingData) appendFields(b []byte) []byte {
	b = appendIntField(b, `"attempt":`, int64(d.Attempt))
	return appendIntField(b, `,"delayMs":`, d.DelayMs)
}

func (d RateLimitedData) appendFields(b []byte) []byte {
	b = append(b, `"retryAt":`...)
	return appendTime(b, d.RetryAt)
}

func (d WaitingForLiveData) appendFields(b []byte) []byte {
	b = append(b, `"nextCheckAt":`...)
	return appendTime(b, d.NextCheckAt)
}

func (d StalledData) appendFields(b []byte) []byte {
	return appendIntField(b, `"silentMs":`, d.SilentMs)
}

func (d ErrorData) appendFields(b []byte) []byte {
	b = appendStringField(b, `"code":`, d.Code)
	b = appendStringField(b, `,"message":`, d.Message)
	return appendBoolField(b, `,"retryable":`, d.Retryable)
}

// DecodeErrorCode is the error code of input that does not give an event (a bad capture line).
const DecodeErrorCode = "decode"

// DecodeError is the error event of input that does not decode.
func DecodeError(room Room, at time.Time, err error) Event {
	return Lifecycle(TypeError, room, at, ErrorData{Code: DecodeErrorCode, Message: err.Error()})
}

// Reasons of live_ended: the streamEnd action (ended, suspended), or what the server found.
const (
	LiveEndedByHost       = "ended"         // TikTok's streamEnd, action ended
	LiveEndedSuspended    = "suspended"     // TikTok's streamEnd, action suspended
	LiveEndedOffline      = "offline"       // the host was found offline without a streamEnd seen
	LiveEndedNewBroadcast = "new_broadcast" // the host is live in another room: that is a new broadcast
)

// LiveStartedData: a broadcast of the host began (or the server first saw it). StartedAt is
// TikTok's start time when it gives one, else when the server found the host live.
type LiveStartedData struct {
	RoomID    string    `json:"roomId"`
	Title     string    `json:"title"`
	StartedAt time.Time `json:"startedAt"` // RFC 3339 UTC with milliseconds
}

// LiveEndedData: the broadcast live_started announced is over. Totals are the stream's figures
// from live_started to here (simulated events left out).
type LiveEndedData struct {
	RoomID     string     `json:"roomId"`
	Reason     string     `json:"reason"` // ended, suspended, offline, new_broadcast
	Title      string     `json:"title"`
	StartedAt  time.Time  `json:"startedAt"`
	DurationMs int64      `json:"durationMs"`
	Totals     LiveTotals `json:"totals"`
}

// LiveTotals are a broadcast's figures as the server saw them.
type LiveTotals struct {
	Likes       int64 `json:"likes"`       // TikTok's total for the room, or the sum of like events when larger
	Diamonds    int64 `json:"diamonds"`    // each streak counted once, at its end
	Gifts       int64 `json:"gifts"`       // gifts sent (a streak of 5 counts 5)
	Follows     int64 `json:"follows"`     // social follow events
	Shares      int64 `json:"shares"`      // social share events
	Chats       int64 `json:"chats"`       // chat messages
	PeakViewers int64 `json:"peakViewers"` // the highest viewer count TikTok reported
	Events      int64 `json:"events"`      // events of the stream, live_started and live_ended included
}

func (LiveStartedData) eventType() string { return TypeLiveStarted }
func (LiveEndedData) eventType() string   { return TypeLiveEnded }

func (d LiveStartedData) appendFields(b []byte) []byte {
	b = appendStringField(b, `"roomId":`, d.RoomID)
	b = appendStringField(b, `,"title":`, d.Title)
	b = append(b, `,"startedAt":`...)
	return appendTime(b, d.StartedAt)
}

func (d LiveEndedData) appendFields(b []byte) []byte {
	b = appendStringField(b, `"roomId":`, d.RoomID)
	b = appendStringField(b, `,"reason":`, d.Reason)
	b = appendStringField(b, `,"title":`, d.Title)
	b = append(b, `,"startedAt":`...)
	b = appendTime(b, d.StartedAt)
	b = appendIntField(b, `,"durationMs":`, d.DurationMs)
	t := &d.Totals
	b = appendIntField(b, `,"totals":{"likes":`, t.Likes)
	b = appendIntField(b, `,"diamonds":`, t.Diamonds)
	b = appendIntField(b, `,"gifts":`, t.Gifts)
	b = appendIntField(b, `,"follows":`, t.Follows)
	b = appendIntField(b, `,"shares":`, t.Shares)
	b = appendIntField(b, `,"chats":`, t.Chats)
	b = appendIntField(b, `,"peakViewers":`, t.PeakViewers)
	b = appendIntField(b, `,"events":`, t.Events)
	return append(b, '}')
}

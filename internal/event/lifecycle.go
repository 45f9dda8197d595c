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

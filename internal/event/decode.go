package event

import (
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// DecodeErrorCode is the error code of a capture line that does not give an event.
const DecodeErrorCode = "decode"

// Decode turns one capture line ({"method": ..., "payload": "<base64>"}) into its event, as the
// decode command prints it: always exactly one event. A line that is not a capture line, or a known
// method whose bytes do not decode, gives an "error" event with code "decode"; a method without a
// schema gives an "unknown" event. now is the time of reading, used when the message has no
// create time (and for error events). The line's delayMs and msgId are not used: the id comes
// from the message itself.
func Decode(line []byte, room Room, now time.Time) Event {
	l, err := capture.ParseLine(line)
	if err != nil {
		return DecodeError(room, now, err)
	}
	m := webcast.Message{Method: l.Method, Payload: l.Payload, ReceivedAt: now}
	m.Decoded, m.Err = webcast.DecodePayload(l.Method, l.Payload)
	if m.Err != nil {
		return DecodeError(room, now, m.Err)
	}
	return FromMessage(&m, room)
}

// DecodeError is the error event of input that does not decode.
func DecodeError(room Room, at time.Time, err error) Event {
	return Lifecycle(TypeError, room, at, ErrorData{Code: DecodeErrorCode, Message: err.Error()})
}

package webcast

import (
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// DecodeLine turns one capture line ({"method": ..., "payload": "<base64>"}) into its event, as the
// decode command prints it: always exactly one event. A line that is not a capture line, or a known
// method whose bytes do not decode, gives an "error" event with code "decode" (event.DecodeError);
// a method without a schema gives an "unknown" event. now is the time of reading, used when the
// message has no create time (and for error events). The line's delayMs and msgId are not used:
// the id comes from the message itself.
func DecodeLine(line []byte, room event.Room, now time.Time) event.Event {
	l, err := capture.ParseLine(line)
	if err != nil {
		return event.DecodeError(room, now, err)
	}
	m := Message{Method: l.Method, Payload: l.Payload, ReceivedAt: now}
	m.Decoded, m.Err = DecodePayload(l.Method, l.Payload)
	if m.Err != nil {
		return event.DecodeError(room, now, m.Err)
	}
	return ToEvent(&m, room)
}

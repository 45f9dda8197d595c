package webcast

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// FuzzToEvent: any bytes under any method (fuzzMethods, shared with FuzzDecodePayload) give
// exactly one event whose JSON is valid, has the envelope keys, and reads back into the same JSON.
func FuzzToEvent(f *testing.F) {
	for _, s := range webcasttest.Samples() {
		for i, m := range fuzzMethods {
			if m == s.Method {
				f.Add(uint8(i), s.Payload(), s.MsgID, false, int64(1795795245833))
			}
		}
	}
	f.Add(uint8(0), []byte{}, int64(0), true, int64(-1))
	f.Fuzz(func(t *testing.T, mi uint8, payload []byte, msgID int64, history bool, nowMs int64) {
		method := fuzzMethods[int(mi)%len(fuzzMethods)]
		m := Message{Method: method, MsgID: msgID, History: history, Payload: payload, ReceivedAt: time.UnixMilli(nowMs % maxCreateTimeMs)}
		m.Decoded, m.Err = DecodePayload(method, payload)
		ev := ToEvent(&m, testRoom)
		if ev.Type == "" || ev.Data == nil {
			t.Fatalf("event type %q data %T", ev.Type, ev.Data)
		}
		if (m.Decoded == nil) != (ev.Type == event.TypeUnknown) {
			t.Fatalf("decoded %T gave type %q", m.Decoded, ev.Type)
		}
		b1 := ev.AppendJSON(nil)
		if !json.Valid(b1) || bytes.ContainsAny(b1, "\n\r") {
			t.Fatalf("not one line of JSON: %s", b1)
		}
		var back event.Event
		if err := json.Unmarshal(b1, &back); err != nil {
			t.Fatalf("cannot read back: %v\n%s", err, b1)
		}
		if b2 := back.AppendJSON(nil); !bytes.Equal(b1, b2) {
			t.Fatalf("round trip differs\n%s\n%s", b1, b2)
		}
		// The contract reads data back by the envelope type: the same Go type means the data
		// ToEvent chose is the one its type names.
		if reflect.TypeOf(back.Data) != reflect.TypeOf(ev.Data) {
			t.Fatalf("type %q with data %T reads back as %T", ev.Type, ev.Data, back.Data)
		}
	})
}

// FuzzDecode: any line gives exactly one event, as valid JSON.
func FuzzDecodeLine(f *testing.F) {
	for _, s := range webcasttest.Samples() {
		f.Add(captureLine(s.Method, s.Payload()))
	}
	f.Add([]byte(`{"method":"WebcastChatMessage","payload":"","delayMs":"5","msgId":7}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ev := DecodeLine(line, event.Room{}, time.UnixMilli(1795795245833))
		if b := ev.AppendJSON(nil); !json.Valid(b) || ev.Type == "" {
			t.Fatalf("bad event %s", b)
		}
	})
}

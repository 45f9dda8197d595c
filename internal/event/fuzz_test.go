package event

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event/eventtest"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// fuzzMethods are the methods FuzzFromMessage picks from: every decoded one and one without a schema.
var fuzzMethods = []string{
	webcast.MethodChat, webcast.MethodGift, webcast.MethodLike, webcast.MethodMember, webcast.MethodSocial,
	webcast.MethodRoomUserSeq, webcast.MethodControl, webcast.MethodSubNotify, webcast.MethodQuestionNew,
	webcast.MethodEmoteChat, webcast.MethodEnvelope, webcast.MethodLiveIntro, webcast.MethodLinkMicBattle,
	webcast.MethodLinkMicArmies, "WebcastRoomPinMessage",
}

// FuzzFromMessage: any bytes under any method give exactly one event whose JSON is valid, has the
// envelope keys, and reads back into the same JSON.
func FuzzFromMessage(f *testing.F) {
	for _, s := range eventtest.Samples() {
		for i, m := range fuzzMethods {
			if m == s.Method {
				f.Add(uint8(i), s.Payload(), s.MsgID, false, int64(1795795245833))
			}
		}
	}
	f.Add(uint8(0), []byte{}, int64(0), true, int64(-1))
	f.Fuzz(func(t *testing.T, mi uint8, payload []byte, msgID int64, history bool, nowMs int64) {
		method := fuzzMethods[int(mi)%len(fuzzMethods)]
		m := webcast.Message{Method: method, MsgID: msgID, History: history, Payload: payload, ReceivedAt: time.UnixMilli(nowMs % maxCreateTimeMs)}
		m.Decoded, m.Err = webcast.DecodePayload(method, payload)
		ev := FromMessage(&m, testRoom)
		if ev.Type == "" || ev.Data == nil || ev.Data.eventType() != ev.Type {
			t.Fatalf("event type %q data %T", ev.Type, ev.Data)
		}
		if (m.Decoded == nil) != (ev.Type == TypeUnknown) {
			t.Fatalf("decoded %T gave type %q", m.Decoded, ev.Type)
		}
		b1 := ev.AppendJSON(nil)
		if !json.Valid(b1) || bytes.ContainsAny(b1, "\n\r") {
			t.Fatalf("not one line of JSON: %s", b1)
		}
		var back Event
		if err := json.Unmarshal(b1, &back); err != nil {
			t.Fatalf("cannot read back: %v\n%s", err, b1)
		}
		if b2 := back.AppendJSON(nil); !bytes.Equal(b1, b2) {
			t.Fatalf("round trip differs\n%s\n%s", b1, b2)
		}
	})
}

// FuzzDecode: any line gives exactly one event, as valid JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range eventtest.Samples() {
		f.Add(captureLine(s.Method, s.Payload()))
	}
	f.Add([]byte(`{"method":"WebcastChatMessage","payload":"","delayMs":"5","msgId":7}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ev := Decode(line, Room{}, time.UnixMilli(1795795245833))
		if b := ev.AppendJSON(nil); !json.Valid(b) || ev.Type == "" {
			t.Fatalf("bad event %s", b)
		}
	})
}

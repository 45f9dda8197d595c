package webcast

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// fuzzMethods: every method with a schema, and one without.
var fuzzMethods = []string{
	MethodChat, MethodGift, MethodLike, MethodMember, MethodSocial, MethodRoomUserSeq, MethodControl,
	MethodSubNotify, MethodQuestionNew, MethodEmoteChat, MethodEnvelope, MethodLiveIntro,
	MethodLinkMicBattle, MethodLinkMicArmies, "WebcastRoomPinMessage",
}

// FuzzDecodePayload: any bytes under any method either decode into the method's typed message or
// fail with a KindDecode *Error; a method without a schema gives (nil, nil). Never a panic.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range webcasttest.Samples() {
		for i, m := range fuzzMethods {
			if m == s.Method {
				f.Add(uint8(i), s.Payload())
			}
		}
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}) // a length far past the end
	f.Fuzz(func(t *testing.T, mi uint8, payload []byte) {
		method := fuzzMethods[int(mi)%len(fuzzMethods)]
		m, err := DecodePayload(method, payload)
		switch {
		case !KnownMethod(method):
			if m != nil || err != nil {
				t.Fatalf("unknown method gave %T, %v", m, err)
			}
		case err != nil:
			if m != nil || !errors.Is(err, ErrDecode) {
				t.Fatalf("failed decode gave %T, %v", m, err)
			}
		default:
			if m == nil {
				t.Fatal("no message and no error")
			}
			if _, err := proto.Marshal(m); err != nil {
				t.Fatalf("decoded message does not marshal: %v", err)
			}
		}
	})
}

// FuzzDecodeFrame: any WebSocket message goes through the client's decode path (frame, fetch
// result with or without gzip, messages) without a panic, each step failing only with KindDecode,
// and Messages gives one Message per wire message.
func FuzzDecodeFrame(f *testing.F) {
	var wires []*pb.WireMessage
	for _, s := range webcasttest.Samples() {
		wires = append(wires, &pb.WireMessage{Method: s.Method, Payload: s.Payload(), MsgId: s.MsgID})
	}
	result, _ := proto.Marshal(&pb.FetchResult{Messages: wires[:3], Cursor: "1795795245833_7311", NeedsAck: true, InternalExt: "fetch_time:1795795245833"})
	plain := EncodeFrame(&pb.PushFrame{LogId: 900001, PayloadEncoding: "pb", PayloadType: FrameMsg, Payload: result})
	gz := EncodeFrame(&pb.PushFrame{LogId: 900002, PayloadEncoding: "pb", PayloadType: FrameMsg,
		Headers: map[string]string{"compress_type": "gzip"}, Payload: Gzip(result)})
	f.Add(plain)
	f.Add(gz)
	f.Add(EncodeFrame(&pb.PushFrame{PayloadEncoding: "pb", PayloadType: FrameHeartbeat}))
	f.Add([]byte{0x1f, 0x8b, 0x08})
	f.Fuzz(func(t *testing.T, b []byte) {
		frame, err := DecodeFrame(b)
		if err != nil {
			if KindOf(err) != KindDecode {
				t.Fatalf("frame error of kind %q: %v", KindOf(err), err)
			}
			return
		}
		// Also try the frame's bytes as a fetch result directly: the fuzzer then reaches the gzip path
		// without having to build a frame around it.
		for _, payload := range [][]byte{frame.GetPayload(), b} {
			r, err := DecodeFetchResult(payload)
			if err != nil {
				if KindOf(err) != KindDecode {
					t.Fatalf("fetch result error of kind %q: %v", KindOf(err), err)
				}
				continue
			}
			msgs := Messages(r, false, time.Unix(0, 0))
			if len(msgs) != len(r.GetMessages()) {
				t.Fatalf("%d messages from %d wire messages", len(msgs), len(r.GetMessages()))
			}
			for _, m := range msgs {
				if (m.Decoded == nil) == (m.Err == nil) && KnownMethod(m.Method) {
					t.Fatalf("%s: decoded %T with error %v", m.Method, m.Decoded, m.Err)
				}
			}
		}
	})
}

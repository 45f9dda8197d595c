package webcast

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

func captureLine(method string, payload []byte) []byte {
	return []byte(`{"method":"` + method + `","payload":"` + base64.StdEncoding.EncodeToString(payload) + `"}`)
}

func TestDecode(t *testing.T) {
	gift := webcasttest.Find("gift_streak_final")
	tests := []struct {
		name     string
		line     []byte
		room     event.Room
		wantType string
		check    func(t *testing.T, ev event.Event)
	}{
		{
			name: "gift", line: captureLine(gift.Method, gift.Payload()), wantType: event.TypeGift,
			check: func(t *testing.T, ev event.Event) {
				if ev.RoomID != "7311111111111111111" || ev.ID != "7311500000000000004" || ev.Seq != 0 || ev.Epoch != "" || ev.Username != "" {
					t.Errorf("envelope %+v", ev)
				}
				if d := ev.Data.(event.GiftData); d.StreakState != event.StreakFinal || d.TotalDiamonds != 5 {
					t.Errorf("data %+v", d)
				}
			},
		},
		{
			name: "username and room given", line: captureLine(gift.Method, gift.Payload()), room: event.Room{Username: "host", RoomID: "1"},
			wantType: event.TypeGift,
			check: func(t *testing.T, ev event.Event) {
				if ev.Username != "host" || ev.RoomID != "1" {
					t.Errorf("envelope %+v", ev)
				}
			},
		},
		{
			name: "delayMs and msgId are ignored",
			line: []byte(`{"method":"WebcastControlMessage","payload":"EAM=","delayMs":250,"msgId":"99"}`), wantType: event.TypeStreamEnd,
			check: func(t *testing.T, ev event.Event) {
				if ev.ID != "" || !ev.Time.Equal(receivedAt.Truncate(1e6)) {
					t.Errorf("id %q time %v: want no id and the time of reading", ev.ID, ev.Time)
				}
			},
		},
		{name: "unknown method", line: captureLine("WebcastRankUpdateMessage", []byte{8, 1}), wantType: event.TypeUnknown},
		{name: "empty payload of a known method", line: captureLine("WebcastChatMessage", nil), wantType: event.TypeChat},
		{name: "bad bytes of a known method", line: captureLine(gift.Method, []byte{0x0a, 0x7f}), wantType: event.TypeError,
			check: wantDecodeError("decode WebcastGiftMessage")},
		{name: "not JSON", line: []byte(`{"method":`), wantType: event.TypeError, check: wantDecodeError("capture: bad line")},
		{name: "not base64", line: []byte(`{"method":"WebcastChatMessage","payload":"!!"}`), wantType: event.TypeError,
			check: wantDecodeError("not base64")},
		{name: "no method", line: []byte(`{"payload":""}`), wantType: event.TypeError, check: wantDecodeError("method")},
		{name: "blank", line: []byte(`  `), wantType: event.TypeError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := DecodeLine(tt.line, tt.room, receivedAt)
			if ev.Type != tt.wantType {
				t.Fatalf("type %q, want %q (%s)", ev.Type, tt.wantType, ev.AppendJSON(nil))
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

func wantDecodeError(substr string) func(t *testing.T, ev event.Event) {
	return func(t *testing.T, ev event.Event) {
		d, ok := ev.Data.(event.ErrorData)
		if !ok || d.Code != "decode" || d.Retryable || !strings.Contains(d.Message, substr) {
			t.Errorf("data %#v, want a decode error mentioning %q", ev.Data, substr)
		}
		if ev.ID != "" || !ev.Time.Equal(receivedAt.Truncate(1e6)) {
			t.Errorf("id %q time %v", ev.ID, ev.Time)
		}
	}
}

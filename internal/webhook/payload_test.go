package webhook

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

var evTime = time.Date(2026, 1, 1, 12, 0, 0, 123e6, time.UTC)

func tiktokEvent(typ string, seq uint64, id string, data event.Data) event.Event {
	return event.Event{Type: typ, Username: "creator", RoomID: "7515000000000000001", Seq: seq, Epoch: "2026-01-01T11:02:03Z#n2",
		ID: id, Time: evTime, Data: data}
}

func gift(state string, diamonds int64) event.Event {
	return tiktokEvent(event.TypeGift, 18234, "7400000000000000001", event.GiftData{Sender: "fan", User: event.User{UniqueID: "fan"},
		GiftID: 5655, GiftName: "Rose", GiftType: 1, DiamondCount: 1, RepeatCount: int(diamonds), StreakState: state, TotalDiamonds: diamonds})
}

func lifecycle(typ string, seq uint64, data event.Data) event.Event {
	ev := event.Lifecycle(typ, event.Room{Username: "creator", RoomID: "7515000000000000001"}, evTime, data)
	ev.Seq, ev.Epoch = seq, "2026-01-01T11:02:03Z#n2"
	return ev
}

func raw(typ string, seq uint64, js string) event.Event {
	return lifecycle(typ, seq, event.RawData{Type: typ, JSON: []byte(js)})
}

func TestMap(t *testing.T) {
	tests := []struct {
		name   string
		ev     event.Event
		filter Filter
		want   string // webhook type, "" for none
	}{
		{"gift streak end", gift(event.StreakFinal, 10), Filter{}, TypeGift},
		{"single gift", gift(event.StreakSingle, 1), Filter{}, TypeGift},
		{"streak step, final streaks only by default", gift(event.StreakProgress, 5), Filter{}, ""},
		{"streak step when asked for", gift(event.StreakProgress, 5), Filter{GiftStreakSteps: true}, TypeGift},
		{"gift at the minimum", gift(event.StreakFinal, 100), Filter{GiftMinDiamonds: 100}, TypeGift},
		{"gift below the minimum", gift(event.StreakFinal, 99), Filter{GiftMinDiamonds: 100}, ""},
		{"follow", tiktokEvent(event.TypeSocial, 2, "1", event.SocialData{Action: "follow", ActionID: 1}), Filter{}, TypeFollow},
		{"share", tiktokEvent(event.TypeSocial, 3, "2", event.SocialData{Action: "share", ActionID: 3}), Filter{}, TypeShare},
		{"other social", tiktokEvent(event.TypeSocial, 4, "3", event.SocialData{Action: "other", ActionID: 7}), Filter{}, ""},
		{"subscribe is a superfan", tiktokEvent(event.TypeSubscribe, 5, "4", event.SubscribeData{SubMonth: 1}), Filter{}, TypeSuperFan},
		{"superFan", raw(EventSuperFan, 6, `{"sender":"fan"}`), Filter{}, TypeSuperFan},
		{"live started", lifecycle(event.TypeLiveStarted, 1, event.LiveStartedData{RoomID: "7515000000000000001", Title: "hi", StartedAt: time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC)}), Filter{}, TypeLiveStarted},
		{"live ended", lifecycle(event.TypeLiveEnded, 90, event.LiveEndedData{RoomID: "7515000000000000001", Reason: "host_ended", Title: "hi"}), Filter{}, TypeLiveEnded},
		{"gave up", lifecycle(event.TypeError, 7, event.ErrorData{Code: "user_not_found", Retryable: false}), Filter{}, TypeConnectionLost},
		{"retryable error", lifecycle(event.TypeError, 8, event.ErrorData{Code: "upstream", Retryable: true}), Filter{}, ""},
		{"chat", tiktokEvent(event.TypeChat, 9, "5", event.ChatData{Comment: "hi"}), Filter{}, ""},
		{"like", tiktokEvent(event.TypeLike, 10, "6", event.LikeData{LikeCount: 3}), Filter{}, ""},
		{"disconnected", lifecycle(event.TypeDisconnected, 11, event.DisconnectedData{Reason: "stream_end", WillRetry: true}), Filter{}, ""},
		{"type filtered out", gift(event.StreakFinal, 10), Filter{Types: []string{TypeFollow}}, ""},
		{"type filtered in", gift(event.StreakFinal, 10), Filter{Types: []string{TypeGift}}, TypeGift},
		{"other room", gift(event.StreakFinal, 10), Filter{Rooms: []string{"someone"}}, ""},
		{"room, any case and @", gift(event.StreakFinal, 10), Filter{Rooms: []string{"someone", "@Creator"}}, TypeGift},
		{"every room", gift(event.StreakFinal, 10), Filter{Rooms: []string{"*"}}, TypeGift},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := Map(&tt.ev, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if len(ps) != 0 {
					t.Fatalf("Map = %d payloads (%s), want none", len(ps), ps[0].Type)
				}
				return
			}
			if len(ps) != 1 || ps[0].Type != tt.want {
				t.Fatalf("Map = %+v, want one %s", ps, tt.want)
			}
			checkBody(t, ps[0], &tt.ev)
		})
	}
}

// checkBody reads the body back: {type, timestamp, data: {room, stream, event}}.
func checkBody(t *testing.T, p Payload, ev *event.Event) {
	t.Helper()
	var b struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			Room struct {
				UniqueID string `json:"unique_id"`
				RoomID   string `json:"room_id"`
			} `json:"room"`
			Stream struct {
				Epoch string `json:"epoch"`
				Seq   uint64 `json:"seq"`
			} `json:"stream"`
			Event event.Event `json:"event"`
		} `json:"data"`
	}
	if err := json.Unmarshal(p.Body, &b); err != nil {
		t.Fatalf("body %s: %v", p.Body, err)
	}
	if b.Type != p.Type || b.Timestamp != "2026-01-01T12:00:00.123Z" || b.Data.Room.UniqueID != ev.Username ||
		b.Data.Room.RoomID != ev.RoomID || b.Data.Stream.Seq != ev.Seq || b.Data.Stream.Epoch != ev.Epoch || b.Data.Event.Type != ev.Type {
		t.Fatalf("body %s", p.Body)
	}
	want, _ := json.Marshal(ev)
	got, _ := json.Marshal(b.Data.Event)
	if string(got) != string(want) {
		t.Fatalf("data.event\n got %s\nwant %s", got, want)
	}
}

func mapOne(t *testing.T, ev event.Event) Payload {
	t.Helper()
	ps, err := Map(&ev, Filter{GiftStreakSteps: true})
	if err != nil || len(ps) != 1 {
		t.Fatalf("Map = %v, %v", ps, err)
	}
	return ps[0]
}

func TestMap_IDs(t *testing.T) {
	a := mapOne(t, gift(event.StreakFinal, 10))
	if len(a.ID) != len("msg_")+26 || a.ID[:4] != "msg_" {
		t.Fatalf("id %q", a.ID)
	}
	if b := mapOne(t, gift(event.StreakFinal, 10)); b.ID != a.ID {
		t.Fatalf("same event, ids %s and %s", a.ID, b.ID)
	}
	// TikTok re-sent the message after a reconnect: a new seq, the same msgId, the same webhook.
	again := gift(event.StreakFinal, 10)
	again.Seq, again.History = 99999, true
	if b := mapOne(t, again); b.ID != a.ID {
		t.Fatal("a message re-sent with a new seq got a new webhook id")
	}
	other := gift(event.StreakFinal, 10)
	other.ID = "7400000000000000002"
	if b := mapOne(t, other); b.ID == a.ID {
		t.Fatal("two messages share a webhook id")
	}
	// Server events (and timed-out streak ends) have no msgId: their place in the stream names them.
	l1, l2 := mapOne(t, lifecycle(event.TypeLiveStarted, 1, event.LiveStartedData{})), mapOne(t, lifecycle(event.TypeLiveStarted, 2, event.LiveStartedData{}))
	if l1.ID == l2.ID || l1.ID != mapOne(t, lifecycle(event.TypeLiveStarted, 1, event.LiveStartedData{})).ID {
		t.Fatal("lifecycle ids not by seq")
	}
	noID := gift(event.StreakFinal, 10)
	noID.ID = ""
	if mapOne(t, noID).ID == a.ID {
		t.Fatal("a timed-out streak end shares the id of a TikTok message")
	}
}

func TestDeliveries(t *testing.T) {
	eps := []Endpoint{
		{ID: "ep_all"},
		{ID: "ep_big", Filter: Filter{GiftMinDiamonds: 1000}},
		{ID: "ep_off", Disabled: true},
		{ID: "ep_live", Filter: Filter{Types: []string{TypeLiveStarted}}},
	}
	g := gift(event.StreakFinal, 10)
	ds, err := Deliveries(&g, eps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].EndpointID != "ep_all" || ds[0].Type != TypeGift || !ds[0].ExpiresAt.Equal(evTime.Add(time.Hour)) ||
		ds[0].State != StatePending || ds[0].Room != "creator" {
		t.Fatalf("gift deliveries %+v", ds)
	}
	l := lifecycle(event.TypeLiveStarted, 1, event.LiveStartedData{})
	ds, err = Deliveries(&l, eps, func(string) time.Duration { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 || ds[0].EndpointID != "ep_all" || ds[1].EndpointID != "ep_big" || ds[2].EndpointID != "ep_live" ||
		!ds[0].ExpiresAt.IsZero() || ds[0].MsgID != ds[2].MsgID {
		t.Fatalf("live deliveries %d: %v %v %v", len(ds), ds[0].EndpointID, ds[1].EndpointID, ds[0].MsgID)
	}
	c := tiktokEvent(event.TypeChat, 9, "5", event.ChatData{})
	if ds, _ := Deliveries(&c, eps, nil); len(ds) != 0 {
		t.Fatalf("chat deliveries %+v", ds)
	}
}

func TestFilter_Validate(t *testing.T) {
	tests := []struct {
		f  Filter
		ok bool
	}{
		{Filter{}, true},
		{Filter{Types: []string{TypeGift, TypeTest}}, true},
		{Filter{Types: []string{"room.chat"}}, false},
		{Filter{GiftMinDiamonds: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.f.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: %v", tt.f, err)
		}
	}
}

func TestTestPayload(t *testing.T) {
	a, err := TestPayload("ep_1", evTime)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := TestPayload("ep_1", evTime)
	if a.ID == b.ID || a.Type != TypeTest {
		t.Fatalf("%+v %+v", a, b)
	}
	if string(a.Body) != `{"type":"webhook.test","timestamp":"2026-01-01T12:00:00.123Z","data":{"room":{"unique_id":"","room_id":""},"test":{"endpoint_id":"ep_1"}}}` {
		t.Fatalf("body %s", a.Body)
	}
}

// data.event is byte for byte the event REST and WebSocket send (no HTML escaping).
func TestMap_BodyHasTheEventBytes(t *testing.T) {
	g := gift(event.StreakFinal, 10)
	d := g.Data.(event.GiftData)
	d.GiftName = "<Rose & Co>"
	g.Data = d
	p := mapOne(t, g)
	if !bytes.Contains(p.Body, g.AppendJSON(nil)) {
		t.Fatalf("body %s does not hold %s", p.Body, g.AppendJSON(nil))
	}
}

package feed

import (
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
)

const epochA, epochB = "0123456789abcdef", "fedcba9876543210"

func TestSSEPositions_AppendEvent(t *testing.T) {
	var p ssePositions
	p.set("hostb", event.Position{Epoch: epochB, Seq: 7}) // where the client resumes
	tests := []struct {
		name string
		m    hub.Message
		want string
	}{
		{"resume message: no id", hub.Message{Room: "hosta", Type: event.TypeResume, Epoch: epochA, JSON: []byte(`{}`)},
			"event: resume\ndata: {}\n\n"},
		{"a new room joins the id", hub.Message{Room: "hosta", Type: "chat", Seq: 3, Epoch: epochA, JSON: []byte(`{"a":1}`)},
			"id: hostb:7:" + epochB + ",hosta:3:" + epochA + "\nevent: chat\ndata: {\"a\":1}\n\n"},
		{"a known room moves in place", hub.Message{Room: "hostb", Type: "like", Seq: 8, Epoch: epochB, JSON: []byte(`{}`)},
			"id: hostb:8:" + epochB + ",hosta:3:" + epochA + "\nevent: like\ndata: {}\n\n"},
		{"a new epoch replaces the old", hub.Message{Room: "hostb", Type: "chat", Seq: 1, Epoch: epochA, JSON: []byte(`{}`)},
			"id: hostb:1:" + epochA + ",hosta:3:" + epochA + "\nevent: chat\ndata: {}\n\n"},
	}
	for _, tc := range tests { // in order: each case moves the positions the next one starts from
		if got := string(p.appendEvent(nil, &tc.m)); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestReplays_Sent(t *testing.T) {
	var d replays
	d.add("hosta", event.Position{Epoch: epochA, Seq: 10})
	d.add("hostb", event.Position{}) // a replay that sent nothing records nothing
	tests := []struct {
		name string
		m    hub.Message
		want bool
	}{
		{"replayed", hub.Message{Room: "hosta", Epoch: epochA, Seq: 10}, true},
		{"earlier", hub.Message{Room: "hosta", Epoch: epochA, Seq: 3}, true},
		{"after the replay", hub.Message{Room: "hosta", Epoch: epochA, Seq: 11}, false},
		{"another epoch", hub.Message{Room: "hosta", Epoch: epochB, Seq: 2}, false},
		{"a room not replayed", hub.Message{Room: "hostb", Epoch: epochA, Seq: 1}, false},
	}
	for _, tc := range tests {
		if got := d.sent(&tc.m); got != tc.want {
			t.Errorf("%s: sent = %v, want %v", tc.name, got, tc.want)
		}
	}
	if len(d) != 1 {
		t.Errorf("%d rooms recorded, want 1", len(d))
	}
	var none replays
	if none.sent(&hub.Message{Room: "hosta", Epoch: epochA, Seq: 1}) {
		t.Error("no replay: a live message counted as sent")
	}
}

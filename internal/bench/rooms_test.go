package bench

import (
	"bytes"
	"strings"
	"testing"
)

func TestRoomMsgID_RoundTrip(t *testing.T) {
	tests := []struct {
		room int
		seq  uint64
	}{{0, 1}, {1, 1}, {999, 600}, {maxBenchRooms - 1, maxRoomSeq}}
	for _, tt := range tests {
		room, seq, ok := parseRoomMsgID(uint64(roomMsgID(tt.room, tt.seq)))
		if !ok || room != tt.room || seq != tt.seq {
			t.Errorf("room %d seq %d: parsed %d, %d, %v", tt.room, tt.seq, room, seq, ok)
		}
	}
}

func TestParseRoomMsgID_NotOurs(t *testing.T) {
	tests := []struct {
		name string
		id   uint64
	}{
		{"a real TikTok id", 7311500000000000001},
		{"below the base", roomIDBase - 1},
		{"seq 0", roomIDBase + 5<<roomSeqBits},
		{"room past the bound", roomIDBase + maxBenchRooms<<roomSeqBits + 1},
	}
	for _, tt := range tests {
		if room, seq, ok := parseRoomMsgID(tt.id); ok {
			t.Errorf("%s: parsed room %d seq %d", tt.name, room, seq)
		}
	}
}

func TestParseEventID(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want uint64
		ok   bool
	}{
		{"envelope id", `{"type":"chat","username":"rm00001","seq":4,"id":"7000000000016777217","data":{"user":{"userId":"1"}}}`, 7000000000016777217, true},
		{"data ids are not the id", `{"type":"connected","username":"a","data":{"userId":"5","giftId":"6","streakId":"7"}}`, 0, false},
		{"the envelope's, not data's", `{"type":"gift","id":"12","data":{"x":{"id":"13"}}}`, 12, true},
		{"empty", `{"type":"chat","id":"","data":{}}`, 0, false},
		{"not digits", `{"type":"chat","id":"abc","data":{}}`, 0, false},
		{"unterminated", `{"type":"chat","id":"12`, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseEventID([]byte(tt.msg))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: got %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEventType(t *testing.T) {
	tests := []struct{ msg, want string }{
		{`{"type":"roomUser","username":"a"}`, "roomUser"},
		{`{"type":"","username":"a"}`, ""},
		{`{"username":"a","type":"chat"}`, ""},
		{`{"type":"chat`, ""},
	}
	for _, tt := range tests {
		if got := eventType([]byte(tt.msg)); string(got) != tt.want {
			t.Errorf("%s: %q, want %q", tt.msg, got, tt.want)
		}
	}
}

func TestMixKindOf_Cycle(t *testing.T) {
	// Every cycle of 10: 4 chats, 2 likes, a streak step and its end three later, a join, a viewer count.
	counts := map[mixKind]int{}
	for seq := uint64(1); seq <= 10; seq++ {
		counts[mixKindOf(seq)]++
		if mixKindOf(seq) != mixKindOf(seq+10) {
			t.Errorf("seq %d and %d differ", seq, seq+10)
		}
	}
	want := map[mixKind]int{mixChat: 4, mixLike: 2, mixGiftStep: 1, mixGiftEnd: 1, mixMember: 1, mixRoomUser: 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("kind %v: %d per cycle, want %d", k, counts[k], n)
		}
	}
	for seq := uint64(1); seq <= 10; seq++ {
		if mixKindOf(seq) == mixGiftStep && mixKindOf(seq+3) != mixGiftEnd {
			t.Errorf("the streak step at %d does not end at %d", seq, seq+3)
		}
	}
}

func TestCountOfKind(t *testing.T) {
	chat := func(k mixKind) bool { return k == mixChat }
	all := func(mixKind) bool { return true }
	tests := []struct {
		n    uint64
		keep func(mixKind) bool
		want uint64
	}{{0, chat, 0}, {1, chat, 1}, {2, chat, 1}, {3, chat, 2}, {10, chat, 4}, {35, chat, 14}, {35, all, 35}}
	for _, tt := range tests {
		var brute uint64
		for seq := uint64(1); seq <= tt.n; seq++ {
			if tt.keep(mixKindOf(seq)) {
				brute++
			}
		}
		if got := countOfKind(tt.n, tt.keep); got != tt.want || got != brute {
			t.Errorf("n %d: %d, want %d (counted one by one: %d)", tt.n, got, tt.want, brute)
		}
	}
}

func TestMixMessage_Stamp(t *testing.T) {
	// Chats carry bench:SEQ:UNIXNANO (what the original passes on); every kind has its id.
	for seq := uint64(1); seq <= 10; seq++ {
		method, m := mixMessage(7, seq, 1234)
		if method == "" || m == nil {
			t.Fatalf("seq %d: no message", seq)
		}
		if mixKindOf(seq) != mixChat {
			continue
		}
		comment := m.ProtoReflect().Get(m.ProtoReflect().Descriptor().Fields().ByName("comment")).String()
		js := []byte(`{"data":{"comment":"` + comment + `"}}`)
		if s, sent, ok := parseStamp(js); !ok || s != seq || sent != 1234 {
			t.Errorf("seq %d: comment %q parses to %d, %d, %v", seq, comment, s, sent, ok)
		}
	}
}

func TestParseSteps(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		ok   bool
	}{
		{"100,250,500", []int{100, 250, 500}, true},
		{" 1, 2 ,", []int{1, 2}, true},
		{"", nil, false},
		{"100,100", nil, false},
		{"200,100", nil, false},
		{"0", nil, false},
		{"ten", nil, false},
	}
	for _, tt := range tests {
		got, err := ParseSteps(tt.in)
		if (err == nil) != tt.ok || !equalInts(got, tt.want) {
			t.Errorf("ParseSteps(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRoomsFellBehind(t *testing.T) {
	ok := RoomsResult{Rooms: 2, RoomsConnected: 2, EventsSent: 100, StoreChecked: true, Stored: 100, Latency: LatencyMs{P99: 5}}
	tests := []struct {
		name   string
		change func(*RoomsResult)
		behind bool
		why    string
	}{
		{"kept up", func(*RoomsResult) {}, false, ""},
		{"a room not connected", func(r *RoomsResult) { r.RoomsConnected = 1 }, true, "rooms connected"},
		{"a client closed", func(r *RoomsResult) { r.ClientsClosed = 1 }, true, "closed"},
		{"missed", func(r *RoomsResult) { r.Missed = 1 }, true, "missed"},
		{"another room's event", func(r *RoomsResult) { r.Foreign = 1 }, true, "another room"},
		{"stored less than sent", func(r *RoomsResult) { r.Stored = 99 }, true, "stored 99 of 100"},
		{"unstored", func(r *RoomsResult) { r.StoreUnstored = 1 }, true, "unstored"},
		{"no store to check (the original)", func(r *RoomsResult) { r.StoreChecked, r.Stored = false, 0 }, false, ""},
		{"p99 over a second", func(r *RoomsResult) { r.Latency.P99 = 1001 }, true, "p99"},
	}
	for _, tt := range tests {
		r := ok
		tt.change(&r)
		behind, why := roomsFellBehind(&r)
		if behind != tt.behind || !strings.Contains(why, tt.why) {
			t.Errorf("%s: %v %q; want %v with %q", tt.name, behind, why, tt.behind, tt.why)
		}
	}
}

func TestWriteRoomsTable_Saturation(t *testing.T) {
	results := []RoomsResult{
		{Mode: "rooms", Label: LabelRoomsSingle, Target: TargetOurs, Rooms: 1, RoomRate: 10, ClientsPerRoom: 2,
			Latency: LatencyMs{P50: 1, P99: 2}, CPUPerEventUs: 100, ReceivedByType: map[string]int64{"chat": 8, "like": 4, "gift": 4, "member": 2, "roomUser": 2}},
		{Mode: "rooms", Label: LabelRoomsSingle, Target: TargetSeed, Rooms: 1, RoomRate: 10, ClientsPerRoom: 2,
			Latency: LatencyMs{P50: 2, P99: 8}, CPUPerEventUs: 200, ReceivedByType: map[string]int64{"chat": 8, "like": 4, "gift": 4, "member": 2}},
		{Mode: "rooms", Label: LabelRoomsStep, Target: TargetOurs, Rooms: 100, RoomRate: 10},
		{Mode: "rooms", Label: LabelRoomsStep, Target: TargetOurs, Rooms: 250, RoomRate: 10, Latency: LatencyMs{P99: 30}},
		{Mode: "rooms", Label: LabelRoomsStep, Target: TargetOurs, Rooms: 500, RoomRate: 10, FellBehind: true, Why: "1 closed"},
	}
	s := FindSaturation(results, TargetOurs)
	if s.Kept == nil || s.Kept.Rooms != 250 || s.Behind == nil || s.Behind.Rooms != 500 {
		t.Fatalf("saturation %+v", s)
	}
	var b bytes.Buffer
	WriteRoomsTable(&b, results)
	out := b.String()
	for _, want := range []string{"kept up at 250 rooms × 10 msg/s = 2500 events/s", "fell behind at 500 rooms (1 closed)",
		"0.50×", "event types passed on (of 5)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

package webcast

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

func TestSocialAction(t *testing.T) {
	tests := []struct {
		key    string
		action int64
		want   string
	}{
		{"pm_main_follow_message_viewer_2", 1, "follow"},
		{"pm_mt_guidance_share", 3, "share"},
		{"pm_mt_guidance_viewer_10_share", 3, "share"},
		{"pm_main_follow_message_viewer_2", 3, "follow"}, // the key wins, as in the libraries
		{"pm_mt_something_else", 1, "other"},             // a key that names neither: no fallback
		{"", 1, "follow"},
		{"", 3, "share"},
		{"", 0, "other"},
		{"", 7, "other"},
	}
	for _, tt := range tests {
		if got := socialAction(tt.key, tt.action); got != tt.want {
			t.Errorf("socialAction(%q, %d) = %q, want %q", tt.key, tt.action, got, tt.want)
		}
	}
}

func TestMemberAction(t *testing.T) {
	for action, want := range map[int32]string{0: "other", 1: "join", 2: "other", 3: "subscribe", 26: "other"} {
		if got := memberAction(action); got != want {
			t.Errorf("memberAction(%d) = %q, want %q", action, got, want)
		}
	}
}

func TestToEvent_Control(t *testing.T) {
	tests := []struct {
		action   int32
		typ      string
		wantData event.Data
	}{
		{0, event.TypeControl, event.ControlData{Action: "other", ActionID: 0}},
		{1, event.TypeControl, event.ControlData{Action: "paused", ActionID: 1}},
		{2, event.TypeControl, event.ControlData{Action: "unpaused", ActionID: 2}},
		{3, event.TypeStreamEnd, event.StreamEndData{Action: "ended", ActionID: 3}},
		{4, event.TypeStreamEnd, event.StreamEndData{Action: "suspended", ActionID: 4}},
		{9, event.TypeControl, event.ControlData{Action: "other", ActionID: 9}},
	}
	for _, tt := range tests {
		m := Message{Method: MethodControl, Decoded: &pb.ControlMessage{Action: tt.action}, ReceivedAt: receivedAt}
		ev := ToEvent(&m, testRoom)
		if ev.Type != tt.typ || !reflect.DeepEqual(ev.Data, tt.wantData) {
			t.Errorf("action %d: got %s %#v, want %s %#v", tt.action, ev.Type, ev.Data, tt.typ, tt.wantData)
		}
	}
}

func TestToEvent_Envelope(t *testing.T) {
	common := &pb.MessageCommon{MsgId: 77, RoomId: 88, CreateTimeMs: webcasttest.BaseTime}
	tests := []struct {
		name       string
		m          Message
		room       event.Room
		wantID     string
		wantRoomID string
		wantTime   time.Time
	}{
		{
			name:   "wire id and create time",
			m:      Message{MsgID: 5, Decoded: &pb.LikeMessage{Common: common}, ReceivedAt: receivedAt},
			room:   testRoom,
			wantID: "5", wantRoomID: testRoom.RoomID, wantTime: time.UnixMilli(webcasttest.BaseTime).UTC(),
		},
		{
			name:   "common id and room when the message has none",
			m:      Message{Decoded: &pb.LikeMessage{Common: common}, ReceivedAt: receivedAt},
			room:   event.Room{Username: "x"},
			wantID: "77", wantRoomID: "88", wantTime: time.UnixMilli(webcasttest.BaseTime).UTC(),
		},
		{
			name:   "no common: receive time, truncated to ms",
			m:      Message{Decoded: &pb.LikeMessage{}, ReceivedAt: receivedAt.In(time.FixedZone("x", 3600))},
			room:   event.Room{},
			wantID: "", wantRoomID: "", wantTime: receivedAt.Truncate(time.Millisecond),
		},
		{
			name: "create time past year 9999 is ignored",
			m: Message{Decoded: &pb.LikeMessage{Common: &pb.MessageCommon{CreateTimeMs: 1 << 62}},
				ReceivedAt: receivedAt},
			wantTime: receivedAt.Truncate(time.Millisecond),
		},
		{
			name:     "negative create time is ignored",
			m:        Message{Decoded: &pb.LikeMessage{Common: &pb.MessageCommon{CreateTimeMs: -5}}, ReceivedAt: receivedAt},
			wantTime: receivedAt.Truncate(time.Millisecond),
		},
		{
			name: "unknown method: common read from the raw bytes",
			m: Message{Method: "WebcastRoomPinMessage", Payload: webcasttest.Find("unknown").Payload(),
				ReceivedAt: receivedAt},
			wantID: "7311500000000000023", wantRoomID: "7311111111111111111",
			wantTime: time.UnixMilli(webcasttest.BaseTime + 23000).UTC(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := ToEvent(&tt.m, tt.room)
			if ev.ID != tt.wantID || ev.RoomID != tt.wantRoomID || !ev.Time.Equal(tt.wantTime) || ev.Time.Location() != time.UTC {
				t.Errorf("got id %q room %q time %v, want %q %q %v", ev.ID, ev.RoomID, ev.Time, tt.wantID, tt.wantRoomID, tt.wantTime)
			}
			if ev.Seq != 0 || ev.Epoch != "" {
				t.Errorf("ToEvent set seq %d epoch %q", ev.Seq, ev.Epoch)
			}
		})
	}
}

func TestToEvent_Unknown(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want event.UnknownData
	}{
		{
			name: "no schema",
			m:    Message{Method: "WebcastRankUpdateMessage", Payload: []byte{1, 2, 3}},
			want: event.UnknownData{Method: "WebcastRankUpdateMessage", Payload: []byte{1, 2, 3}},
		},
		{
			name: "decode failed",
			m:    Message{Method: MethodGift, Payload: []byte{0x0a}, Err: errors.New("boom")},
			want: event.UnknownData{Method: MethodGift, Payload: []byte{0x0a}, Error: "boom"},
		},
		{
			name: "empty",
			m:    Message{},
			want: event.UnknownData{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := ToEvent(&tt.m, testRoom)
			if ev.Type != event.TypeUnknown || !reflect.DeepEqual(ev.Data, tt.want) {
				t.Errorf("got %s %#v, want unknown %#v", ev.Type, ev.Data, tt.want)
			}
		})
	}
}

func TestToEvent_Gift(t *testing.T) {
	tests := []struct {
		name string
		msg  *pb.GiftMessage
		want func(*event.GiftData) // checks beyond the goldens
	}{
		{
			name: "gift id from the gift struct when field 2 is absent",
			msg:  &pb.GiftMessage{Gift: &pb.GiftInfo{Id: 5655, Type: 1, DiamondCount: 1, Icon: &pb.Image{Urls: []string{"icon"}}}, RepeatCount: 2},
			want: func(d *event.GiftData) {
				if d.GiftID != 5655 || d.GiftImageURL != "icon" || d.StreakState != event.StreakProgress || d.TotalDiamonds != 2 {
					t.Errorf("got %+v", d)
				}
			},
		},
		{
			name: "no users: empty sender and user, null toUser",
			msg:  &pb.GiftMessage{Gift: &pb.GiftInfo{Type: 2, DiamondCount: 10}},
			want: func(d *event.GiftData) {
				if d.Sender != "" || !reflect.DeepEqual(d.User, event.User{}) || d.ToUser != nil || d.TotalDiamonds != 10 || d.StreakID != "" {
					t.Errorf("got %+v", d)
				}
			},
		},
		{
			name: "repeatEnd is true only for 1",
			msg:  &pb.GiftMessage{RepeatEnd: 2, Gift: &pb.GiftInfo{Type: 1}},
			want: func(d *event.GiftData) {
				if d.RepeatEnd || d.StreakState != event.StreakProgress {
					t.Errorf("got %+v", d)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Message{Method: MethodGift, Decoded: tt.msg}
			ev := ToEvent(&m, testRoom)
			d, ok := ev.Data.(event.GiftData)
			if !ok {
				t.Fatalf("data %T", ev.Data)
			}
			tt.want(&d)
		})
	}
}

func TestUserFrom(t *testing.T) {
	badge := func(scene int32, level string) *pb.Badge {
		return &pb.Badge{Scene: scene, LogExtra: &pb.BadgeLogExtra{Level: level}}
	}
	tests := []struct {
		name string
		u    *pb.User
		id   *pb.UserIdentity
		want event.User
	}{
		{name: "nil", want: event.User{}},
		{
			name: "plain",
			u:    &pb.User{Id: 42, UniqueId: "a", Nickname: "A", AvatarThumb: &pb.Image{Urls: []string{"u1", "u2"}}, FollowInfo: &pb.FollowInfo{FollowStatus: 3}},
			want: event.User{UserID: "42", UniqueID: "a", Nickname: "A", AvatarURL: "u1", FollowRole: 3},
		},
		{
			name: "identity says moderator and subscriber",
			u:    &pb.User{UniqueId: "a"},
			id:   &pb.UserIdentity{IsModeratorOfAnchor: true, IsSubscriberOfAnchor: true},
			want: event.User{UniqueID: "a", IsModerator: true, IsSubscriber: true},
		},
		{
			name: "wire is_subscriber",
			u:    &pb.User{IsSubscriber: true},
			want: event.User{IsSubscriber: true},
		},
		{
			name: "badges",
			u:    &pb.User{Badges: []*pb.Badge{badge(7, ""), badge(8, "31"), badge(10, "x"), badge(99, "2")}},
			want: event.User{IsSubscriber: true, GifterLevel: 31, Badges: []event.Badge{
				{Scene: 7, Type: "subscriber"},
				{Scene: 8, Type: "gifter", Level: 31},
				{Scene: 10, Type: "fan"}, // junk level
				{Scene: 99, Type: "other", Level: 2},
			}},
		},
		{
			name: "badge labels",
			u: &pb.User{Badges: []*pb.Badge{
				{Scene: 3, Text: &pb.BadgeText{Key: "friends_badge"}},
				{Scene: 5, Text: &pb.BadgeText{DefaultPattern: "Lv.{0:string} {1:string}!", Pieces: []string{"7"}}},
			}},
			want: event.User{Badges: []event.Badge{
				{Scene: 3, Type: "friends", Label: "friends_badge"},
				{Scene: 5, Type: "activity", Label: "Lv.7 !"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := userFrom(tt.u, tt.id); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestFillPattern(t *testing.T) {
	tests := []struct {
		pattern string
		pieces  []string
		want    string
	}{
		{"plain", nil, "plain"},
		{"{0:string}", []string{"Fans"}, "Fans"},
		{"{0}", []string{"Fans"}, "Fans"},
		{"{0:user} sent {1:gift} {2:string}", []string{"a", "Rose", "x3"}, "a sent Rose x3"},
		{"{1} and {0}", []string{"a", "b"}, "b and a"},
		{"{5:string}", []string{"a"}, ""},
		{"{name}", []string{"a"}, "{name}"},
		{"open { only", nil, "open { only"},
		{"{-1}", []string{"a"}, ""},
	}
	for _, tt := range tests {
		if got := fillPattern(tt.pattern, tt.pieces); got != tt.want {
			t.Errorf("fillPattern(%q, %q) = %q, want %q", tt.pattern, tt.pieces, got, tt.want)
		}
	}
}

func TestToEvent_Battle(t *testing.T) {
	m := messageOf(webcasttest.Find("battle"))
	// Map order is random in Go: the teams must come out sorted every time.
	for range 20 {
		ev := ToEvent(&m, testRoom)
		d := ev.Data.(event.BattleData)
		if len(d.Teams) != 2 || d.Teams[0].HostUserID != "6900000000000000001" || d.Teams[1].HostUserID != "6900000000000000777" {
			t.Fatalf("teams %+v", d.Teams)
		}
	}
	m = messageOf(webcasttest.Find("battle_armies"))
	for range 20 {
		d := ToEvent(&m, testRoom).Data.(event.BattleArmiesData)
		if len(d.Teams) != 2 || d.Teams[0].Points != 1005 || d.Teams[1].Points != 299 || len(d.Teams[0].Users) != 2 {
			t.Fatalf("teams %+v", d.Teams)
		}
	}
}

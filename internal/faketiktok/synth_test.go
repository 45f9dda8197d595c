package faketiktok

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// generate returns n synthetic messages in wire form, as a room would publish them.
func generate(seed int64, n int) []*pb.WireMessage {
	const roomID = 7400000000000000042
	r := newRoom(nil, "host", UserConfig{RoomID: roomID})
	g := newSynth(seed, roomID, "host")
	g.startBroadcast()
	out := make([]*pb.WireMessage, n)
	for i := range out {
		out[i] = r.wireLocked(g.next())
	}
	return out
}

// content is a message without its id and time, which depend on the clock.
func content(t *testing.T, w *pb.WireMessage) []byte {
	t.Helper()
	d, err := webcast.DecodePayload(w.GetMethod(), w.GetPayload())
	if err != nil {
		t.Fatalf("%s: %v", w.GetMethod(), err)
	}
	if c, ok := d.(commoner); ok {
		c.GetCommon().MsgId, c.GetCommon().CreateTimeMs = 0, 0
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(w.GetMethod()), b...)
}

func TestSynth_Deterministic(t *testing.T) {
	tests := []struct {
		name       string
		a, b       int64
		wantEquals bool
	}{
		{"same seed", 7, 7, true},
		{"zero is a fixed default", 0, 0, true},
		{"different seeds", 1, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := generate(tt.a, 300), generate(tt.b, 300)
			same := true
			for i := range a {
				if !bytes.Equal(content(t, a[i]), content(t, b[i])) {
					same = false
					break
				}
			}
			if same != tt.wantEquals {
				t.Errorf("streams equal = %v, want %v", same, tt.wantEquals)
			}
		})
	}
}

func TestSynth_Stream(t *testing.T) {
	msgs := generate(0, 3000)
	if msgs[0].GetMethod() != webcast.MethodLiveIntro {
		t.Errorf("first message %s, want the live intro", msgs[0].GetMethod())
	}
	// Every kind shows up within the intro and the first deck (33 messages with the battle that an armies
	// card may open), so short runs (the Node conformance) see them all.
	kinds := map[string]bool{}
	for _, w := range msgs[:34] {
		kinds[kind(t, w)] = true
	}
	for _, k := range []string{
		"WebcastChatMessage", "WebcastLikeMessage", "WebcastMemberMessage", "WebcastGiftMessage", "follow", "share",
		"WebcastRoomUserSeqMessage", "WebcastSubNotifyMessage", "WebcastQuestionNewMessage", "WebcastEmoteChatMessage",
		"WebcastEnvelopeMessage", "WebcastLinkMicBattle", "WebcastLinkMicArmies",
	} {
		if !kinds[k] {
			t.Errorf("no %s in the first deck", k)
		}
	}

	type streakState struct {
		count int32
		ended bool
	}
	var (
		streaks             = map[int64]*streakState{}
		singles, finals     int
		likeTotal           int64
		scenes              = map[int32]bool{}
		pauses, unpauses    int
		battleOpen, armies  int
		lastID              int64
		subscriberFlagFound bool
	)
	catalogue := map[int64]Gift{}
	for _, g := range Gifts {
		catalogue[g.ID] = g
	}
	for _, w := range msgs {
		if w.GetMsgId() <= lastID {
			t.Fatalf("ids not rising: %d after %d", w.GetMsgId(), lastID)
		}
		lastID = w.GetMsgId()
		d, err := webcast.DecodePayload(w.GetMethod(), w.GetPayload())
		if err != nil {
			t.Fatal(err)
		}
		if u := userOf(d); u != nil {
			if !strings.HasPrefix(u.GetAvatarThumb().GetUrls()[0], "https://p16-sign.tiktokcdn.example/") || u.GetUniqueId() == "" || u.GetNickname() == "" {
				t.Errorf("user %v lacks avatar, handle or nickname", u)
			}
			for _, b := range u.GetBadges() {
				scenes[b.GetScene()] = true
				if b.GetScene() == 8 && b.GetLogExtra().GetLevel() == "" {
					t.Errorf("gifter badge without a level")
				}
				if b.GetScene() == 4 && u.GetIsSubscriber() {
					subscriberFlagFound = true
				}
			}
		}
		switch m := d.(type) {
		case *pb.GiftMessage:
			g, ok := catalogue[m.GetGiftId()]
			if !ok || m.GetGift().GetId() != g.ID || m.GetGift().GetName() != g.Name || m.GetGift().GetType() != g.Type ||
				m.GetGift().GetDiamondCount() != g.Diamonds || len(m.GetGift().GetImage().GetUrls()) == 0 {
				t.Fatalf("gift %v does not match the catalogue", m.GetGift())
			}
			if g.Type != 1 {
				singles++
				if m.GetGroupId() != 0 || m.GetRepeatCount() != 1 || m.GetRepeatEnd() != 0 {
					t.Errorf("single gift: group %d count %d end %d", m.GetGroupId(), m.GetRepeatCount(), m.GetRepeatEnd())
				}
				continue
			}
			st, seen := streaks[m.GetGroupId()]
			switch {
			case !seen:
				if m.GetRepeatCount() != 1 || m.GetRepeatEnd() != 0 || m.GetGroupId() == 0 {
					t.Fatalf("streak starts with count %d end %d", m.GetRepeatCount(), m.GetRepeatEnd())
				}
				streaks[m.GetGroupId()] = &streakState{count: 1}
			case st.ended:
				t.Fatalf("streak %d goes on after its end", m.GetGroupId())
			case m.GetRepeatEnd() == 1:
				if m.GetRepeatCount() != st.count {
					t.Errorf("streak end count %d, want the last count %d", m.GetRepeatCount(), st.count)
				}
				st.ended = true
				finals++
			default:
				if m.GetRepeatCount() <= st.count {
					t.Errorf("streak count %d after %d: not cumulative", m.GetRepeatCount(), st.count)
				}
				st.count = m.GetRepeatCount()
			}
		case *pb.LikeMessage:
			likeTotal += int64(m.GetCount())
			if m.GetCount() < 1 || m.GetTotal() != likeTotal {
				t.Errorf("like count %d total %d, want total %d", m.GetCount(), m.GetTotal(), likeTotal)
			}
		case *pb.MemberMessage:
			if m.GetAction() != 1 || m.GetCommon().GetDisplayText().GetKey() != "live_room_enter_toast" {
				t.Errorf("member action %d key %q", m.GetAction(), m.GetCommon().GetDisplayText().GetKey())
			}
		case *pb.RoomUserSeqMessage:
			if m.GetViewerCount() < 1 || len(m.GetRanks()) > 3 || !slices.IsSortedFunc(m.GetRanks(), func(a, b *pb.RoomContributor) int {
				return cmp.Compare(b.GetCoinCount(), a.GetCoinCount())
			}) {
				t.Errorf("room user seq %v", m)
			}
		case *pb.ControlMessage:
			switch m.GetAction() {
			case webcast.ControlPaused:
				pauses++
			case webcast.ControlUnpaused:
				unpauses++
			default:
				t.Errorf("the synthetic stream sent control action %d", m.GetAction())
			}
		case *pb.LinkMicBattleMessage:
			if m.GetAction() == 4 {
				battleOpen++
			}
			for id, a := range m.GetAnchors() {
				if u := a.GetUser(); u.GetUserId() != id || u.GetNickname() == "" || u.GetDisplayId() == "" || len(u.GetAvatarThumb().GetUrls()) == 0 {
					t.Errorf("battle anchor %d = %v", id, a)
				}
			}
		case *pb.LinkMicArmiesMessage:
			armies++
			for id, a := range m.GetArmies() {
				var sum int64
				for _, u := range a.GetUsers() {
					sum += u.GetScore()
				}
				if a.GetAnchorIdStr() != strconv.FormatInt(id, 10) || a.GetHostScore() != sum || len(a.GetUsers()) == 0 {
					t.Errorf("army of %d = %v", id, a)
				}
			}
		}
	}
	abandoned := 0
	for _, st := range streaks {
		if !st.ended {
			abandoned++
		}
	}
	if finals < 20 || abandoned < 2 || singles < 10 {
		t.Errorf("%d finished streaks, %d without an end, %d single gifts; want a lively mix", finals, abandoned, singles)
	}
	for _, s := range []int32{1, 4, 8, 10} {
		if !scenes[s] {
			t.Errorf("no badge of scene %d", s)
		}
	}
	if !subscriberFlagFound {
		t.Errorf("no subscriber with user.is_subscriber")
	}
	if pauses == 0 || pauses != unpauses {
		t.Errorf("%d pauses, %d unpauses", pauses, unpauses)
	}
	if battleOpen == 0 || armies == 0 {
		t.Errorf("%d battles, %d armies messages", battleOpen, armies)
	}
}

// kind names a message as the clients tell it apart (social splits into follow and share).
func kind(t *testing.T, w *pb.WireMessage) string {
	if w.GetMethod() != webcast.MethodSocial {
		return w.GetMethod()
	}
	m := new(pb.SocialMessage)
	if err := proto.Unmarshal(w.GetPayload(), m); err != nil {
		t.Fatal(err)
	}
	key := m.GetCommon().GetDisplayText().GetKey()
	switch {
	case m.GetAction() == 1 && key == "pm_main_follow_message_viewer_2":
		return "follow"
	case m.GetAction() == 3 && strings.Contains(key, "share"):
		return "share"
	}
	t.Errorf("social action %d key %q", m.GetAction(), key)
	return ""
}

func userOf(m proto.Message) *pb.User {
	if u, ok := m.(interface{ GetUser() *pb.User }); ok {
		return u.GetUser()
	}
	return nil
}

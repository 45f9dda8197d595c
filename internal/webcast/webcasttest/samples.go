// Package webcasttest holds realistic TikTok messages for tests, benchmarks, fuzz seeds and golden files:
// one or more for every method we decode, plus an unknown method and a corrupt payload.
//
// It depends only on the generated pb package, so that the webcast package's own tests can use it
// without an import cycle. Values are invented but shaped like real traffic (19-digit ids, TikTok CDN
// URL layouts, display-text keys seen in recordings).
package webcasttest

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// Ids and times shared by the samples.
const (
	RoomID   int64 = 7311111111111111111
	HostID   int64 = 6900000000000000001
	BaseTime int64 = 1795795245833 // 2026-11-27T16:00:45.833Z, in ms
)

// Sample is one message as it arrives on the wire.
type Sample struct {
	Name   string // golden-file name: lower case, underscores
	Method string
	MsgID  int64         // the wire message id (equal to common.msg_id, as in recordings)
	Msg    proto.Message // nil when Raw is set
	Raw    []byte        // payload bytes for methods without a schema, or deliberately corrupt ones
}

// Payload returns the bytes TikTok would send for the sample.
func (s Sample) Payload() []byte {
	if s.Msg == nil {
		return s.Raw
	}
	b, err := proto.Marshal(s.Msg)
	if err != nil {
		panic("webcasttest: " + s.Name + ": " + err.Error())
	}
	return b
}

// Find returns the sample with the given name; it panics if there is none (a typo in a test).
func Find(name string) Sample {
	for _, s := range Samples() {
		if s.Name == name {
			return s
		}
	}
	panic("webcasttest: no sample " + name)
}

func common(method string, n int64, display string) *pb.MessageCommon {
	c := &pb.MessageCommon{
		Method:       method,
		MsgId:        7311500000000000000 + n,
		RoomId:       RoomID,
		CreateTimeMs: BaseTime + n*1000,
	}
	if display != "" {
		c.DisplayText = &pb.Text{Key: display, DefaultPattern: "{0:user} " + display}
	}
	return c
}

func img(url string) *pb.Image { return &pb.Image{Urls: []string{url, url + "?alt=1"}} }

func avatar(handle string) *pb.Image {
	return img("https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/" + handle + "~tplv-tiktokx-cropcenter:100:100.webp")
}

func badgeImage(url string) *pb.BadgeImage {
	return &pb.BadgeImage{DisplayType: 1, Image: &pb.Image{Urls: []string{url}}}
}

// Host is the room owner.
func Host() *pb.User {
	return &pb.User{
		Id: HostID, UniqueId: "streamer", Nickname: "Streamer Live", AvatarThumb: avatar("streamer"),
		FollowInfo: &pb.FollowInfo{FollowingCount: 120, FollowerCount: 48210},
	}
}

// Alice is a follower with a gifter-level badge.
func Alice() *pb.User {
	return &pb.User{
		Id: 6812345678901234567, UniqueId: "alice.wonder", Nickname: "Alice 🌸", AvatarThumb: avatar("alice"),
		FollowInfo: &pb.FollowInfo{FollowingCount: 310, FollowerCount: 1022, FollowStatus: 1},
		Badges: []*pb.Badge{{
			DisplayType: 1, Scene: 8,
			LogExtra: &pb.BadgeLogExtra{DataVersion: "2", PrivilegeId: "7138381747292542756", Level: "12"},
			Image:    badgeImage("https://p19-webcast.tiktokcdn.com/webcast-va/grade_badge_icon_lite_lv10_v2.png~tplv-obj.image"),
		}},
	}
}

// Bob is a moderator who is friends with the host.
func Bob() *pb.User {
	return &pb.User{
		Id: 7098765432109876543, UniqueId: "bob_builds", Nickname: "Bob", AvatarThumb: avatar("bob"),
		FollowInfo: &pb.FollowInfo{FollowStatus: 2},
		Badges: []*pb.Badge{{
			DisplayType: 1, Scene: 1,
			Image: badgeImage("https://p16-webcast.tiktokcdn.com/webcast-va/moderater_badge_icon.png~tplv-obj.image"),
		}},
	}
}

// Carol wears one badge of every kind we classify.
func Carol() *pb.User {
	return &pb.User{
		Id: 7200000000000000042, UniqueId: "carol.sings", Nickname: "Carol", AvatarThumb: avatar("carol"),
		FollowInfo:   &pb.FollowInfo{FollowStatus: 1},
		IsSubscriber: true,
		Badges: []*pb.Badge{
			{DisplayType: 1, Scene: 1, Image: badgeImage("https://p16-webcast.tiktokcdn.com/webcast-va/moderater_badge_icon.png~tplv-obj.image")},
			{DisplayType: 1, Scene: 4, LogExtra: &pb.BadgeLogExtra{Level: "3"},
				Image: badgeImage("https://p16-webcast.tiktokcdn.com/webcast-va/sub_badge_3m.png~tplv-obj.image")},
			{DisplayType: 3, Scene: 7, Str: &pb.BadgeString{DisplayType: 3, Str: "New subscriber"}},
			{DisplayType: 1, Scene: 8, LogExtra: &pb.BadgeLogExtra{DataVersion: "2", Level: "23"},
				Image: badgeImage("https://p19-webcast.tiktokcdn.com/webcast-va/grade_badge_icon_lite_lv20_v2.png~tplv-obj.image")},
			{DisplayType: 2, Scene: 10, LogExtra: &pb.BadgeLogExtra{Level: "5"},
				Text: &pb.BadgeText{DisplayType: 2, Key: "fans_club_name", DefaultPattern: "{0:string}", Pieces: []string{"Streamers"}}},
			{DisplayType: 1, Scene: 6, Image: badgeImage("https://p16-webcast.tiktokcdn.com/webcast-va/rank_top3.png~tplv-obj.image")},
		},
	}
}

// Rival is the other host in a battle.
func Rival() *pb.User {
	return &pb.User{Id: 6900000000000000777, UniqueId: "rival_host", Nickname: "Rival", AvatarThumb: avatar("rival")}
}

func rose() *pb.GiftInfo {
	return &pb.GiftInfo{
		Image:    img("https://p19-webcast.tiktokcdn.com/img/maliva/webcast-va/eba3a9bb85c33e017f3648eaf88d7189~tplv-obj.webp"),
		Describe: "sent Rose", Id: 5655, Combo: true, Type: 1, DiamondCount: 1, Name: "Rose",
	}
}

func roseMessage(n int64, repeat int32, end int32) *pb.GiftMessage {
	return &pb.GiftMessage{
		Common: common("WebcastGiftMessage", n, "webcast_gift_message"), GiftId: 5655,
		RepeatCount: repeat, RepeatEnd: end, GroupId: 1795795244001, User: Alice(), ToUser: Host(), Gift: rose(),
		MonitorInfo: &pb.GiftMonitorInfo{AnchorId: HostID, ToUserId: HostID},
	}
}

// Samples returns fresh copies of every sample (callers may modify them).
func Samples() []Sample {
	var out []Sample
	add := func(name, method string, n int64, m proto.Message) {
		out = append(out, Sample{Name: name, Method: method, MsgID: 7311500000000000000 + n, Msg: m})
	}

	add("chat", "WebcastChatMessage", 1, &pb.ChatMessage{
		Common: common("WebcastChatMessage", 1, "pm_mt_msg_viewer"), User: Alice(),
		Comment: "hello from Lisbon [wave] [love]", ContentLanguage: "en",
		Emotes: []*pb.ChatEmote{
			{Index: 17, Emote: &pb.Emote{EmoteId: "7101234567890123456", Image: img("https://p16-webcast.tiktokcdn.com/webcast-sg/sub_emote_wave.png~tplv-obj.image")}},
			{Index: 24, Emote: &pb.Emote{EmoteId: "7101234567890123999", Image: img("https://p16-webcast.tiktokcdn.com/webcast-sg/sub_emote_love.png~tplv-obj.image")}},
		},
		UserIdentity: &pb.UserIdentity{IsFollowerOfAnchor: true, IsGiftGiverOfAnchor: true},
	})
	add("chat_all_badges", "WebcastChatMessage", 2, &pb.ChatMessage{
		Common: common("WebcastChatMessage", 2, "pm_mt_msg_viewer"), User: Carol(), Comment: "first!",
		UserIdentity: &pb.UserIdentity{IsSubscriberOfAnchor: true, IsModeratorOfAnchor: true},
	})
	add("gift_streak_progress", "WebcastGiftMessage", 3, roseMessage(3, 3, 0))
	add("gift_streak_final", "WebcastGiftMessage", 4, roseMessage(4, 5, 1))
	add("gift_single", "WebcastGiftMessage", 5, &pb.GiftMessage{
		Common: common("WebcastGiftMessage", 5, "webcast_gift_message"), GiftId: 11046, RepeatCount: 1,
		User: Bob(), ToUser: Host(),
		Gift: &pb.GiftInfo{
			Image:    img("https://p19-webcast.tiktokcdn.com/img/maliva/webcast-va/resource/79a02148079526539f7599150da9fd28.png~tplv-obj.webp"),
			Describe: "sent Galaxy", Id: 11046, Type: 2, DiamondCount: 1000, Name: "Galaxy",
		},
	})
	add("like", "WebcastLikeMessage", 6, &pb.LikeMessage{
		Common: common("WebcastLikeMessage", 6, "pm_mt_msg_viewer_like"), Count: 15, Total: 48213, User: Alice(),
	})
	add("like_no_user", "WebcastLikeMessage", 7, &pb.LikeMessage{
		Common: common("WebcastLikeMessage", 7, ""), Count: 3, Total: 48216,
	})
	add("member", "WebcastMemberMessage", 8, &pb.MemberMessage{
		Common: common("WebcastMemberMessage", 8, "live_room_enter_toast"), User: Bob(), MemberCount: 1284, Action: 1,
		UserId: 7098765432109876543,
	})
	add("social_follow", "WebcastSocialMessage", 9, &pb.SocialMessage{
		Common: common("WebcastSocialMessage", 9, "pm_main_follow_message_viewer_2"), User: Alice(), Action: 1, FollowCount: 48211,
	})
	add("social_share", "WebcastSocialMessage", 10, &pb.SocialMessage{
		Common: common("WebcastSocialMessage", 10, "pm_mt_guidance_viewer_5_share"), User: Bob(), Action: 3, ShareType: 1, ShareCount: 5,
	})
	add("social_wire_action", "WebcastSocialMessage", 11, &pb.SocialMessage{
		Common: common("WebcastSocialMessage", 11, ""), User: Carol(), Action: 1,
	})
	add("room_user", "WebcastRoomUserSeqMessage", 12, &pb.RoomUserSeqMessage{
		Common: common("WebcastRoomUserSeqMessage", 12, ""), ViewerCount: 1312, TotalUser: 20877, PopStr: "1.3K",
		Ranks: []*pb.RoomContributor{
			{CoinCount: 1000, User: Bob(), Rank: 1},
			{CoinCount: 35, User: Alice(), Rank: 2},
		},
	})
	add("subscribe", "WebcastSubNotifyMessage", 13, &pb.SubNotifyMessage{
		Common: common("WebcastSubNotifyMessage", 13, "pm_mt_sub_notify"), User: Carol(), SubMonth: 3, SubscribeType: 1,
	})
	add("question", "WebcastQuestionNewMessage", 14, &pb.QuestionNewMessage{
		Common: common("WebcastQuestionNewMessage", 14, ""),
		Question: &pb.Question{
			QuestionId: 7311600000000000001, Text: "What song is this?", CreateTime: (BaseTime + 13500) / 1000, User: Alice(),
		},
	})
	add("emote", "WebcastEmoteChatMessage", 15, &pb.EmoteChatMessage{
		Common: common("WebcastEmoteChatMessage", 15, ""), User: Carol(),
		Emotes: []*pb.Emote{{EmoteId: "7101234567890123456", Image: img("https://p16-webcast.tiktokcdn.com/webcast-sg/sub_emote_wave.png~tplv-obj.image")}},
	})
	add("envelope", "WebcastEnvelopeMessage", 16, &pb.EnvelopeMessage{
		Common: common("WebcastEnvelopeMessage", 16, ""),
		Info: &pb.EnvelopeInfo{
			EnvelopeId: "7311700000000000001", BusinessType: 1, SendUserName: "Bob", DiamondCount: 500, PeopleCount: 50,
			UnpackAt: 1795795441, SendUserId: "7098765432109876543", SendUserAvatar: avatar("bob"), RoomId: "7311111111111111111",
		},
	})
	add("live_intro", "WebcastLiveIntroMessage", 17, &pb.LiveIntroMessage{
		Common: common("WebcastLiveIntroMessage", 17, ""), RoomId: RoomID, Description: "Late-night acoustic covers. Requests welcome!",
		Host: Host(), Language: "en",
	})
	add("battle", "WebcastLinkMicBattle", 18, &pb.LinkMicBattleMessage{
		Common: common("WebcastLinkMicBattle", 18, ""), BattleId: 7311800000000000001, Action: 4,
		Anchors: map[int64]*pb.BattleUserInfo{
			Rival().GetId(): {User: BattleUser(Rival())},
			HostID:          {User: BattleUser(Host())},
		},
	})
	add("battle_armies", "WebcastLinkMicArmies", 19, &pb.LinkMicArmiesMessage{
		Common: common("WebcastLinkMicArmies", 19, ""), BattleId: 7311800000000000001, BattleStatus: 1,
		Armies: map[int64]*pb.BattleTeamArmy{
			Rival().GetId(): {HostScore: 299, Users: []*pb.BattleArmyUser{ArmyUser(Carol(), 299)}},
			HostID: {HostScore: 1005, AnchorIdStr: "6900000000000000001", Users: []*pb.BattleArmyUser{
				ArmyUser(Alice(), 5), ArmyUser(Bob(), 1000),
			}},
		},
		FromUserId: 7098765432109876543, GiftId: 11046, GiftCount: 1, TotalDiamondCount: 1000,
	})
	add("control_pause", "WebcastControlMessage", 20, &pb.ControlMessage{
		Common: common("WebcastControlMessage", 20, ""), Action: 1, Tips: "The host paused the LIVE",
	})
	add("stream_end", "WebcastControlMessage", 21, &pb.ControlMessage{
		Common: common("WebcastControlMessage", 21, ""), Action: 3, Tips: "The LIVE has ended",
	})
	add("stream_end_suspended", "WebcastControlMessage", 22, &pb.ControlMessage{
		Common: common("WebcastControlMessage", 22, ""), Action: 4, Tips: "This LIVE has been suspended",
	})

	// A method we have no schema for: a common block and one string field, as TikTok would send it.
	pin, _ := proto.Marshal(common("WebcastRoomPinMessage", 23, ""))
	raw := protowire.AppendTag(nil, 1, protowire.BytesType)
	raw = protowire.AppendBytes(raw, pin)
	raw = protowire.AppendTag(raw, 30, protowire.BytesType)
	raw = protowire.AppendString(raw, "pinned comment")
	out = append(out, Sample{Name: "unknown", Method: "WebcastRoomPinMessage", MsgID: 7311500000000000023, Raw: raw})

	// A known method whose bytes stop inside a field: the first 40 bytes of a gift, cut inside its
	// common block (which claims about 100).
	corrupt, _ := proto.Marshal(roseMessage(24, 1, 0))
	corrupt = corrupt[:40]
	out = append(out, Sample{Name: "corrupt", Method: "WebcastGiftMessage", MsgID: 7311500000000000024, Raw: corrupt})
	return out
}

// BattleUser is u as the battle message's host struct.
func BattleUser(u *pb.User) *pb.BattleUser {
	return &pb.BattleUser{UserId: u.GetId(), Nickname: u.GetNickname(), AvatarThumb: u.GetAvatarThumb(), DisplayId: u.GetUniqueId()}
}

// ArmyUser is u as a battle army's viewer struct with a score.
func ArmyUser(u *pb.User, score int64) *pb.BattleArmyUser {
	return &pb.BattleArmyUser{UserId: u.GetId(), Score: score, Nickname: u.GetNickname(), AvatarThumb: u.GetAvatarThumb()}
}

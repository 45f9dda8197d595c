package faketiktok

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// Gift is one entry of the fake's gift catalogue (the gift/list route and the synthetic stream).
type Gift struct {
	ID       int64
	Name     string
	Diamonds int32
	Type     int32 // 1 = streakable
}

// Gifts is the catalogue; ids, prices and types are TikTok's.
var Gifts = []Gift{
	{5655, "Rose", 1, 1},
	{5269, "TikTok", 1, 1},
	{5487, "Finger Heart", 5, 1},
	{5879, "Doughnut", 30, 1},
	{11046, "Galaxy", 1000, 1},
	{6369, "Lion", 29999, 2},
	{7312, "Universe", 34999, 2},
}

// ImageURL is the (fake) icon URL of a gift.
func (g Gift) ImageURL() string {
	return fmt.Sprintf("https://p16-sign.tiktokcdn.example/webcast-va/%d~tplv-obj.png", g.ID)
}

func (g Gift) info() *pb.GiftInfo {
	img := &pb.Image{Urls: []string{g.ImageURL()}, Uri: fmt.Sprintf("webcast-va/%d", g.ID), Width: 135, Height: 135}
	return &pb.GiftInfo{
		Image:        img,
		Icon:         img,
		Describe:     "sent " + g.Name,
		Duration:     1000,
		Id:           g.ID,
		Combo:        g.Type == 1,
		Type:         g.Type,
		DiamondCount: g.Diamonds,
		Name:         g.Name,
	}
}

// card is one kind of synthetic message; a deck holds every kind, so each deck's worth of messages
// shows every event type at least once.
type card int

const (
	cardChat card = iota
	cardLike
	cardMember
	cardGift // a step of a gift streak (start, continue or end)
	cardSingleGift
	cardFollow
	cardShare
	cardRoomUser
	cardSubscribe
	cardQuestion
	cardEmote
	cardEnvelope
	cardBattle
	cardArmies
	cardPause
	cardUnpause
)

// deckCounts is how many of each card one deck holds (32 in all; pause is added from the 2nd deck).
var deckCounts = map[card]int{
	cardChat: 8, cardLike: 4, cardMember: 3, cardGift: 6, cardSingleGift: 1, cardFollow: 1, cardShare: 1,
	cardRoomUser: 2, cardSubscribe: 1, cardQuestion: 1, cardEmote: 1, cardEnvelope: 1, cardBattle: 1, cardArmies: 1,
}

type streak struct {
	gift      Gift
	user      int
	group     int64
	count     int32
	target    int32
	abandoned bool // its repeat_end=1 message never comes (a known TikTok failure)
}

// synth generates a lively, reproducible stream: the same seed and room give the same messages.
type synth struct {
	rnd      *rand.Rand
	roomID   int64
	host     *pb.User
	rival    *pb.User
	users    []*pb.User
	traits   []traits
	deck     []card
	decks    int
	intro    bool
	streaks  []*streak
	coins    []int64 // diamonds sent per pool user, for the top-viewer ranks
	group    int64
	likes    int64
	members  int64
	follows  int64
	viewers  int64
	total    int64
	question int64
	envelope int64
	battle   int64
	inBattle bool
}

type traits struct {
	moderator, subscriber bool
	gifterLevel, fanLevel int
	followStatus          int64
}

var (
	nicknames = []string{
		"Mia ✨", "Kofi", "Lena Rose", "DJ Arjun", "Sakura 🌸", "Mateo", "Olu", "Priya", "Jonas", "Yuki",
		"Amara", "Leo 🦁", "Chloé", "Tomasz", "Nadia", "Diego", "Hana", "Sven", "Zara", "Kwame",
		"Ines", "Ravi", "Mei 🐼", "Lukas", "Fatima", "Noah", "Aiko", "Bruno", "Selin", "Omar",
	}
	comments = []string{
		"hello from Berlin 👋", "first time here!", "love this song", "🔥🔥🔥", "how long have you been live?",
		"can you say hi to me?", "this is so cool", "haha 😂", "what game is this?", "greetings from Lagos 🇳🇬",
		"こんにちは！", "¡Hola a todos!", "you're the best ❤️", "lol", "play it again pls",
		"where are you from?", "gg", "💯", "my favourite streamer", "just followed!",
		"good morning ☀️", "good night everyone 🌙", "wow", "can't stop watching", "let's gooo",
		"what's your setup?", "that was epic", "hi chat", "😍😍", "back again!",
	}
	questions = []string{
		"What's your favourite food?", "When is the next stream?", "How did you start streaming?",
		"What camera do you use?", "Can you play a request?", "Where do you live?",
	}
	shareKeys = []string{"pm_mt_guidance_share", "pm_mt_guidance_viewer_5_share", "pm_mt_guidance_viewer_10_share"}
)

func avatar(seed uint64) *pb.Image {
	return &pb.Image{Urls: []string{
		fmt.Sprintf("https://p16-sign.tiktokcdn.example/tos-maliva-avt-0068/%016x~tplv-tiktokx-cropcenter:100:100.webp", seed),
		fmt.Sprintf("https://p16-sign.tiktokcdn.example/tos-maliva-avt-0068/%016x~tplv-tiktokx-cropcenter:100:100.jpeg", seed),
	}}
}

func handleOf(nick string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(nick) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('.')
		}
	}
	return strings.Trim(b.String(), ".")
}

func newSynth(seed, roomID int64, host string) *synth {
	if seed == 0 {
		seed = 1
	}
	g := &synth{
		rnd:     rand.New(rand.NewPCG(uint64(seed), uint64(roomID))),
		roomID:  roomID,
		group:   1_700_000_000_000 + roomID%1_000_000*1000,
		viewers: 120,
	}
	g.host = &pb.User{
		Id: 7_000_000_000_000_000_000 + roomID%1_000_000_000_000, Nickname: host, UniqueId: host,
		AvatarThumb: avatar(uint64(roomID)), Verified: true, FollowInfo: &pb.FollowInfo{FollowerCount: 48_213, FollowingCount: 311},
		SecUid: "MS4wLjABAAAA" + strconv.FormatInt(roomID, 36),
	}
	g.rival = &pb.User{Id: 7_100_000_000_000_000_001, Nickname: "Rival ⚔️", UniqueId: "rival.streamer", AvatarThumb: avatar(1)}
	for i, nick := range nicknames {
		t := traits{
			moderator:    i%9 == 0,
			subscriber:   i%4 == 1,
			followStatus: int64(g.rnd.IntN(3)),
		}
		if g.rnd.IntN(2) == 0 {
			t.gifterLevel = 1 + g.rnd.IntN(40)
		}
		if i%5 == 2 {
			t.fanLevel = 1 + g.rnd.IntN(20)
		}
		id := 6_900_000_000_000_000_000 + int64(i)*1_000_003_331 + g.rnd.Int64N(1_000_000)
		u := &pb.User{
			Id:          id,
			Nickname:    nick,
			UniqueId:    fmt.Sprintf("%s%d", handleOf(nick), 10+i*7),
			AvatarThumb: avatar(uint64(id)),
			FollowInfo: &pb.FollowInfo{
				FollowingCount: g.rnd.Int64N(900), FollowerCount: g.rnd.Int64N(20_000), FollowStatus: t.followStatus,
			},
			SecUid:       "MS4wLjABAAAA" + strconv.FormatInt(id, 36),
			CreateTime:   1_500_000_000 + g.rnd.Int64N(200_000_000),
			IsSubscriber: t.subscriber,
			Badges:       badges(t),
		}
		g.users = append(g.users, u)
		g.traits = append(g.traits, t)
	}
	g.coins = make([]int64, len(g.users))
	return g
}

func badges(t traits) []*pb.Badge {
	img := func(name string) *pb.BadgeImage {
		return &pb.BadgeImage{DisplayType: 1, Image: &pb.Image{Urls: []string{"https://p16-sign.tiktokcdn.example/webcast-badge/" + name + ".png"}}}
	}
	var out []*pb.Badge
	if t.moderator {
		out = append(out, &pb.Badge{DisplayType: 1, Scene: 1, Image: img("moderator")})
	}
	if t.subscriber {
		out = append(out, &pb.Badge{DisplayType: 1, Scene: 4, Image: img("subscriber")})
	}
	if t.gifterLevel > 0 {
		lvl := strconv.Itoa(t.gifterLevel)
		out = append(out, &pb.Badge{DisplayType: 1, Scene: 8, LogExtra: &pb.BadgeLogExtra{Level: lvl}, Image: img("grade_" + lvl)})
	}
	if t.fanLevel > 0 {
		lvl := strconv.Itoa(t.fanLevel)
		out = append(out, &pb.Badge{
			DisplayType: 2, Scene: 10, LogExtra: &pb.BadgeLogExtra{Level: lvl},
			Text: &pb.BadgeText{DisplayType: 2, Key: "live_fans_club_name", DefaultPattern: "Fam"},
		})
	}
	return out
}

func text(key, pattern string) *pb.Text { return &pb.Text{Key: key, DefaultPattern: pattern} }

func (g *synth) identity(i int) *pb.UserIdentity {
	t := g.traits[i]
	return &pb.UserIdentity{
		IsGiftGiverOfAnchor:         g.coins[i] > 0,
		IsSubscriberOfAnchor:        t.subscriber,
		IsMutualFollowingWithAnchor: t.followStatus == 2,
		IsFollowerOfAnchor:          t.followStatus >= 1,
		IsModeratorOfAnchor:         t.moderator,
	}
}

// startBroadcast makes the next message a live intro, as a room's stream starts with one.
func (g *synth) startBroadcast() { g.intro = true }

func (g *synth) newDeck() {
	g.deck = g.deck[:0]
	for c := cardChat; c <= cardArmies; c++ {
		for range deckCounts[c] {
			g.deck = append(g.deck, c)
		}
	}
	if g.decks > 0 && g.decks%2 == 1 {
		g.deck = append(g.deck, cardPause)
	}
	g.decks++
	g.rnd.Shuffle(len(g.deck), func(i, j int) { g.deck[i], g.deck[j] = g.deck[j], g.deck[i] })
}

// next returns the next synthetic message (ids and times are filled in when it is published).
func (g *synth) next() message {
	if g.intro {
		g.intro = false
		return message{method: webcast.MethodLiveIntro, msg: &pb.LiveIntroMessage{
			Common: &pb.MessageCommon{}, RoomId: g.roomID, AuditStatus: 2, Host: g.host, Language: "en",
			Description: "Welcome to my LIVE! Say hi in the chat 👋 Gifts and follows are appreciated.",
		}}
	}
	if len(g.deck) == 0 {
		g.newDeck()
	}
	c := g.deck[0]
	g.deck = g.deck[1:]
	ui := g.rnd.IntN(len(g.users))
	u := g.users[ui]
	switch c {
	case cardChat:
		return message{method: webcast.MethodChat, msg: &pb.ChatMessage{
			Common: &pb.MessageCommon{}, User: u, Comment: comments[g.rnd.IntN(len(comments))],
			ContentLanguage: "en", UserIdentity: g.identity(ui),
		}}
	case cardLike:
		n := int32(1 + g.rnd.IntN(15))
		g.likes += int64(n)
		return message{method: webcast.MethodLike, msg: &pb.LikeMessage{
			Common: &pb.MessageCommon{DisplayText: text("pm_mt_msg_viewer", "{0:user} liked the LIVE")},
			Count:  n, Total: g.likes, User: u,
		}}
	case cardMember:
		g.members++
		g.viewers++
		return message{method: webcast.MethodMember, msg: &pb.MemberMessage{
			Common: &pb.MessageCommon{DisplayText: text("live_room_enter_toast", "{0:user} joined")},
			User:   u, MemberCount: int32(g.viewers), Action: 1, UserId: u.Id,
		}}
	case cardGift:
		return g.giftStep()
	case cardSingleGift:
		gift := Gifts[5+g.rnd.IntN(2)]
		g.coins[ui] += int64(gift.Diamonds)
		return g.giftMessage(gift, ui, 0, 1, 0)
	case cardFollow:
		g.follows++
		return message{method: webcast.MethodSocial, msg: &pb.SocialMessage{
			Common: &pb.MessageCommon{DisplayText: text("pm_main_follow_message_viewer_2", "{0:user} followed the LIVE creator")},
			User:   u, Action: 1, FollowCount: g.host.GetFollowInfo().GetFollowerCount() + g.follows,
		}}
	case cardShare:
		return message{method: webcast.MethodSocial, msg: &pb.SocialMessage{
			Common: &pb.MessageCommon{DisplayText: text(shareKeys[g.rnd.IntN(len(shareKeys))], "{0:user} shared the LIVE")},
			User:   u, Action: 3, ShareType: 1, ShareTarget: strconv.FormatInt(g.users[g.rnd.IntN(len(g.users))].Id, 10), ShareCount: 1,
		}}
	case cardRoomUser:
		return g.roomUser()
	case cardSubscribe:
		return message{method: webcast.MethodSubNotify, msg: &pb.SubNotifyMessage{
			Common: &pb.MessageCommon{}, User: u, SubMonth: int64(1 + g.rnd.IntN(24)), SubscribeType: 1, IsSend: false,
		}}
	case cardQuestion:
		g.question++
		return message{method: webcast.MethodQuestionNew, msg: &pb.QuestionNewMessage{
			Common: &pb.MessageCommon{},
			Question: &pb.Question{
				QuestionId: 7_200_000_000_000_000_000 + g.roomID%1_000_000*1000 + g.question,
				Text:       questions[g.rnd.IntN(len(questions))], User: u,
			},
		}}
	case cardEmote:
		id := 7_050_000_000_000_000_000 + g.rnd.Int64N(1_000_000)
		return message{method: webcast.MethodEmoteChat, msg: &pb.EmoteChatMessage{
			Common: &pb.MessageCommon{}, User: u, UserIdentity: g.identity(ui),
			Emotes: []*pb.Emote{{EmoteId: strconv.FormatInt(id, 10), Image: &pb.Image{Urls: []string{
				fmt.Sprintf("https://p16-sign.tiktokcdn.example/webcast-emote/%d~tplv-obj.png", id)}}}},
		}}
	case cardEnvelope:
		g.envelope++
		return message{method: webcast.MethodEnvelope, msg: &pb.EnvelopeMessage{
			Common: &pb.MessageCommon{}, Display: 1,
			Info: &pb.EnvelopeInfo{
				EnvelopeId: strconv.FormatInt(7_300_000_000_000_000_000+g.roomID%1_000_000*1000+g.envelope, 10), BusinessType: 1,
				SendUserName: u.Nickname, SendUserId: strconv.FormatInt(u.Id, 10), SendUserAvatar: u.AvatarThumb,
				DiamondCount: int32(100 * (1 + g.rnd.IntN(10))), PeopleCount: int32(5 + g.rnd.IntN(45)),
				RoomId: strconv.FormatInt(g.roomID, 10),
			},
		}}
	case cardBattle:
		return g.battleMessage()
	case cardArmies:
		if !g.inBattle {
			g.deck = slices.Insert(g.deck, min(2, len(g.deck)), cardArmies)
			return g.battleMessage()
		}
		return g.armies()
	case cardPause:
		g.deck = slices.Insert(g.deck, min(3, len(g.deck)), cardUnpause)
		return controlMessage(webcast.ControlPaused, "The host paused the LIVE")
	case cardUnpause:
		return controlMessage(webcast.ControlUnpaused, "")
	}
	panic(fmt.Sprintf("faketiktok: unknown card %d", c))
}

// giftStep advances a running streak, ends one, or starts one.
func (g *synth) giftStep() message {
	if len(g.streaks) > 0 && (len(g.streaks) >= 3 || g.rnd.IntN(4) != 0) {
		i := g.rnd.IntN(len(g.streaks))
		st := g.streaks[i]
		if st.count >= st.target {
			g.streaks = slices.Delete(g.streaks, i, i+1)
			if !st.abandoned {
				return g.giftMessage(st.gift, st.user, st.group, st.count, 1)
			}
			// The end of an abandoned streak never comes: start another instead.
		} else {
			step := int32(1)
			if g.rnd.IntN(5) == 0 {
				step = int32(2 + g.rnd.IntN(2))
			}
			st.count = min(st.count+step, st.target)
			g.coins[st.user] += int64(step) * int64(st.gift.Diamonds)
			return g.giftMessage(st.gift, st.user, st.group, st.count, 0)
		}
	}
	weights := []int{10, 4, 4, 2, 1} // Rose is the most common gift
	pick, sum := 0, g.rnd.IntN(21)
	for i, w := range weights {
		if sum < w {
			pick = i
			break
		}
		sum -= w
	}
	g.group++
	st := &streak{
		gift: Gifts[pick], user: g.rnd.IntN(len(g.users)), group: g.group, count: 1,
		target: int32(1 + g.rnd.IntN(4)*g.rnd.IntN(4)), abandoned: g.rnd.IntN(8) == 0,
	}
	g.coins[st.user] += int64(st.gift.Diamonds)
	g.streaks = append(g.streaks, st)
	return g.giftMessage(st.gift, st.user, st.group, 1, 0)
}

func (g *synth) giftMessage(gift Gift, ui int, group int64, count, end int32) message {
	u := g.users[ui]
	extra := fmt.Sprintf(`{"anchor_id":%d,"from_idc":"maliva","from_user_id":%d,"gift_id":%d,"gift_type":%d,"repeat_count":%d,"repeat_end":%d,"room_id":%d,"send_gift_profit_core_start_ms":0,"to_user_id":%d}`,
		g.host.Id, u.Id, gift.ID, gift.Type, count, end, g.roomID, g.host.Id)
	return message{method: webcast.MethodGift, msg: &pb.GiftMessage{
		Common: &pb.MessageCommon{
			DisplayText: text("pm_mt_msg_viewer", "{0:user} sent {1:gift} {2:string}"),
			Describe:    u.Nickname + ": sent " + gift.Name,
		},
		GiftId: gift.ID, FanTicketCount: int64(gift.Diamonds) * int64(count), GroupCount: 1,
		RepeatCount: count, ComboCount: count, User: u, ToUser: g.host, RepeatEnd: end, GroupId: group,
		Gift: gift.info(), MonitorExtra: extra, UserIdentity: g.identity(ui),
		MonitorInfo: &pb.GiftMonitorInfo{AnchorId: g.host.Id, ToUserId: g.host.Id},
	}}
}

func (g *synth) roomUser() message {
	g.viewers = max(1, g.viewers+int64(g.rnd.IntN(21)-5))
	g.total += int64(1 + g.rnd.IntN(10))
	order := make([]int, len(g.users))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(g.coins[b], g.coins[a]) })
	var ranks []*pb.RoomContributor
	for rank, i := range order[:3] {
		if g.coins[i] == 0 {
			break
		}
		ranks = append(ranks, &pb.RoomContributor{CoinCount: g.coins[i], User: g.users[i], Rank: int64(rank + 1)})
	}
	return message{method: webcast.MethodRoomUserSeq, msg: &pb.RoomUserSeqMessage{
		Common: &pb.MessageCommon{}, Ranks: ranks, ViewerCount: g.viewers, PopStr: strconv.FormatInt(g.viewers, 10),
		TotalUser: g.viewers + g.total,
	}}
}

// battleMessage opens a battle (action 4) or finishes the open one (action 5).
func (g *synth) battleMessage() message {
	action := int32(5)
	if !g.inBattle {
		g.battle++
		action = 4
	}
	g.inBattle = !g.inBattle
	return message{method: webcast.MethodLinkMicBattle, msg: &pb.LinkMicBattleMessage{
		Common: &pb.MessageCommon{}, BattleId: g.battleID(), Action: action,
		Anchors: map[int64]*pb.BattleUserInfo{g.host.Id: battleUser(g.host), g.rival.Id: battleUser(g.rival)},
	}}
}

// battleUser is a host as battle messages carry it: their own user struct, not User.
func battleUser(u *pb.User) *pb.BattleUserInfo {
	return &pb.BattleUserInfo{User: &pb.BattleUser{
		UserId: u.Id, Nickname: u.Nickname, AvatarThumb: u.AvatarThumb, DisplayId: u.UniqueId,
	}}
}

func (g *synth) battleID() int64 {
	return 7_250_000_000_000_000_000 + g.roomID%1_000_000*1000 + g.battle
}

func (g *synth) armies() message {
	gift := Gifts[g.rnd.IntN(5)]
	n := int32(1 + g.rnd.IntN(5))
	fan1, fan2 := g.rnd.IntN(len(g.users)), g.rnd.IntN(len(g.users))
	army := func(host *pb.User, fans ...int) *pb.BattleTeamArmy {
		a := &pb.BattleTeamArmy{AnchorIdStr: strconv.FormatInt(host.Id, 10)}
		for _, i := range fans {
			u, score := g.users[i], int64(g.rnd.IntN(3000))
			a.Users = append(a.Users, &pb.BattleArmyUser{
				UserId: u.Id, Score: score, Nickname: u.Nickname, AvatarThumb: u.AvatarThumb,
				DiamondScore: score, UserIdStr: strconv.FormatInt(u.Id, 10),
			})
			a.HostScore += score
		}
		return a
	}
	return message{method: webcast.MethodLinkMicArmies, msg: &pb.LinkMicArmiesMessage{
		Common: &pb.MessageCommon{}, BattleId: g.battleID(), BattleStatus: 1,
		Armies: map[int64]*pb.BattleTeamArmy{
			g.host.Id:  army(g.host, fan1, fan2),
			g.rival.Id: army(g.rival, (fan1+7)%len(g.users)),
		},
		FromUserId: g.users[fan1].Id, GiftId: gift.ID, GiftCount: n, RepeatCount: n, TotalDiamondCount: n * gift.Diamonds,
	}}
}

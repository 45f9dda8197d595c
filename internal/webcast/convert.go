package webcast

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// The conversion of decoded messages into contract events lives here, next to the decoding, so
// that the contract package (internal/event) and everything downstream of it need no protobuf.

// maxCreateTimeMs is 9999-12-31T23:59:59.999Z. A create time past it cannot be written as RFC 3339,
// so it is treated as missing (the receive time is used).
const maxCreateTimeMs = 253402300799999

// ToEvent converts one decoded TikTok message into its event: exactly one per message. A
// method without a schema, or a payload that did not decode, gives an "unknown" event that keeps
// the raw bytes. Seq and Epoch are left for the room stream to set; room.RoomID, when empty, is
// taken from the message's common.room_id.
func ToEvent(m *Message, room event.Room) event.Event {
	e := event.Event{Username: room.Username, RoomID: room.RoomID, History: m.History}
	var c *pb.MessageCommon // every generated event message has one
	if cm, ok := m.Decoded.(interface{ GetCommon() *pb.MessageCommon }); ok {
		c = cm.GetCommon()
	}
	switch msg := m.Decoded.(type) {
	case *pb.ChatMessage:
		e.Type, e.Data = event.TypeChat, chatData(msg)
	case *pb.GiftMessage:
		e.Type, e.Data = event.TypeGift, giftData(msg)
	case *pb.LikeMessage:
		u := userFrom(msg.GetUser(), nil)
		e.Type, e.Data = event.TypeLike, event.LikeData{Sender: u.UniqueID, User: u, LikeCount: int64(msg.GetCount()), TotalLikeCount: msg.GetTotal()}
	case *pb.MemberMessage:
		u := userFrom(msg.GetUser(), nil)
		e.Type, e.Data = event.TypeMember, event.MemberData{
			Sender: u.UniqueID, User: u, Action: memberAction(msg.GetAction()), ActionID: int(msg.GetAction()),
			MemberCount: int64(msg.GetMemberCount()),
		}
	case *pb.SocialMessage:
		u := userFrom(msg.GetUser(), nil)
		key := c.GetDisplayText().GetKey()
		e.Type, e.Data = event.TypeSocial, event.SocialData{
			Sender: u.UniqueID, User: u, Action: socialAction(key, msg.GetAction()), ActionID: msg.GetAction(), DisplayType: key,
		}
	case *pb.RoomUserSeqMessage:
		e.Type, e.Data = event.TypeRoomUser, roomUserData(msg)
	case *pb.SubNotifyMessage:
		u := userFrom(msg.GetUser(), nil)
		e.Type, e.Data = event.TypeSubscribe, event.SubscribeData{Sender: u.UniqueID, User: u, SubMonth: msg.GetSubMonth()}
	case *pb.QuestionNewMessage:
		q := msg.GetQuestion()
		u := userFrom(q.GetUser(), nil)
		e.Type, e.Data = event.TypeQuestion, event.QuestionData{Sender: u.UniqueID, User: u, QuestionID: formatID(q.GetQuestionId()), QuestionText: q.GetText()}
	case *pb.EmoteChatMessage:
		e.Type, e.Data = event.TypeEmote, emoteData(msg)
	case *pb.EnvelopeMessage:
		e.Type, e.Data = event.TypeEnvelope, envelopeData(msg.GetInfo())
	case *pb.LiveIntroMessage:
		u := userFrom(msg.GetHost(), nil)
		e.Type, e.Data = event.TypeLiveIntro, event.LiveIntroData{Sender: u.UniqueID, User: u, Description: msg.GetDescription()}
	case *pb.LinkMicBattleMessage:
		e.Type, e.Data = event.TypeBattle, battleData(msg)
	case *pb.LinkMicArmiesMessage:
		e.Type, e.Data = event.TypeBattleArmies, armiesData(msg)
	case *pb.ControlMessage:
		switch a := msg.GetAction(); a {
		case ControlEnded, ControlSuspended:
			action := "ended"
			if a == ControlSuspended {
				action = "suspended"
			}
			e.Type, e.Data = event.TypeStreamEnd, event.StreamEndData{Action: action, ActionID: int(a)}
		default:
			e.Type, e.Data = event.TypeControl, event.ControlData{Action: controlAction(a), ActionID: int(a)}
		}
	default:
		// No schema, or bytes that did not decode (m.Decoded is nil then). Every webcast message
		// starts with its common block, so the id, room and time can usually still be read.
		if c == nil {
			c = commonOf(m.Payload)
		}
		d := event.UnknownData{Method: m.Method, Payload: m.Payload}
		if m.Err != nil {
			d.Error = m.Err.Error()
		}
		e.Type, e.Data = event.TypeUnknown, d
	}

	id := m.MsgID
	if id == 0 {
		id = c.GetMsgId()
	}
	e.ID = formatID(id)
	if e.RoomID == "" {
		e.RoomID = formatID(c.GetRoomId())
	}
	if ms := c.GetCreateTimeMs(); ms > 0 && ms <= maxCreateTimeMs {
		e.Time = time.UnixMilli(ms).UTC()
	} else {
		e.Time = m.ReceivedAt.UTC().Truncate(time.Millisecond) // the contract's precision
	}
	return e
}

// commonOf reads field 1 (the common block) of a message we have no schema for; nil if there is
// none or it does not parse.
func commonOf(payload []byte) *pb.MessageCommon {
	for len(payload) > 0 {
		num, typ, n := protowire.ConsumeTag(payload)
		if n < 0 {
			return nil
		}
		payload = payload[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(payload)
			if n < 0 {
				return nil
			}
			c := new(pb.MessageCommon)
			if proto.Unmarshal(v, c) != nil {
				return nil
			}
			return c
		}
		n = protowire.ConsumeFieldValue(num, typ, payload)
		if n < 0 {
			return nil
		}
		payload = payload[n:]
	}
	return nil
}

// formatID writes a TikTok id as the contract's decimal string; 0 means absent.
func formatID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func chatData(m *pb.ChatMessage) event.ChatData {
	u := userFrom(m.GetUser(), m.GetUserIdentity())
	d := event.ChatData{Sender: u.UniqueID, User: u, Comment: m.GetComment()}
	if es := m.GetEmotes(); len(es) > 0 {
		d.Emotes = make([]event.ChatEmote, len(es))
		for i, ce := range es {
			d.Emotes[i] = event.ChatEmote{
				EmoteID: ce.GetEmote().GetEmoteId(), Index: int(ce.GetIndex()), ImageURL: firstURL(ce.GetEmote().GetImage()),
			}
		}
	}
	return d
}

func giftData(m *pb.GiftMessage) event.GiftData {
	u := userFrom(m.GetUser(), m.GetUserIdentity())
	g := m.GetGift()
	d := event.GiftData{
		Sender:       u.UniqueID,
		User:         u,
		GiftID:       m.GetGiftId(),
		GiftName:     g.GetName(),
		GiftType:     int(g.GetType()),
		DiamondCount: int(g.GetDiamondCount()),
		RepeatCount:  int(m.GetRepeatCount()),
		RepeatEnd:    m.GetRepeatEnd() == 1,
		StreakID:     formatID(m.GetGroupId()),
		GiftImageURL: firstURL(g.GetImage()),
		ToUser:       optUser(m.GetToUser()),
	}
	if d.GiftID == 0 {
		d.GiftID = g.GetId() // field 2 is web-only; the gift struct always names it
	}
	if d.GiftImageURL == "" {
		d.GiftImageURL = firstURL(g.GetIcon())
	}
	d.StreakState = event.StreakState(d.GiftType, d.RepeatEnd)
	d.TotalDiamonds = event.TotalDiamonds(d.DiamondCount, d.RepeatCount)
	return d
}

func memberAction(a int32) string {
	switch a {
	case 1:
		return "join"
	case 3:
		return "subscribe"
	}
	return "other"
}

// socialAction decides follow or share as the client libraries do, by the display-text key; only a
// message without a key falls back to the wire action (1 follow, 3 share).
func socialAction(key string, action int64) string {
	if key != "" {
		switch {
		case strings.Contains(key, "follow"):
			return "follow"
		case strings.Contains(key, "share"):
			return "share"
		}
		return "other"
	}
	switch action {
	case 1:
		return "follow"
	case 3:
		return "share"
	}
	return "other"
}

func controlAction(a int32) string {
	switch a {
	case ControlPaused:
		return "paused"
	case ControlUnpaused:
		return "unpaused"
	}
	return "other"
}

// battleAction names the BattleAction values the protocol notes know; others are "other".
func battleAction(a int32) string {
	switch a {
	case 1:
		return "invite"
	case 4:
		return "open"
	case 5:
		return "finish"
	case 6:
		return "cutShort"
	}
	return "other"
}

func roomUserData(m *pb.RoomUserSeqMessage) event.RoomUserData {
	d := event.RoomUserData{ViewerCount: m.GetViewerCount(), TotalUser: m.GetTotalUser()}
	if rs := m.GetRanks(); len(rs) > 0 {
		d.TopViewers = make([]event.TopViewer, len(rs))
		for i, r := range rs {
			d.TopViewers[i] = event.TopViewer{User: userFrom(r.GetUser(), nil), CoinCount: r.GetCoinCount(), Rank: r.GetRank()}
		}
	}
	return d
}

func emoteData(m *pb.EmoteChatMessage) event.EmoteData {
	u := userFrom(m.GetUser(), m.GetUserIdentity())
	d := event.EmoteData{Sender: u.UniqueID, User: u}
	if es := m.GetEmotes(); len(es) > 0 {
		d.Emotes = make([]event.Emote, len(es))
		for i, em := range es {
			d.Emotes[i] = event.Emote{EmoteID: em.GetEmoteId(), ImageURL: firstURL(em.GetImage())}
		}
	}
	return d
}

// envelopeData: the wire names the sender by id, name and avatar only, so the user object gets
// those and no uniqueId (sender stays "").
func envelopeData(info *pb.EnvelopeInfo) event.EnvelopeData {
	return event.EnvelopeData{
		User: event.User{
			UserID:    info.GetSendUserId(),
			Nickname:  info.GetSendUserName(),
			AvatarURL: firstURL(info.GetSendUserAvatar()),
		},
		DiamondCount: int(info.GetDiamondCount()),
		PeopleCount:  int(info.GetPeopleCount()),
		EnvelopeID:   info.GetEnvelopeId(),
		SenderName:   info.GetSendUserName(),
	}
}

// battleData lists the hosts sorted by id: the wire has them in a map, whose order Go randomises.
func battleData(m *pb.LinkMicBattleMessage) event.BattleData {
	d := event.BattleData{BattleID: formatID(m.GetBattleId()), ActionID: int(m.GetAction()), Action: battleAction(m.GetAction())}
	anchors := m.GetAnchors()
	if len(anchors) > 0 {
		d.Teams = make([]event.BattleTeam, 0, len(anchors))
		for _, id := range slices.Sorted(maps.Keys(anchors)) {
			d.Teams = append(d.Teams, event.BattleTeam{HostUserID: strconv.FormatInt(id, 10), User: battleUser(anchors[id].GetUser())})
		}
	}
	return d
}

func armiesData(m *pb.LinkMicArmiesMessage) event.BattleArmiesData {
	d := event.BattleArmiesData{BattleID: formatID(m.GetBattleId())}
	armies := m.GetArmies()
	if len(armies) > 0 {
		d.Teams = make([]event.ArmyTeam, 0, len(armies))
		for _, id := range slices.Sorted(maps.Keys(armies)) {
			army := armies[id]
			t := event.ArmyTeam{HostUserID: strconv.FormatInt(id, 10), Points: army.GetHostScore()}
			var sum int64
			for _, u := range army.GetUsers() {
				sum += u.GetScore()
				t.Users = append(t.Users, event.ArmyUser{User: armyUser(u), Score: u.GetScore()})
			}
			if t.Points == 0 {
				t.Points = sum // some frames carry only the per-viewer scores
			}
			d.Teams = append(d.Teams, t)
		}
	}
	return d
}

// battleUser and armyUser map the battle messages' own user structs to the contract's User.
func battleUser(u *pb.BattleUser) event.User {
	if u == nil {
		return event.User{}
	}
	out := event.User{UniqueID: u.GetDisplayId(), Nickname: u.GetNickname(), AvatarURL: firstURL(u.GetAvatarThumb())}
	if u.GetUserId() != 0 {
		out.UserID = strconv.FormatInt(u.GetUserId(), 10)
	}
	return out
}

func armyUser(u *pb.BattleArmyUser) event.User {
	out := event.User{Nickname: u.GetNickname(), AvatarURL: firstURL(u.GetAvatarThumb()), UserID: u.GetUserIdStr()}
	if u.GetUserId() != 0 {
		out.UserID = strconv.FormatInt(u.GetUserId(), 10)
	}
	return out
}

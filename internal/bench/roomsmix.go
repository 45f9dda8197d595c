package bench

import (
	"bytes"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// The rooms mode's messages: every room sends a fixed, realistic mix (chat, likes, a gift streak
// that ends, a join, a viewer count), numbered 1, 2, 3 ... per room. The number and the room are
// in the message id (common.msg_id), which our server copies into the envelope's "id", so every
// event of every type can be tracked; chats also carry "bench:SEQ:UNIXNANO" in their comment, which
// is all the original Node server passes on of them (its events have no id).

const (
	roomIDBase     uint64 = 7_000_000_000_000_000_000 // message ids of the rooms mode start here
	roomSeqBits           = 24                        // a room's numbers: 1 .. 2^24-1
	maxRoomSeq            = 1<<roomSeqBits - 1
	maxBenchRooms         = 1 << 20
	roomNamePrefix        = "rm"
)

// roomName is the fake TikTok user of room i (0-based).
func roomName(i int) string { return fmt.Sprintf("%s%05d", roomNamePrefix, i) }

// roomMsgID is the message id of room's event seq.
func roomMsgID(room int, seq uint64) int64 {
	return int64(roomIDBase + uint64(room)<<roomSeqBits + seq)
}

// parseRoomMsgID is roomMsgID's inverse; ok is false for an id that is not one of ours.
func parseRoomMsgID(id uint64) (room int, seq uint64, ok bool) {
	if id < roomIDBase {
		return 0, 0, false
	}
	v := id - roomIDBase
	room, seq = int(v>>roomSeqBits), v&maxRoomSeq
	if room >= maxBenchRooms || seq == 0 {
		return 0, 0, false
	}
	return room, seq, true
}

var idPrefix = []byte(`"id":"`)

// parseEventID finds the envelope's "id" (a decimal string) in an event's JSON without decoding
// it. The envelope's keys come before data, so the first match is the envelope's; data's ids are
// named otherwise (userId, giftId, streakId ...).
func parseEventID(msg []byte) (uint64, bool) {
	i := bytes.Index(msg, idPrefix)
	if i < 0 {
		return 0, false
	}
	p := msg[i+len(idPrefix):]
	k := bytes.IndexByte(p, '"')
	if k <= 0 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p[:k]), 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

var typePrefix = []byte(`{"type":"`)

// eventType is the "type" of an event's JSON (both servers write it first), or nil.
func eventType(msg []byte) []byte {
	if !bytes.HasPrefix(msg, typePrefix) {
		return nil
	}
	p := msg[len(typePrefix):]
	k := bytes.IndexByte(p, '"')
	if k <= 0 {
		return nil
	}
	return p[:k]
}

// mixKind is one kind of message in a room's mix.
type mixKind uint8

const (
	mixChat mixKind = iota
	mixLike
	mixGiftStep // a Rose streak's running step
	mixGiftEnd  // the same streak's end (repeat_end = 1), three messages later
	mixMember
	mixRoomUser
	mixKinds
)

// mixCycle is the mix of every 10 messages of a room: 4 chats, 2 likes, a gift streak (2 events),
// a join and a viewer count.
var mixCycle = [10]mixKind{mixChat, mixLike, mixChat, mixGiftStep, mixMember, mixChat, mixGiftEnd, mixLike, mixChat, mixRoomUser}

// mixKindOf is the kind of a room's message seq (1-based).
func mixKindOf(seq uint64) mixKind { return mixCycle[(seq-1)%uint64(len(mixCycle))] }

// eventType is the event type our server gives the kind.
func (k mixKind) eventType() string {
	switch k {
	case mixChat:
		return "chat"
	case mixLike:
		return "like"
	case mixGiftStep, mixGiftEnd:
		return "gift"
	case mixMember:
		return "member"
	case mixRoomUser:
		return "roomUser"
	}
	return "?"
}

// mixTypes are the event types of the mix, in the report's order.
var mixTypes = []string{"chat", "like", "gift", "member", "roomUser"}

// countOfKind is how many of 1..n are of a kind for which keep is true.
func countOfKind(n uint64, keep func(mixKind) bool) uint64 {
	var per uint64
	for _, k := range mixCycle {
		if keep(k) {
			per++
		}
	}
	full, rest := n/uint64(len(mixCycle)), n%uint64(len(mixCycle))
	c := full * per
	for _, k := range mixCycle[:rest] {
		if keep(k) {
			c++
		}
	}
	return c
}

// Users of the mix: shared by every message (the fake only reads them).
var (
	mixAlice = webcasttest.Alice()
	mixBob   = webcasttest.Bob()
	mixCarol = webcasttest.Carol()
	mixHost  = webcasttest.Host()
	mixRose  = &pb.GiftInfo{Describe: "sent Rose", Id: 5655, Combo: true, Type: 1, DiamondCount: 1, Name: "Rose",
		Image: &pb.Image{Urls: []string{"https://p19-webcast.tiktokcdn.com/img/maliva/webcast-va/rose~tplv-obj.webp"}}}
	mixSenders = []*pb.User{mixAlice, mixBob, mixCarol}
)

// mixMessage builds room's message seq, sent at stamp (unix ns).
func mixMessage(room int, seq uint64, stamp int64) (string, proto.Message) {
	common := &pb.MessageCommon{MsgId: roomMsgID(room, seq)}
	user := mixSenders[seq%uint64(len(mixSenders))]
	cycle := (seq - 1) / uint64(len(mixCycle))
	switch mixKindOf(seq) {
	case mixLike:
		return webcast.MethodLike, &pb.LikeMessage{Common: common, User: user, Count: 5, Total: int64(seq) * 5}
	case mixGiftStep, mixGiftEnd:
		m := &pb.GiftMessage{Common: common, GiftId: 5655, RepeatCount: 2, User: mixAlice, ToUser: mixHost, Gift: mixRose,
			GroupId: int64(room)<<32 | int64(cycle+1), MonitorInfo: &pb.GiftMonitorInfo{AnchorId: webcasttest.HostID, ToUserId: webcasttest.HostID}}
		if mixKindOf(seq) == mixGiftEnd {
			m.RepeatCount, m.RepeatEnd = 5, 1
		}
		return webcast.MethodGift, m
	case mixMember:
		return webcast.MethodMember, &pb.MemberMessage{Common: common, User: mixBob, MemberCount: int32(1000 + cycle), Action: 1,
			UserId: mixBob.GetId()}
	case mixRoomUser:
		return webcast.MethodRoomUserSeq, &pb.RoomUserSeqMessage{Common: common, ViewerCount: int64(1200 + room%100), TotalUser: int64(20000 + cycle),
			Ranks: []*pb.RoomContributor{{CoinCount: 1000, User: mixBob, Rank: 1}, {CoinCount: 35, User: mixAlice, Rank: 2}}}
	default:
		return webcast.MethodChat, &pb.ChatMessage{Common: common, User: user, ContentLanguage: "en",
			Comment: "bench:" + strconv.FormatUint(seq, 10) + ":" + strconv.FormatInt(stamp, 10)}
	}
}

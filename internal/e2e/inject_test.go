package e2e

import (
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// Messages the tests push through the fake TikTok, so what the page must show is known exactly.

func viewer(id int64, handle, nick string) *pb.User {
	return &pb.User{Id: id, UniqueId: handle, Nickname: nick}
}

var (
	gina  = viewer(6_900_000_000_000_777_001, "gina.gifts", "Gina Gift")
	carl  = viewer(6_900_000_000_000_777_002, "carl.chat", "Carl Chat")
	leo   = viewer(6_900_000_000_000_777_003, "leo.lion", "Leo Lion")
	rose  = gift(5655)
	lion  = gift(6369)
	hostU = viewer(7_000_000_000_000_777_000, "host", "Host")
)

func gift(id int64) faketiktok.Gift {
	for _, g := range faketiktok.Gifts {
		if g.ID == id {
			return g
		}
	}
	panic("no gift in the fake's catalogue")
}

func chat(fake *faketiktok.Server, room string, u *pb.User, text string) {
	fake.Inject(room, webcast.MethodChat, &pb.ChatMessage{User: u, Comment: text})
}

func giftMsg(g faketiktok.Gift, u *pb.User, group int64, count, end int32) *pb.GiftMessage {
	return &pb.GiftMessage{
		GiftId: g.ID, RepeatCount: count, ComboCount: count, RepeatEnd: end, GroupId: group, GroupCount: 1,
		FanTicketCount: int64(g.Diamonds) * int64(count), User: u, ToUser: hostU,
		Gift: &pb.GiftInfo{Id: g.ID, Name: g.Name, Type: g.Type, DiamondCount: g.Diamonds, Combo: g.Type == 1},
	}
}

// streak sends a streak of a streakable gift: one message per step, the last with repeat_end.
func streak(fake *faketiktok.Server, room string, u *pb.User, group int64, steps int32) {
	for i := int32(1); i <= steps; i++ {
		end := int32(0)
		if i == steps {
			end = 1
		}
		fake.Inject(room, webcast.MethodGift, giftMsg(rose, u, group, i, end))
	}
}

func single(fake *faketiktok.Server, room string, u *pb.User, g faketiktok.Gift) {
	fake.Inject(room, webcast.MethodGift, giftMsg(g, u, 0, 1, 0))
}

func like(fake *faketiktok.Server, room string, u *pb.User, n int32, total int64) {
	fake.Inject(room, webcast.MethodLike, &pb.LikeMessage{User: u, Count: n, Total: total})
}

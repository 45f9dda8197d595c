package webcast

import (
	"strconv"
	"strings"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// Badge scenes (TikTok's BadgeSceneType) that the user object interprets.
const (
	sceneModerator     = 1
	sceneSubscriber    = 4
	sceneNewSubscriber = 7
	sceneGifter        = 8
	sceneFanTeam       = 10
)

// badgeType names a badge scene. Scene 7 (new subscriber) is a subscriber badge too: clients that
// care about "new" can read the scene.
func badgeType(scene int32) string {
	switch scene {
	case sceneModerator:
		return "moderator"
	case 2:
		return "firstRecharge"
	case 3:
		return "friends"
	case sceneSubscriber, sceneNewSubscriber:
		return "subscriber"
	case 5:
		return "activity"
	case 6:
		return "rankList"
	case sceneGifter:
		return "gifter"
	case sceneFanTeam:
		return "fan"
	case 11:
		return "livePro"
	case 12:
		return "anchor"
	}
	return "other"
}

// userFrom converts a wire user. id, when not nil, is the message's user identity (chat, gift and
// emote messages carry one): it can say "moderator" or "subscriber" where no badge does.
func userFrom(u *pb.User, id *pb.UserIdentity) event.User {
	if u == nil {
		return event.User{}
	}
	out := event.User{
		UniqueID:     u.GetUniqueId(),
		Nickname:     u.GetNickname(),
		AvatarURL:    firstURL(u.GetAvatarThumb()),
		FollowRole:   u.GetFollowInfo().GetFollowStatus(),
		IsModerator:  id.GetIsModeratorOfAnchor(),
		IsSubscriber: u.GetIsSubscriber() || id.GetIsSubscriberOfAnchor(),
	}
	if u.GetId() != 0 {
		out.UserID = strconv.FormatInt(u.GetId(), 10)
	}
	if bs := u.GetBadges(); len(bs) > 0 {
		out.Badges = make([]event.Badge, len(bs))
		for i, b := range bs {
			level := atoi(b.GetLogExtra().GetLevel())
			out.Badges[i] = event.Badge{
				Scene:    int(b.GetScene()),
				Type:     badgeType(b.GetScene()),
				Level:    level,
				Label:    badgeLabel(b),
				ImageURL: firstURL(b.GetImage().GetImage()),
			}
			switch b.GetScene() {
			case sceneModerator:
				out.IsModerator = true
			case sceneSubscriber, sceneNewSubscriber:
				out.IsSubscriber = true
			case sceneGifter:
				out.GifterLevel = level
			case sceneFanTeam:
				out.TeamMemberLevel = level
			}
		}
	}
	return out
}

// optUser is userFrom for places where an absent user is null rather than an empty object.
func optUser(u *pb.User) *event.User {
	if u == nil {
		return nil
	}
	v := userFrom(u, nil)
	return &v
}

func firstURL(img *pb.Image) string {
	if urls := img.GetUrls(); len(urls) > 0 {
		return urls[0]
	}
	return ""
}

// atoi reads a level; TikTok sends it as text, and junk counts as no level.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// badgeLabel is a badge's text: a string badge's text, or a text badge's pattern with its pieces
// filled in ("{0:string}" + ["Streamers"] gives "Streamers").
func badgeLabel(b *pb.Badge) string {
	if s := b.GetStr().GetStr(); s != "" {
		return s
	}
	t := b.GetText()
	if t.GetDefaultPattern() == "" {
		return t.GetKey()
	}
	return fillPattern(t.GetDefaultPattern(), t.GetPieces())
}

// fillPattern replaces TikTok pattern placeholders "{N}" or "{N:kind}" with pieces[N]. Placeholders
// without a piece are dropped; anything else is copied as it is.
func fillPattern(pattern string, pieces []string) string {
	if !strings.Contains(pattern, "{") {
		return pattern
	}
	if len(pieces) == 1 && (pattern == "{0}" || pattern == "{0:string}") {
		return pieces[0] // the common case, without a copy
	}
	var sb strings.Builder
	sb.Grow(len(pattern))
	for {
		open := strings.IndexByte(pattern, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(pattern[open:], '}')
		if end < 0 {
			break
		}
		end += open
		sb.WriteString(pattern[:open])
		ref := pattern[open+1 : end]
		if colon := strings.IndexByte(ref, ':'); colon >= 0 {
			ref = ref[:colon]
		}
		if i, err := strconv.Atoi(ref); err == nil {
			if i >= 0 && i < len(pieces) {
				sb.WriteString(pieces[i])
			}
		} else {
			sb.WriteString(pattern[open : end+1]) // not a placeholder: keep it
		}
		pattern = pattern[end+1:]
	}
	sb.WriteString(pattern)
	return sb.String()
}

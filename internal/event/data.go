package event

// The data of the TikTok event types. Every one starts with sender (the user's uniqueId) and user,
// as the original server's did, even where the wire has no user (then both are empty). The json tags
// name the keys for readers of this file and for UnmarshalJSON; writing goes through appendFields,
// which keeps the same names and order (TestData_TagsMatchEncoder checks that).

// ChatData is a chat comment.
type ChatData struct {
	Sender  string      `json:"sender"`
	User    User        `json:"user"`
	Comment string      `json:"comment"`
	Emotes  []ChatEmote `json:"emotes"` // written as [] when empty
}

// ChatEmote is a subscriber emote placed in a comment.
type ChatEmote struct {
	EmoteID  string `json:"emoteId"`
	Index    int    `json:"index"` // position in the comment
	ImageURL string `json:"imageUrl"`
}

// Streak states of a gift.
const (
	StreakProgress = "progress" // a streakable gift whose streak is still running
	StreakFinal    = "final"    // the end of a streak (TikTok's repeatEnd, or a timeout decided elsewhere)
	StreakSingle   = "single"   // a gift that does not streak
)

// StreakState is the state a gift message gives by itself. Only gift type 1 streaks; the timeout
// of a streak whose end never arrives is the room stream's business.
func StreakState(giftType int, repeatEnd bool) string {
	switch {
	case giftType != 1:
		return StreakSingle
	case repeatEnd:
		return StreakFinal
	}
	return StreakProgress
}

// GiftData is a gift, or one step of a gift streak.
type GiftData struct {
	Sender        string `json:"sender"`
	User          User   `json:"user"`
	GiftID        int64  `json:"giftId"`
	GiftName      string `json:"giftName"`
	GiftType      int    `json:"giftType"`     // 1 = streakable
	DiamondCount  int    `json:"diamondCount"` // per gift
	RepeatCount   int    `json:"repeatCount"`  // cumulative within a streak
	RepeatEnd     bool   `json:"repeatEnd"`
	StreakID      string `json:"streakId"` // the wire group_id, decimal
	StreakState   string `json:"streakState"`
	TotalDiamonds int64  `json:"totalDiamonds"` // DiamondCount × RepeatCount (a RepeatCount of 0 counts as 1)
	GiftImageURL  string `json:"giftImageUrl"`
	ToUser        *User  `json:"toUser"` // the receiver (host or guest); nil when the wire has none
}

// TotalDiamonds is the value of a gift step: diamonds per gift times the (cumulative) repeat count.
// TikTok leaves repeatCount out for some single gifts; one gift was still sent.
func TotalDiamonds(diamondCount, repeatCount int) int64 {
	if repeatCount == 0 {
		repeatCount = 1
	}
	return int64(diamondCount) * int64(repeatCount)
}

// LikeData is a batch of likes (TikTok aggregates taps).
type LikeData struct {
	Sender         string `json:"sender"`
	User           User   `json:"user"`
	LikeCount      int64  `json:"likeCount"`      // likes in this event
	TotalLikeCount int64  `json:"totalLikeCount"` // room total; it can go backwards
}

// MemberData is a viewer joining (or subscribing, as TikTok reports it here).
type MemberData struct {
	Sender      string `json:"sender"`
	User        User   `json:"user"`
	Action      string `json:"action"`   // join, subscribe, other
	ActionID    int    `json:"actionId"` // the wire action
	MemberCount int64  `json:"memberCount"`
}

// SocialData is a follow or a share.
type SocialData struct {
	Sender      string `json:"sender"`
	User        User   `json:"user"`
	Action      string `json:"action"`      // follow, share, other
	ActionID    int64  `json:"actionId"`    // the wire action (1 follow, 3 share in recordings)
	DisplayType string `json:"displayType"` // the common.display_text key, e.g. pm_main_follow_message_viewer_2
}

// RoomUserData is the periodic viewer count with the top viewers.
type RoomUserData struct {
	Sender      string      `json:"sender"`
	User        User        `json:"user"`
	ViewerCount int64       `json:"viewerCount"` // current viewers
	TotalUser   int64       `json:"totalUser"`   // cumulative viewers of this LIVE
	TopViewers  []TopViewer `json:"topViewers"`  // written as [] when empty
}

// TopViewer is one entry of the room's ranking.
type TopViewer struct {
	User      User  `json:"user"`
	CoinCount int64 `json:"coinCount"`
	Rank      int64 `json:"rank"`
}

// SubscribeData is a subscription.
type SubscribeData struct {
	Sender   string `json:"sender"`
	User     User   `json:"user"`
	SubMonth int64  `json:"subMonth"`
}

// QuestionData is a question asked in the Q&A panel; user is the asker.
type QuestionData struct {
	Sender       string `json:"sender"`
	User         User   `json:"user"`
	QuestionID   string `json:"questionId"` // decimal; "" when absent
	QuestionText string `json:"questionText"`
}

// EmoteData is an emote sent on its own.
type EmoteData struct {
	Sender string  `json:"sender"`
	User   User    `json:"user"`
	Emotes []Emote `json:"emotes"` // written as [] when empty
}

// Emote is a subscriber emote.
type Emote struct {
	EmoteID  string `json:"emoteId"`
	ImageURL string `json:"imageUrl"`
}

// EnvelopeData is a treasure box. The wire names its sender only by id, name and avatar, so user
// has no uniqueId and sender is "".
type EnvelopeData struct {
	Sender       string `json:"sender"`
	User         User   `json:"user"`
	DiamondCount int    `json:"diamondCount"`
	PeopleCount  int    `json:"peopleCount"`
	EnvelopeID   string `json:"envelopeId"`
	SenderName   string `json:"senderName"` // the wire send_user_name
}

// BattleData is a change of a LIVE battle (link-mic PK).
type BattleData struct {
	Sender   string       `json:"sender"`
	User     User         `json:"user"`
	BattleID string       `json:"battleId"`
	ActionID int          `json:"actionId"`
	Action   string       `json:"action"` // see battleAction
	Teams    []BattleTeam `json:"teams"`  // sorted by host id; written as [] when empty
}

// BattleTeam is one side of a battle, named by its host.
type BattleTeam struct {
	HostUserID string `json:"hostUserId"`
	User       User   `json:"user"`
}

// BattleArmiesData is the score of a battle.
type BattleArmiesData struct {
	Sender   string     `json:"sender"`
	User     User       `json:"user"`
	BattleID string     `json:"battleId"`
	Teams    []ArmyTeam `json:"teams"` // sorted by host id; written as [] when empty
}

// ArmyTeam is one side's score and the viewers who gave it.
type ArmyTeam struct {
	HostUserID string     `json:"hostUserId"`
	Points     int64      `json:"points"` // the host's score (else the sum of the viewers' scores)
	Users      []ArmyUser `json:"users"`  // written as [] when empty
}

// ArmyUser is a viewer who scored for a side, with their points.
type ArmyUser struct {
	User  User  `json:"user"`
	Score int64 `json:"score"`
}

// LiveIntroData is the room's introduction; user is the host.
type LiveIntroData struct {
	Sender      string `json:"sender"`
	User        User   `json:"user"`
	Description string `json:"description"`
}

// ControlData is a pause or another control action that does not end the stream.
type ControlData struct {
	Sender   string `json:"sender"`
	User     User   `json:"user"`
	Action   string `json:"action"` // paused, unpaused, other
	ActionID int    `json:"actionId"`
}

// StreamEndData is the end of the LIVE (control action 3 or 4).
type StreamEndData struct {
	Sender   string `json:"sender"`
	User     User   `json:"user"`
	Action   string `json:"action"` // ended, suspended
	ActionID int    `json:"actionId"`
}

// UnknownData keeps a message we cannot read: a method without a schema, or bytes that did not
// decode (then Error says why), so nothing TikTok sends is lost.
type UnknownData struct {
	Sender  string `json:"sender"`
	User    User   `json:"user"`
	Method  string `json:"method"`
	Payload []byte `json:"payload"` // base64 (standard, padded) in JSON
	Error   string `json:"error,omitempty"`
}

func (ChatData) eventType() string         { return TypeChat }
func (GiftData) eventType() string         { return TypeGift }
func (LikeData) eventType() string         { return TypeLike }
func (MemberData) eventType() string       { return TypeMember }
func (SocialData) eventType() string       { return TypeSocial }
func (RoomUserData) eventType() string     { return TypeRoomUser }
func (SubscribeData) eventType() string    { return TypeSubscribe }
func (QuestionData) eventType() string     { return TypeQuestion }
func (EmoteData) eventType() string        { return TypeEmote }
func (EnvelopeData) eventType() string     { return TypeEnvelope }
func (BattleData) eventType() string       { return TypeBattle }
func (BattleArmiesData) eventType() string { return TypeBattleArmies }
func (LiveIntroData) eventType() string    { return TypeLiveIntro }
func (ControlData) eventType() string      { return TypeControl }
func (StreamEndData) eventType() string    { return TypeStreamEnd }
func (UnknownData) eventType() string      { return TypeUnknown }

func (d ChatData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendStringField(b, `,"comment":`, d.Comment)
	return appendList(b, `,"emotes":`, d.Emotes, appendChatEmote)
}

func appendChatEmote(b []byte, e *ChatEmote) []byte {
	b = appendStringField(b, `{"emoteId":`, e.EmoteID)
	b = appendIntField(b, `,"index":`, int64(e.Index))
	b = appendStringField(b, `,"imageUrl":`, e.ImageURL)
	return append(b, '}')
}

func (d GiftData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendIntField(b, `,"giftId":`, d.GiftID)
	b = appendStringField(b, `,"giftName":`, d.GiftName)
	b = appendIntField(b, `,"giftType":`, int64(d.GiftType))
	b = appendIntField(b, `,"diamondCount":`, int64(d.DiamondCount))
	b = appendIntField(b, `,"repeatCount":`, int64(d.RepeatCount))
	b = appendBoolField(b, `,"repeatEnd":`, d.RepeatEnd)
	b = appendStringField(b, `,"streakId":`, d.StreakID)
	b = appendStringField(b, `,"streakState":`, d.StreakState)
	b = appendIntField(b, `,"totalDiamonds":`, d.TotalDiamonds)
	b = appendStringField(b, `,"giftImageUrl":`, d.GiftImageURL)
	b = append(b, `,"toUser":`...)
	if d.ToUser == nil {
		return append(b, "null"...)
	}
	return appendUser(b, d.ToUser)
}

func (d LikeData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendIntField(b, `,"likeCount":`, d.LikeCount)
	return appendIntField(b, `,"totalLikeCount":`, d.TotalLikeCount)
}

func (d MemberData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendStringField(b, `,"action":`, d.Action)
	b = appendIntField(b, `,"actionId":`, int64(d.ActionID))
	return appendIntField(b, `,"memberCount":`, d.MemberCount)
}

func (d SocialData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendStringField(b, `,"action":`, d.Action)
	b = appendIntField(b, `,"actionId":`, d.ActionID)
	return appendStringField(b, `,"displayType":`, d.DisplayType)
}

func (d RoomUserData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendIntField(b, `,"viewerCount":`, d.ViewerCount)
	b = appendIntField(b, `,"totalUser":`, d.TotalUser)
	return appendList(b, `,"topViewers":`, d.TopViewers, appendTopViewer)
}

func appendTopViewer(b []byte, v *TopViewer) []byte {
	b = append(b, `{"user":`...)
	b = appendUser(b, &v.User)
	b = appendIntField(b, `,"coinCount":`, v.CoinCount)
	b = appendIntField(b, `,"rank":`, v.Rank)
	return append(b, '}')
}

func (d SubscribeData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	return appendIntField(b, `,"subMonth":`, d.SubMonth)
}

func (d QuestionData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendStringField(b, `,"questionId":`, d.QuestionID)
	return appendStringField(b, `,"questionText":`, d.QuestionText)
}

func (d EmoteData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	return appendList(b, `,"emotes":`, d.Emotes, appendEmote)
}

func appendEmote(b []byte, e *Emote) []byte {
	b = appendStringField(b, `{"emoteId":`, e.EmoteID)
	b = appendStringField(b, `,"imageUrl":`, e.ImageURL)
	return append(b, '}')
}

func (d EnvelopeData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendIntField(b, `,"diamondCount":`, int64(d.DiamondCount))
	b = appendIntField(b, `,"peopleCount":`, int64(d.PeopleCount))
	b = appendStringField(b, `,"envelopeId":`, d.EnvelopeID)
	return appendStringField(b, `,"senderName":`, d.SenderName)
}

func (d BattleData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendStringField(b, `,"battleId":`, d.BattleID)
	b = appendIntField(b, `,"actionId":`, int64(d.ActionID))
	b = appendStringField(b, `,"action":`, d.Action)
	return appendList(b, `,"teams":`, d.Teams, appendBattleTeam)
}

func appendBattleTeam(b []byte, t *BattleTeam) []byte {
	b = appendStringField(b, `{"hostUserId":`, t.HostUserID)
	b = append(b, `,"user":`...)
	b = appendUser(b, &t.User)
	return append(b, '}')
}

func (d BattleArmiesData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendStringField(b, `,"battleId":`, d.BattleID)
	return appendList(b, `,"teams":`, d.Teams, appendArmyTeam)
}

func appendArmyTeam(b []byte, t *ArmyTeam) []byte {
	b = appendStringField(b, `{"hostUserId":`, t.HostUserID)
	b = appendIntField(b, `,"points":`, t.Points)
	b = appendList(b, `,"users":`, t.Users, appendArmyUser)
	return append(b, '}')
}

func appendArmyUser(b []byte, u *ArmyUser) []byte {
	b = append(b, `{"user":`...)
	b = appendUser(b, &u.User)
	b = appendIntField(b, `,"score":`, u.Score)
	return append(b, '}')
}

func (d LiveIntroData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	return appendStringField(b, `,"description":`, d.Description)
}

func (d ControlData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendStringField(b, `,"action":`, d.Action)
	return appendIntField(b, `,"actionId":`, int64(d.ActionID))
}

func (d StreamEndData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendStringField(b, `,"action":`, d.Action)
	return appendIntField(b, `,"actionId":`, int64(d.ActionID))
}

func (d UnknownData) appendFields(b []byte) []byte {
	b = appendSenderUser(b, d.Sender, &d.User)
	b = appendStringField(b, `,"method":`, d.Method)
	b = append(b, `,"payload":"`...)
	b = base64Std.AppendEncode(b, d.Payload)
	b = append(b, '"')
	if d.Error != "" {
		b = appendStringField(b, `,"error":`, d.Error)
	}
	return b
}

func appendSenderUser(b []byte, sender string, u *User) []byte {
	b = appendStringField(b, `"sender":`, sender)
	b = append(b, `,"user":`...)
	return appendUser(b, u)
}

func appendUser(b []byte, u *User) []byte {
	b = appendStringField(b, `{"userId":`, u.UserID)
	b = appendStringField(b, `,"uniqueId":`, u.UniqueID)
	b = appendStringField(b, `,"nickname":`, u.Nickname)
	b = appendStringField(b, `,"avatarUrl":`, u.AvatarURL)
	b = appendIntField(b, `,"followRole":`, u.FollowRole)
	b = appendBoolField(b, `,"isModerator":`, u.IsModerator)
	b = appendBoolField(b, `,"isSubscriber":`, u.IsSubscriber)
	b = appendIntField(b, `,"gifterLevel":`, int64(u.GifterLevel))
	b = appendIntField(b, `,"teamMemberLevel":`, int64(u.TeamMemberLevel))
	b = appendList(b, `,"badges":`, u.Badges, appendBadge)
	return append(b, '}')
}

func appendBadge(b []byte, g *Badge) []byte {
	b = appendIntField(b, `{"scene":`, int64(g.Scene))
	b = appendStringField(b, `,"type":`, g.Type)
	b = appendIntField(b, `,"level":`, int64(g.Level))
	if g.Label != "" {
		b = appendStringField(b, `,"label":`, g.Label)
	}
	if g.ImageURL != "" {
		b = appendStringField(b, `,"imageUrl":`, g.ImageURL)
	}
	return append(b, '}')
}

// appendList writes key and the items as a JSON list; no items (nil too) is [], never null.
func appendList[T any](b []byte, key string, items []T, item func([]byte, *T) []byte) []byte {
	b = append(b, key...)
	b = append(b, '[')
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = item(b, &items[i])
	}
	return append(b, ']')
}

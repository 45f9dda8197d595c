package event

// User is the user object of the contract. A user missing on the wire is the zero User: every key is
// still written, so clients can read data.user.uniqueId without checks.
type User struct {
	UserID          string  `json:"userId"`   // decimal; "" when unknown
	UniqueID        string  `json:"uniqueId"` // the @handle
	Nickname        string  `json:"nickname"`
	AvatarURL       string  `json:"avatarUrl"`
	FollowRole      int64   `json:"followRole"` // 0 none, 1 follows the host, 2 friends; other wire values pass through
	IsModerator     bool    `json:"isModerator"`
	IsSubscriber    bool    `json:"isSubscriber"`
	GifterLevel     int     `json:"gifterLevel"`
	TeamMemberLevel int     `json:"teamMemberLevel"`
	Badges          []Badge `json:"badges"` // written as [] when empty
}

// Badge is one badge a user wears in the room.
type Badge struct {
	Scene    int    `json:"scene"` // TikTok's badge scene, the basis of Type
	Type     string `json:"type"`  // named from the scene (moderator, subscriber, gifter, ...; docs/events.md)
	Level    int    `json:"level"` // from the badge's log_extra; 0 when absent
	Label    string `json:"label,omitempty"`
	ImageURL string `json:"imageUrl,omitempty"`
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
)

// simulateBody is what POST /v1/rooms/{username}/simulate takes. Every field but type is optional.
type simulateBody struct {
	Type     string `json:"type"`     // chat, gift, like, follow, share, join, subscribe
	User     string `json:"user"`     // the viewer's @handle; default "viewer"
	Nickname string `json:"nickname"` // default: the handle
	Comment  string `json:"comment"`  // chat
	GiftName string `json:"giftName"` // gift; default "Rose"
	GiftID   int64  `json:"giftId"`   // gift; default 5655
	Diamonds int    `json:"diamonds"` // gift: per gift; default 1
	Count    int    `json:"count"`    // gift: repeat count of the finished streak; like: likes; default 1
}

// Bounds of simulated values: big enough for any real gift, small enough to keep totals sane.
const (
	maxSimCount    = 10_000
	maxSimDiamonds = 1_000_000
	maxSimText     = 500
)

// parseSimulate reads and checks a simulate body.
func parseSimulate(b []byte) (simulateBody, error) {
	var in simulateBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, fmt.Errorf("the body must be a JSON object like {\"type\":\"gift\",\"diamonds\":100,\"count\":3}: %v", err)
	}
	if rest := bytes.TrimSpace(b[dec.InputOffset():]); len(rest) > 0 {
		return in, errors.New("the body must be one JSON object, with nothing after it")
	}
	switch in.Type {
	case "chat", "gift", "like", "follow", "share", "join", "subscribe":
	default:
		return in, fmt.Errorf("type %q: want chat, gift, like, follow, share, join or subscribe", clip(in.Type))
	}
	if in.User == "" {
		in.User = "viewer"
	}
	if len(in.User) > 24 || len(in.Nickname) > 64 || len(in.Comment) > maxSimText || len(in.GiftName) > 64 {
		return in, errors.New("user (24), nickname (64), comment (500) or giftName (64) is too long")
	}
	if in.Count == 0 {
		in.Count = 1
	}
	if in.Diamonds == 0 {
		in.Diamonds = 1
	}
	if in.Count < 1 || in.Count > maxSimCount || in.Diamonds < 1 || in.Diamonds > maxSimDiamonds || in.GiftID < 0 {
		return in, fmt.Errorf("count must be 1 to %d, diamonds 1 to %d", maxSimCount, maxSimDiamonds)
	}
	if in.GiftName == "" {
		in.GiftName, in.GiftID = "Rose", 5655
	}
	if in.Comment == "" {
		in.Comment = "a simulated chat message"
	}
	if in.Nickname == "" {
		in.Nickname = in.User
	}
	return in, nil
}

// simulatedEvent builds the event; a gift is one completed streak (or single gift), as an alert
// box expects it: streakState final.
func (in simulateBody) event(now time.Time) event.Event {
	u := event.User{UserID: "sim-" + strings.ToLower(in.User), UniqueID: in.User, Nickname: in.Nickname, Badges: []event.Badge{}}
	var d event.Data
	typ := in.Type
	switch in.Type {
	case "chat":
		d = event.ChatData{Sender: in.User, User: u, Comment: in.Comment}
	case "gift":
		d = event.GiftData{Sender: in.User, User: u, GiftID: in.GiftID, GiftName: in.GiftName, GiftType: 1, DiamondCount: in.Diamonds,
			RepeatCount: in.Count, RepeatEnd: true, StreakID: fmt.Sprint(now.UnixNano()), StreakState: event.StreakFinal,
			TotalDiamonds: event.TotalDiamonds(in.Diamonds, in.Count)}
	case "like":
		d = event.LikeData{Sender: in.User, User: u, LikeCount: int64(in.Count)}
	case "follow":
		typ, d = event.TypeSocial, event.SocialData{Sender: in.User, User: u, Action: "follow", ActionID: 1}
	case "share":
		typ, d = event.TypeSocial, event.SocialData{Sender: in.User, User: u, Action: "share", ActionID: 3}
	case "join":
		typ, d = event.TypeMember, event.MemberData{Sender: in.User, User: u, Action: "join", ActionID: 1}
	case "subscribe":
		d = event.SubscribeData{Sender: in.User, User: u, SubMonth: 1}
	}
	return event.Event{Type: typ, Time: now.UTC().Truncate(time.Millisecond), Data: d}
}

// simulate injects a chosen event into a room's stream, flagged simulated: true (for overlay
// makers). Allowed with the admin token, or without one in demo mode.
func (s *Server) simulate(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	b, ok := requestBody(w, r)
	if !ok {
		return
	}
	in, err := parseSimulate(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	e := in.event(time.Now())
	if err := s.cfg.Rooms.Inject(name, e); err != nil {
		if errors.Is(err, room.ErrShuttingDown) {
			writeError(w, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
			return
		}
		if errors.Is(err, room.ErrUnsupported) {
			writeError(w, http.StatusNotImplemented, "not_supported", err.Error())
			return
		}
		writeError(w, http.StatusInternalServerError, "internal", "the event could not be injected")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"success": true, "username": name, "type": e.Type, "simulated": true})
}

// requestBody reads a request body, bounded by guard's MaxBytesReader; when it cannot, it answers
// (413 body_too_large or 400 bad_body) and returns false.
func requestBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is over %d bytes: %v", tooBig.Limit, err))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_body", "the body could not be read")
		return nil, false
	}
	return b, true
}

package webcast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// StatusOffline is the room status TikTok uses for "not live" (anything else is live; 2 is usual).
const StatusOffline = 4

// RoomInfo is what Resolve learns about a user's room.
type RoomInfo struct {
	Username string // normalised @handle, without the @
	RoomID   string // decimal
	Status   int    // TikTok's room status; 4 = offline
	Live     bool
	Source   string // "html" or "api": where the room id came from
	Title    string
	// StartedAt is when the LIVE began, as TikTok's liveRoom.startTime says; zero when it gives none.
	StartedAt time.Time
}

// Resolve finds a user's room id and live status: the HTML page's SIGI_STATE first, then the
// api-live route, then the room info route (status and age restriction). It returns the info it has
// together with ErrOffline, ErrUserNotFound, ErrAgeRestricted, ErrBlocked or ErrNetwork.
func (c *Client) Resolve(ctx context.Context, username string) (RoomInfo, error) {
	name, err := ParseUsername(username)
	if err != nil {
		return RoomInfo{}, err
	}
	info := RoomInfo{Username: name}
	htmlInfo, htmlErr := c.resolveHTML(ctx, name)
	if htmlErr == nil {
		info = htmlInfo
	} else {
		apiInfo, apiErr := c.resolveAPI(ctx, name)
		if apiErr != nil {
			return info, worseOf(htmlErr, apiErr)
		}
		info = apiInfo
	}
	c.log.Debug("resolved room id", "user", name, "room", info.RoomID, "source", info.Source)

	// room/info is unsigned and cheap; it is the authority on status and age restriction.
	status, title, err := c.roomStatus(ctx, info.RoomID)
	switch {
	case errors.Is(err, ErrAgeRestricted):
		return info, err
	case err == nil:
		info.Status, info.Title = status, title
	default:
		c.log.Debug("room info failed, keeping the page's status", "user", name, "err", err)
	}
	info.Live = info.Status != StatusOffline
	if !info.Live {
		return info, &Error{Kind: KindOffline, Op: "resolve @" + name, Detail: "room status 4",
			Hint: "the user is not live now; wait for the stream to start"}
	}
	return info, nil
}

// CheckLive asks the room info route whether a room is live, without resolving the user again.
func (c *Client) CheckLive(ctx context.Context, roomID string) (bool, error) {
	status, _, err := c.roomStatus(ctx, roomID)
	if err != nil {
		return false, err
	}
	return status != StatusOffline, nil
}

// LiveStatus is the cheap poll for a host who is not live: one request (api-live/user/room, else the
// live page), no sign call. It asks by username because TikTok gives each broadcast a new room id, so
// polling the old room would never see the host come back. The info has the current room id.
func (c *Client) LiveStatus(ctx context.Context, username string) (RoomInfo, error) {
	name, err := ParseUsername(username)
	if err != nil {
		return RoomInfo{}, err
	}
	info, err := c.resolveAPI(ctx, name)
	if err != nil && !errors.Is(err, ErrUserNotFound) && ctx.Err() == nil {
		if page, perr := c.resolveHTML(ctx, name); perr == nil {
			return page, nil
		}
	}
	return info, err
}

// kindRank orders resolve failures: the most specific answer wins when both sources fail.
var kindRank = map[Kind]int{KindUserNotFound: 5, KindAgeRestricted: 4, KindBlocked: 3, KindBadResponse: 2, KindNetwork: 1}

func worseOf(a, b error) error {
	if kindRank[KindOf(b)] > kindRank[KindOf(a)] {
		return b
	}
	return a
}

var sigiRe = regexp.MustCompile(`(?s)<script id="SIGI_STATE" type="application/json"[^>]*>(.*?)</script>`)

// sigiState is the part of the page's SIGI_STATE we read.
type sigiState struct {
	LiveRoom *struct {
		LiveRoomUserInfo struct {
			User struct {
				RoomID   json.RawMessage `json:"roomId"`
				UniqueID string          `json:"uniqueId"`
				Status   *int            `json:"status"`
			} `json:"user"`
			LiveRoom struct {
				RoomID    json.RawMessage `json:"roomId"`
				Status    *int            `json:"status"`
				Title     string          `json:"title"`
				StartTime json.RawMessage `json:"startTime"`
			} `json:"liveRoom"`
		} `json:"liveRoomUserInfo"`
	} `json:"LiveRoom"`
}

func (c *Client) resolveHTML(ctx context.Context, name string) (RoomInfo, error) {
	op := "resolve @" + name + " (html)"
	status, _, body, err := c.get(ctx, op, c.web+"/@"+url.PathEscape(name)+"/live", "text/html,application/xhtml+xml")
	if err != nil {
		return RoomInfo{}, err
	}
	if status == http.StatusNotFound {
		return RoomInfo{}, &Error{Kind: KindUserNotFound, Op: op, Status: status}
	}
	if status != http.StatusOK {
		return RoomInfo{}, &Error{Kind: KindBadResponse, Op: op, Status: status}
	}
	return ParseLivePage(name, body)
}

// ParseLivePage reads the room id and status from a /@user/live HTML page.
func ParseLivePage(name string, page []byte) (RoomInfo, error) {
	op := "resolve @" + name + " (html)"
	m := sigiRe.FindSubmatch(page)
	if m == nil {
		return RoomInfo{}, &Error{Kind: KindBlocked, Op: op, Detail: "page has no SIGI_STATE (block or captcha page)",
			Hint: "TikTok is blocking this address; try later, another network, or a session id"}
	}
	var st sigiState
	if err := json.Unmarshal(bytes.TrimSpace(m[1]), &st); err != nil {
		return RoomInfo{}, &Error{Kind: KindBadResponse, Op: op, Detail: "SIGI_STATE is not JSON", Err: err}
	}
	if st.LiveRoom == nil {
		return RoomInfo{}, &Error{Kind: KindUserNotFound, Op: op, Detail: "page has no LiveRoom",
			Hint: "check the spelling of the username; the account may not exist or cannot go live"}
	}
	u, lr := st.LiveRoom.LiveRoomUserInfo.User, st.LiveRoom.LiveRoomUserInfo.LiveRoom
	roomID := idString(u.RoomID)
	if roomID == "" {
		roomID = idString(lr.RoomID)
	}
	if roomID == "" {
		return RoomInfo{}, &Error{Kind: KindUserNotFound, Op: op, Detail: "LiveRoom has no room id"}
	}
	info := RoomInfo{Username: name, RoomID: roomID, Source: "html", Title: lr.Title, Status: 2, StartedAt: unixTime(lr.StartTime)}
	if lr.Status != nil {
		info.Status = *lr.Status
	} else if u.Status != nil {
		info.Status = *u.Status
	}
	info.Live = info.Status != StatusOffline
	if !info.Live {
		info.StartedAt = time.Time{} // the last LIVE's, not one that runs
	}
	return info, nil
}

// unixTime reads a time in unix seconds given as a JSON number or string; zero if absent or not
// plausible (TikTok sends 0 for a room that is not live).
func unixTime(raw json.RawMessage) time.Time {
	n, err := strconv.ParseInt(strings.Trim(string(raw), `"`), 10, 64)
	if err != nil || n <= 0 || n > 1<<40 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// idString accepts an id as a JSON string or number and returns it as a positive decimal, or "".
func idString(raw json.RawMessage) string {
	s := strings.Trim(string(raw), `"`)
	if n, err := strconv.ParseUint(s, 10, 64); err != nil || n == 0 {
		return ""
	}
	return s
}

func (c *Client) resolveAPI(ctx context.Context, name string) (RoomInfo, error) {
	op := "resolve @" + name + " (api)"
	q := c.webParams()
	q.Set("uniqueId", name)
	q.Set("sourceType", "54")
	status, _, body, err := c.get(ctx, op, c.web+"/api-live/user/room/?"+q.Encode(), "application/json")
	if err != nil {
		return RoomInfo{}, err
	}
	if status == http.StatusForbidden || status == http.StatusTooManyRequests {
		return RoomInfo{}, &Error{Kind: KindBlocked, Op: op, Status: status, Hint: "TikTok is blocking this address; try later"}
	}
	if status != http.StatusOK {
		return RoomInfo{}, &Error{Kind: KindBadResponse, Op: op, Status: status, Detail: excerpt(body)}
	}
	var r struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
		Data       struct {
			User struct {
				RoomID json.RawMessage `json:"roomId"`
				Status *int            `json:"status"`
			} `json:"user"`
			LiveRoom struct {
				Status    *int            `json:"status"`
				Title     string          `json:"title"`
				StartTime json.RawMessage `json:"startTime"`
			} `json:"liveRoom"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		if bytes.Contains(bytes.ToLower(body), []byte("<html")) {
			return RoomInfo{}, &Error{Kind: KindBlocked, Op: op, Detail: "HTML instead of JSON (block or captcha page)"}
		}
		return RoomInfo{}, &Error{Kind: KindBadResponse, Op: op, Detail: "answer is not JSON", Err: err}
	}
	if r.StatusCode != 0 || r.Message == "user_not_found" {
		if r.Message == "user_not_found" || r.StatusCode == 19881007 {
			return RoomInfo{}, &Error{Kind: KindUserNotFound, Op: op, Detail: r.Message,
				Hint: "check the spelling of the username"}
		}
		return RoomInfo{}, &Error{Kind: KindBadResponse, Op: op, Detail: "statusCode " + strconv.Itoa(r.StatusCode) + " " + r.Message}
	}
	roomID := idString(r.Data.User.RoomID)
	if roomID == "" {
		return RoomInfo{}, &Error{Kind: KindUserNotFound, Op: op, Detail: "no room id in the answer"}
	}
	info := RoomInfo{Username: name, RoomID: roomID, Source: "api", Status: 2, Title: r.Data.LiveRoom.Title,
		StartedAt: unixTime(r.Data.LiveRoom.StartTime)}
	if r.Data.LiveRoom.Status != nil {
		info.Status = *r.Data.LiveRoom.Status
	} else if r.Data.User.Status != nil {
		info.Status = *r.Data.User.Status
	}
	info.Live = info.Status != StatusOffline
	if !info.Live {
		info.StartedAt = time.Time{} // the last LIVE's, not one that runs
	}
	return info, nil
}

// roomStatus calls /webcast/room/info/ for a room's status and title.
func (c *Client) roomStatus(ctx context.Context, roomID string) (int, string, error) {
	op := "room info " + roomID
	q := c.webParams()
	q.Set("room_id", roomID)
	status, _, body, err := c.get(ctx, op, c.webcast+"/webcast/room/info/?"+q.Encode(), "application/json")
	if err != nil {
		return 0, "", err
	}
	if status != http.StatusOK {
		return 0, "", &Error{Kind: KindBadResponse, Op: op, Status: status, Detail: excerpt(body)}
	}
	var r struct {
		StatusCode int                        `json:"status_code"`
		Data       map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, "", &Error{Kind: KindBadResponse, Op: op, Detail: "answer is not JSON", Err: err}
	}
	if _, ok := r.Data["prompts"]; ok {
		return 0, "", &Error{Kind: KindAgeRestricted, Op: op, Detail: "login required (age-restricted LIVE)",
			Hint: "this LIVE needs a logged-in session; configure a session id"}
	}
	var st int
	if raw, ok := r.Data["status"]; !ok || json.Unmarshal(raw, &st) != nil {
		return 0, "", &Error{Kind: KindBadResponse, Op: op, Detail: "no status in room info"}
	}
	var title string
	if raw, ok := r.Data["title"]; ok {
		_ = json.Unmarshal(raw, &title)
	}
	return st, title, nil
}

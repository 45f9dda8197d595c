package faketiktok

import (
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// www.tiktok.com
	mux.HandleFunc("GET /{handle}/live", s.handleLivePage)
	mux.HandleFunc("GET /api-live/user/room/{$}", s.handleAPILive)
	mux.HandleFunc("GET /api-live/user/room", s.handleAPILive)
	// webcast.tiktok.com
	mux.HandleFunc("GET /webcast/room/info/{$}", s.handleRoomInfo)
	mux.HandleFunc("GET /webcast/room/info", s.handleRoomInfo)
	mux.HandleFunc("GET /webcast/room/info_by_user/{$}", s.handleRoomInfoByUser)
	mux.HandleFunc("GET /webcast/room/check_alive/{$}", s.handleCheckAlive)
	mux.HandleFunc("GET /webcast/gift/list/{$}", s.handleGiftList)
	mux.HandleFunc("GET /webcast/gift/list", s.handleGiftList)
	mux.HandleFunc("GET /webcast/im/", s.handleSocket) // the push socket, under any path
	// the Euler sign server
	mux.HandleFunc("GET /webcast/fetch", s.handleSign)
	mux.HandleFunc("GET /webcast/rooms/{roomId}/connect", s.handleSign)
	mux.HandleFunc("GET /webcast/room_id", s.handleEulerRoomID)
	mux.HandleFunc("GET /webcast/anchors/{user}/room_id", s.handleEulerRoomID)
	mux.HandleFunc("POST /tiktok/sign_url", s.handleSignURL)
	mux.HandleFunc("POST /webcast/sign_url", s.handleSignURL)
	s.controlRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		// A "/_fake/" pattern would clash with "/{handle}/live", so unknown control routes land here.
		if strings.HasPrefix(req.URL.Path, "/_fake/") {
			ctlError(w, http.StatusNotFound, "not_found", "no such control route: "+req.Method+" "+req.URL.Path)
			return
		}
		http.Error(w, "not found", http.StatusNotFound)
	})
	return logRequests(s, mux)
}

// logRequests logs every request at debug level.
func logRequests(s *Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.log.Debug("request", "method", req.Method, "path", req.URL.Path, "query", req.URL.RawQuery)
		next.ServeHTTP(w, req)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeHTML(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// liveStatus is TikTok's room status: 2 live, 4 offline/ended.
func liveStatus(live bool) int {
	if live {
		return 2
	}
	return 4
}

type obj = map[string]any

func idStr(id int64) string { return strconv.FormatInt(id, 10) }

func (sn snapshot) avatar() obj {
	return obj{"url_list": avatar(uint64(sn.id)).GetUrls()}
}

func (sn snapshot) title() string { return sn.name + " is LIVE 🎥" }

// webUser is the user object of the web (camelCase) routes.
func (sn snapshot) webUser() obj {
	u := avatar(uint64(sn.id)).GetUrls()[0]
	return obj{
		"id": idStr(7_000_000_000_000_000_000 + sn.id%1_000_000_000_000), "uniqueId": sn.name, "nickname": sn.name,
		"secUid": "MS4wLjABAAAA" + strconv.FormatInt(sn.id, 36), "avatarThumb": u, "avatarMedium": u, "avatarLarger": u,
		"signature": "streaming on the fake TikTok", "verified": true, "roomId": idStr(sn.id), "status": liveStatus(sn.live),
		"followStatus": 0,
	}
}

func (sn snapshot) webRoom() obj {
	return obj{
		"roomId": idStr(sn.id), "status": liveStatus(sn.live), "title": sn.title(),
		"startTime": time.Now().Add(-17 * time.Minute).Unix(), "streamId": idStr(sn.id + 1),
		"liveRoomStats": obj{"userCount": 123, "enterCount": 4567},
		"coverUrl":      avatar(uint64(sn.id)).GetUrls()[0],
	}
}

// handleLivePage serves /@user/live: the SIGI_STATE script the clients scrape the room id from.
func (s *Server) handleLivePage(w http.ResponseWriter, req *http.Request) {
	name, ok := strings.CutPrefix(req.PathValue("handle"), "@")
	if !ok || name == "" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	sn := s.room(name).snapshot()
	state := obj{"AppContext": obj{"appContext": obj{"language": "en", "region": "DE", "user": obj{}}}}
	switch sn.kind {
	case KindBlocked:
		writeHTML(w, http.StatusOK, captchaPage)
		return
	case KindNotFound:
		state["UserModule"] = obj{"users": obj{}, "stats": obj{}, "statusCode": 10202, "statusMsg": "user not found"}
	default:
		state["LiveRoom"] = obj{
			"loadingState":     obj{"getRecommendLive": 1, "getUserInfo": 1, "getUserStat": 1},
			"needLogin":        false,
			"isAgeGateRoom":    sn.kind == KindRestricted,
			"liveRoomUserInfo": obj{"user": sn.webUser(), "stats": obj{"followerCount": 48213, "followingCount": 311}, "liveRoom": sn.webRoom()},
		}
	}
	b, _ := json.Marshal(state) // one line, with <>& escaped: the clients' regex wants both
	writeHTML(w, http.StatusOK, fmt.Sprintf(livePage, html.EscapeString(sn.name), b))
}

const livePage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%s is LIVE | TikTok</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><div id="app"></div>
<script id="SIGI_STATE" type="application/json">%s</script>
<script>window.__FAKE_TIKTOK__ = true;</script>
</body></html>
`

const captchaPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Security Check | TikTok</title></head>
<body><div id="captcha-verify-container"><p>Please verify you are human: drag the slider to fit the puzzle.</p>
<div class="captcha_verify_bar"></div></div>
<script>window._captcha = {"type":"slide","subtype":"slide","region":"va"};</script>
</body></html>
`

// handleAPILive serves /api-live/user/room/?uniqueId=.
func (s *Server) handleAPILive(w http.ResponseWriter, req *http.Request) {
	name := handle(req.URL.Query().Get("uniqueId"))
	if name == "" {
		writeJSON(w, http.StatusOK, obj{"statusCode": 10201, "message": "params_error", "data": obj{}})
		return
	}
	sn := s.room(name).snapshot()
	switch sn.kind {
	case KindBlocked:
		writeHTML(w, http.StatusForbidden, captchaPage)
	case KindNotFound:
		writeJSON(w, http.StatusOK, obj{"statusCode": 19881007, "message": "user_not_found", "data": obj{}})
	default:
		writeJSON(w, http.StatusOK, obj{"statusCode": 0, "message": "", "data": obj{
			"user": sn.webUser(), "liveRoom": sn.webRoom(), "stats": obj{"followerCount": 48213, "followingCount": 311},
		}})
	}
}

func (sn snapshot) roomInfo() obj {
	if sn.kind == KindRestricted {
		// What an anonymous client gets for an age-restricted room: a prompt and little else.
		return obj{"prompts": "This LIVE is age-restricted. Log in to watch."}
	}
	return obj{
		"id_str": idStr(sn.id), "status": liveStatus(sn.live), "title": sn.title(),
		"owner_user_id_str": idStr(7_000_000_000_000_000_000 + sn.id%1_000_000_000_000),
		"owner": obj{
			"id_str": idStr(7_000_000_000_000_000_000 + sn.id%1_000_000_000_000), "display_id": sn.name, "nickname": sn.name,
			"sec_uid": "MS4wLjABAAAA" + strconv.FormatInt(sn.id, 36), "avatar_thumb": sn.avatar(),
		},
		"user_count": 123, "create_time": time.Now().Add(-17 * time.Minute).Unix(),
		"stats":              obj{"total_user": 4567, "enter_count": 4567},
		"cover":              sn.avatar(),
		"like_count":         0,
		"has_commerce_goods": false,
	}
}

// handleRoomInfo serves /webcast/room/info/?room_id= (2.5.0) or roomId= (2.0.7).
func (s *Server) handleRoomInfo(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	id := parseRoomID(q.Get("room_id"))
	if id == 0 {
		id = parseRoomID(q.Get("roomId"))
	}
	r := s.roomByID(id)
	if r == nil || r.snapshot().kind == KindNotFound {
		writeJSON(w, http.StatusOK, obj{"status_code": 30003, "data": obj{"message": "room not found"}})
		return
	}
	writeJSON(w, http.StatusOK, obj{"status_code": 0, "data": r.snapshot().roomInfo(), "extra": obj{"now": time.Now().UnixMilli()}})
}

// handleRoomInfoByUser serves /webcast/room/info_by_user/?unique_id= (the Python client's route).
func (s *Server) handleRoomInfoByUser(w http.ResponseWriter, req *http.Request) {
	name := handle(req.URL.Query().Get("unique_id"))
	if name == "" || s.room(name).snapshot().kind == KindNotFound {
		writeJSON(w, http.StatusOK, obj{"status_code": 30003, "data": obj{"message": "room not found"}})
		return
	}
	writeJSON(w, http.StatusOK, obj{"status_code": 0, "data": s.room(name).snapshot().roomInfo()})
}

// handleCheckAlive serves /webcast/room/check_alive/?room_ids=a,b (the Python client's live check).
func (s *Server) handleCheckAlive(w http.ResponseWriter, req *http.Request) {
	out := []obj{}
	for v := range strings.SplitSeq(req.URL.Query().Get("room_ids"), ",") {
		id := parseRoomID(v)
		if id == 0 {
			continue
		}
		alive := false
		if r := s.roomByID(id); r != nil {
			alive = r.snapshot().live
		}
		out = append(out, obj{"alive": alive, "room_id": id, "room_id_str": idStr(id)})
	}
	writeJSON(w, http.StatusOK, obj{"status_code": 0, "data": out})
}

// handleGiftList serves /webcast/gift/list/: the catalogue the synthetic stream uses.
func (s *Server) handleGiftList(w http.ResponseWriter, req *http.Request) {
	gifts := make([]obj, 0, len(Gifts))
	for _, g := range Gifts {
		img := obj{"url_list": []string{g.ImageURL()}, "uri": fmt.Sprintf("webcast-va/%d", g.ID)}
		gifts = append(gifts, obj{
			"id": g.ID, "name": g.Name, "diamond_count": g.Diamonds, "type": g.Type, "combo": g.Type == 1,
			"describe": "sent " + g.Name, "image": img, "icon": img, "duration": 1000,
		})
	}
	writeJSON(w, http.StatusOK, obj{"status_code": 0, "data": obj{"gifts": gifts}, "extra": obj{"now": time.Now().UnixMilli()}})
}

// checkKey enforces Options.APIKey on the sign-server routes; false means 401 was sent.
func (s *Server) checkKey(w http.ResponseWriter, req *http.Request) bool {
	if s.apiKey == "" || req.Header.Get("X-Api-Key") == s.apiKey {
		return true
	}
	writeJSON(w, http.StatusUnauthorized, obj{"code": 401, "ok": false, "message": "Invalid or missing API key (X-Api-Key) for the fake sign server"})
	return false
}

// handleEulerRoomID serves the Euler room-id fallbacks: /webcast/room_id?uniqueId= (2.0.7) and
// /webcast/anchors/{user}/room_id (2.5.0).
func (s *Server) handleEulerRoomID(w http.ResponseWriter, req *http.Request) {
	if !s.checkKey(w, req) {
		return
	}
	name := req.PathValue("user")
	if name == "" {
		name = req.URL.Query().Get("uniqueId")
	}
	name = handle(name)
	if name == "" {
		writeJSON(w, http.StatusBadRequest, obj{"code": 400, "ok": false, "message": "uniqueId is required"})
		return
	}
	sn := s.room(name).snapshot()
	if sn.kind == KindNotFound {
		writeJSON(w, http.StatusOK, obj{"code": 404, "ok": false, "message": "User not found", "room_id": nil, "is_live": false})
		return
	}
	writeJSON(w, http.StatusOK, obj{"code": 200, "ok": true, "message": "ok", "room_id": idStr(sn.id), "is_live": sn.live})
}

// handleSignURL serves the Euler URL-signing routes with a fake signature.
func (s *Server) handleSignURL(w http.ResponseWriter, req *http.Request) {
	if !s.checkKey(w, req) {
		return
	}
	var body struct {
		URL       string `json:"url"`
		UserAgent string `json:"userAgent"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<20)).Decode(&body); err != nil || body.URL == "" {
		writeJSON(w, http.StatusBadRequest, obj{"code": 400, "message": "body must be JSON with a url"})
		return
	}
	ua := body.UserAgent
	if ua == "" {
		ua = req.UserAgent()
	}
	writeJSON(w, http.StatusOK, obj{"code": 200, "message": "ok", "response": obj{
		"signedUrl": body.URL, "userAgent": ua, "browserName": "Mozilla", "browserVersion": "5.0",
		"tokens": obj{"X-Bogus": "fake", "msToken": "fake"}, "requestHeaders": obj{},
	}})
}

// randomToken returns a random URL-safe string (cookies and ws params need not be reproducible).
func randomToken(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// handle is the fake's one reading of a username a client sends: one leading '@' dropped, nothing
// else. On purpose it is not webcast.ParseUsername (the server's rules): the fake stands in for
// TikTok and answers for any name, so tests can probe what a client does with odd ones, and it
// keys users exactly as configured. Our client only ever sends ParseUsername's lower-case key.
func handle(s string) string { return strings.TrimPrefix(s, "@") }

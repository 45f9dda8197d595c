package faketiktok

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// The clients' own extraction pattern (both JS versions): one line, non-greedy.
var sigiRE = regexp.MustCompile(`<script id="SIGI_STATE" type="application/json">(.*?)</script>`)

func TestServer_LivePage(t *testing.T) {
	f := start(t, Options{Users: map[string]UserConfig{
		"configured": {Kind: KindLive, RoomID: 7123456789012345678},
		"quiet":      {Kind: KindOffline},
	}})
	tests := []struct {
		user       string
		wantRoom   bool // SIGI_STATE has a LiveRoom
		wantSIGI   bool
		wantStatus float64
		wantID     int64 // 0: derived from the name
	}{
		{user: "streamer", wantRoom: true, wantSIGI: true, wantStatus: 2},
		{user: "offline_anna", wantRoom: true, wantSIGI: true, wantStatus: 4},
		{user: "quiet", wantRoom: true, wantSIGI: true, wantStatus: 4},
		{user: "restricted_bob", wantRoom: true, wantSIGI: true, wantStatus: 2},
		{user: "configured", wantRoom: true, wantSIGI: true, wantStatus: 2, wantID: 7123456789012345678},
		{user: "notfound_carl", wantSIGI: true},
		{user: "blocked_dora"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			r := f.get("/@" + tt.user + "/live")
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200", r.status)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want text/html", ct)
			}
			m := sigiRE.FindSubmatch(r.body)
			if (m != nil) != tt.wantSIGI {
				t.Fatalf("SIGI_STATE found = %v, want %v:\n%s", m != nil, tt.wantSIGI, r.body)
			}
			if m == nil {
				return
			}
			var state map[string]any
			if err := json.Unmarshal(m[1], &state); err != nil {
				t.Fatalf("SIGI_STATE is not JSON: %v", err)
			}
			info := testutil.Dig(state, "LiveRoom", "liveRoomUserInfo")
			if (info != nil) != tt.wantRoom {
				t.Fatalf("LiveRoom present = %v, want %v", info != nil, tt.wantRoom)
			}
			if info == nil {
				if testutil.Dig(state, "UserModule", "statusCode") != float64(10202) {
					t.Errorf("UserModule.statusCode = %v, want 10202", testutil.Dig(state, "UserModule", "statusCode"))
				}
				return
			}
			wantID := tt.wantID
			if wantID == 0 {
				wantID = DeriveRoomID(tt.user)
			}
			if got := f.srv.RoomID(tt.user); got != wantID {
				t.Errorf("RoomID() = %d, want %d", got, wantID)
			}
			for _, path := range [][]string{{"user", "roomId"}, {"liveRoom", "roomId"}} { // 2.0.8+ / 2.0.7
				if got := testutil.Dig(info, path...); got != fmt.Sprint(wantID) {
					t.Errorf("%v = %v, want %d", path, got, wantID)
				}
			}
			for _, path := range [][]string{{"user", "status"}, {"liveRoom", "status"}} {
				if got := testutil.Dig(info, path...); got != tt.wantStatus {
					t.Errorf("%v = %v, want %v", path, got, tt.wantStatus)
				}
			}
			if got := testutil.Dig(info, "user", "uniqueId"); got != tt.user {
				t.Errorf("user.uniqueId = %v, want %s", got, tt.user)
			}
		})
	}
	if r := f.get("/streamer/live"); r.status != http.StatusNotFound {
		t.Errorf("/streamer/live (no @): status %d, want 404", r.status)
	}
}

func TestServer_APILive(t *testing.T) {
	f := start(t, Options{})
	tests := []struct {
		user       string
		wantStatus int
		wantCode   float64
		wantLive   float64 // data.liveRoom.status
	}{
		{"streamer", 200, 0, 2},
		{"offline_anna", 200, 0, 4},
		{"restricted_bob", 200, 0, 2},
		{"notfound_carl", 200, 19881007, 0},
		{"blocked_dora", 403, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			r := f.get("/api-live/user/room/?aid=1988&sourceType=54&uniqueId=" + tt.user)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d", r.status, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusForbidden {
				if !strings.Contains(r.header.Get("Content-Type"), "text/html") {
					t.Errorf("blocked answer is %q, want an HTML page", r.header.Get("Content-Type"))
				}
				return
			}
			var m map[string]any
			if err := json.Unmarshal(r.body, &m); err != nil {
				t.Fatal(err)
			}
			if m["statusCode"] != tt.wantCode {
				t.Fatalf("statusCode %v, want %v", m["statusCode"], tt.wantCode)
			}
			if tt.wantCode != 0 {
				if m["message"] != "user_not_found" {
					t.Errorf("message %v, want user_not_found", m["message"])
				}
				return
			}
			if got := testutil.Dig(m, "data", "user", "roomId"); got != fmt.Sprint(f.srv.RoomID(tt.user)) {
				t.Errorf("data.user.roomId = %v, want %d", got, f.srv.RoomID(tt.user))
			}
			if got := testutil.Dig(m, "data", "liveRoom", "status"); got != tt.wantLive {
				t.Errorf("data.liveRoom.status = %v, want %v", got, tt.wantLive)
			}
		})
	}
}

func TestServer_RoomInfo(t *testing.T) {
	f := start(t, Options{})
	tests := []struct {
		name     string
		user     string // "" = an unknown room
		param    string
		wantCode float64
		wantStat any
		prompts  bool
	}{
		{"live snake_case", "streamer", "room_id", 0, float64(2), false},
		{"live camelCase", "streamer", "roomId", 0, float64(2), false},
		{"offline", "offline_anna", "room_id", 0, float64(4), false},
		{"restricted", "restricted_bob", "room_id", 0, nil, true},
		{"notfound", "notfound_carl", "room_id", 30003, nil, false},
		{"unknown room", "", "room_id", 30003, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := int64(7499999999999999999)
			if tt.user != "" {
				id = f.srv.RoomID(tt.user)
			}
			status, m := f.getJSON(fmt.Sprintf("/webcast/room/info/?aid=1988&%s=%d", tt.param, id))
			if status != http.StatusOK || m["status_code"] != tt.wantCode {
				t.Fatalf("status %d, status_code %v; want 200, %v", status, m["status_code"], tt.wantCode)
			}
			if got := testutil.Dig(m, "data", "status"); got != tt.wantStat {
				t.Errorf("data.status = %v, want %v", got, tt.wantStat)
			}
			if tt.prompts != (testutil.Dig(m, "data", "prompts") != nil) {
				t.Errorf("data.prompts = %v, want present=%v", testutil.Dig(m, "data", "prompts"), tt.prompts)
			}
			if tt.wantStat != nil {
				if got := testutil.Dig(m, "data", "id_str"); got != fmt.Sprint(id) {
					t.Errorf("data.id_str = %v, want %d", got, id)
				}
				if got := testutil.Dig(m, "data", "owner", "display_id"); got != tt.user {
					t.Errorf("data.owner.display_id = %v, want %s", got, tt.user)
				}
			}
		})
	}
}

func TestServer_GiftList(t *testing.T) {
	f := start(t, Options{})
	status, m := f.getJSON("/webcast/gift/list/?aid=1988")
	if status != http.StatusOK || m["status_code"] != float64(0) {
		t.Fatalf("status %d, status_code %v", status, m["status_code"])
	}
	gifts, _ := testutil.Dig(m, "data", "gifts").([]any)
	if len(gifts) != len(Gifts) {
		t.Fatalf("%d gifts, want %d", len(gifts), len(Gifts))
	}
	for i, g := range Gifts {
		got := gifts[i]
		if testutil.Dig(got, "id") != float64(g.ID) || testutil.Dig(got, "name") != g.Name ||
			testutil.Dig(got, "diamond_count") != float64(g.Diamonds) || testutil.Dig(got, "type") != float64(g.Type) {
			t.Errorf("gift %d = %v, want %+v", i, got, g)
		}
		if urls, _ := testutil.Dig(got, "image", "url_list").([]any); len(urls) == 0 || urls[0] != g.ImageURL() {
			t.Errorf("gift %s image.url_list = %v", g.Name, urls)
		}
	}
}

func TestServer_EulerRoutes(t *testing.T) {
	f := start(t, Options{})
	for _, path := range []string{"/webcast/room_id?uniqueId=streamer", "/webcast/anchors/streamer/room_id"} {
		status, m := f.getJSON(path)
		if status != http.StatusOK || m["code"] != float64(200) || m["ok"] != true || m["is_live"] != true ||
			m["room_id"] != fmt.Sprint(f.srv.RoomID("streamer")) {
			t.Errorf("GET %s = %d %v", path, status, m)
		}
	}
	if _, m := f.getJSON("/webcast/room_id?uniqueId=offline_x"); m["is_live"] != false {
		t.Errorf("offline user: is_live = %v, want false", m["is_live"])
	}
	if _, m := f.getJSON("/webcast/room_id?uniqueId=notfound_x"); m["code"] == float64(200) {
		t.Errorf("unknown user: code 200, want an error code")
	}
	const signMe = "https://webcast.tiktok.com/webcast/gift/list/?aid=1988&room_id=1"
	for _, path := range []string{"/tiktok/sign_url?client=ttlive-node", "/webcast/sign_url"} {
		r := f.do(http.MethodPost, path, map[string]any{"url": signMe, "method": "GET", "userAgent": "UA/1"}, nil)
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err != nil || r.status != http.StatusOK {
			t.Fatalf("POST %s = %d %s", path, r.status, r.body)
		}
		if testutil.Dig(m, "response", "signedUrl") != signMe || testutil.Dig(m, "response", "userAgent") != "UA/1" {
			t.Errorf("POST %s response = %v", path, m["response"])
		}
		if tok, _ := testutil.Dig(m, "response", "tokens").(map[string]any); len(tok) == 0 {
			t.Errorf("POST %s: empty tokens (the JS libs reject that)", path)
		}
	}
	if r := f.do(http.MethodPost, "/webcast/sign_url", "not json", nil); r.status != http.StatusBadRequest {
		t.Errorf("bad sign_url body: status %d, want 400", r.status)
	}
}

func TestServer_APIKey(t *testing.T) {
	f := start(t, Options{APIKey: "secret"})
	id := f.srv.RoomID("streamer")
	routes := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, fmt.Sprintf("/webcast/fetch?room_id=%d", id), nil},
		{http.MethodGet, fmt.Sprintf("/webcast/rooms/%d/connect", id), nil},
		{http.MethodGet, "/webcast/room_id?uniqueId=streamer", nil},
		{http.MethodPost, "/webcast/sign_url", map[string]string{"url": "https://x/"}},
	}
	for _, rt := range routes {
		t.Run(rt.path, func(t *testing.T) {
			for _, key := range []string{"", "wrong"} {
				r := f.do(rt.method, rt.path, rt.body, http.Header{"X-Api-Key": {key}})
				if r.status != http.StatusUnauthorized || !json.Valid(r.body) {
					t.Errorf("key %q: %d %s, want 401 JSON", key, r.status, r.body)
				}
			}
			if r := f.do(rt.method, rt.path, rt.body, http.Header{"X-Api-Key": {"secret"}}); r.status != http.StatusOK {
				t.Errorf("right key: status %d, want 200: %s", r.status, r.body)
			}
		})
	}
	// The web routes are TikTok's, not the sign server's: no key needed.
	if r := f.get("/@streamer/live"); r.status != http.StatusOK {
		t.Errorf("live page without key: %d", r.status)
	}
	rec := f.srv.Record("streamer")
	if len(rec.SignCalls) == 0 || rec.SignCalls[0].Status != http.StatusUnauthorized {
		t.Errorf("sign calls recorded: %+v, want the 401 first", rec.SignCalls)
	}
}

// Routes only the Python client uses.
func TestServer_PythonRoutes(t *testing.T) {
	f := start(t, Options{})
	live, off := f.srv.RoomID("streamer"), f.srv.RoomID("offline_x")
	status, m := f.getJSON(fmt.Sprintf("/webcast/room/check_alive/?aid=1988&room_ids=%d,%d,7499999999999999997", live, off))
	data, _ := m["data"].([]any)
	if status != http.StatusOK || len(data) != 3 {
		t.Fatalf("check_alive: %d %v", status, m)
	}
	for i, want := range []bool{true, false, false} {
		if testutil.Dig(data[i], "alive") != want {
			t.Errorf("check_alive[%d] = %v, want alive %v", i, data[i], want)
		}
	}
	tests := []struct {
		user     string
		wantCode float64
		prompts  bool
	}{
		{"streamer", 0, false},
		{"restricted_x", 0, true},
		{"notfound_x", 30003, false},
	}
	for _, tt := range tests {
		_, m := f.getJSON("/webcast/room/info_by_user/?unique_id=" + tt.user)
		if m["status_code"] != tt.wantCode || (testutil.Dig(m, "data", "prompts") != nil) != tt.prompts {
			t.Errorf("info_by_user %s = %v", tt.user, m)
		}
	}
}

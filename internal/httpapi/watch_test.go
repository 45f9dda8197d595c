package httpapi

import (
	"slices"
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// TestServer_PutRoomOptions: PUT takes the room's options as an optional body, returns them in the
// status, replaces them on a running room, keeps them without a body, and refuses bad ones.
func TestServer_PutRoomOptions(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{maxRooms: 2})
	steps := []struct {
		name, body string
		status     int
		want       map[string]any // keys of the answer; absent = must be absent
	}{
		{"new room with options", `{"priority":7,"proxy":"socks5://10.1.2.3:1080","upstream":"eu-west"}`, 201,
			map[string]any{"priority": 7, "proxy": "socks5://10.1.2.3:1080", "upstream": "eu-west"}},
		{"no body keeps them", ``, 200, map[string]any{"priority": 7, "proxy": "socks5://10.1.2.3:1080", "upstream": "eu-west"}},
		{"a body replaces them", `{"priority":-3}`, 200, map[string]any{"priority": -3, "proxy": nil, "upstream": nil}},
		{"any string is kept as given", `{"proxy":"not even a URL ✨"}`, 200, map[string]any{"priority": 0, "proxy": "not even a URL ✨"}},
		{"priority not an integer", `{"priority":1.5}`, 400, map[string]any{"code": "bad_body"}},
		{"priority out of range", `{"priority":1001}`, 400, map[string]any{"code": "bad_body"}},
		{"priority a string", `{"priority":"high"}`, 400, map[string]any{"code": "bad_body"}},
		{"proxy not a string", `{"proxy":8080}`, 400, map[string]any{"code": "bad_body"}},
		{"unknown key", `{"prio":1}`, 400, map[string]any{"code": "bad_body"}},
		{"not an object", `[1]`, 400, map[string]any{"code": "bad_body"}},
		{"two objects", `{} {}`, 400, map[string]any{"code": "bad_body"}},
	}
	for _, st := range steps {
		code, _, body := s.req("PUT", "/v1/rooms/streamer", st.body)
		if code != st.status {
			t.Errorf("%s: PUT = %d %v, want %d", st.name, code, body, st.status)
			continue
		}
		for k, v := range st.want {
			got, ok := body[k]
			switch {
			case v == nil && ok:
				t.Errorf("%s: %s = %v, want absent", st.name, k, got)
			case v != nil && jsonText(got) != jsonText(v):
				t.Errorf("%s: %s = %v, want %v", st.name, k, got, v)
			}
		}
	}
	if _, st := s.do("GET", "/v1/rooms/streamer"); jsonText(st["proxy"]) != jsonText("not even a URL ✨") {
		t.Errorf("GET after the updates: proxy %v", st["proxy"])
	}
}

// TestServer_ListRoomsByState: ?state= filters by the status's state words, live and offline
// are the connected and waiting rooms, and a word that names no state is a 400.
func TestServer_ListRoomsByState(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{maxRooms: 4})
	for _, name := range []string{"streamer", "offlinehost", "gone"} {
		if code, body := s.do("PUT", "/v1/rooms/"+name); code != 201 {
			t.Fatalf("PUT %s = %d %v", name, code, body)
		}
	}
	s.do("DELETE", "/v1/rooms/gone")
	var st map[string]any
	testutil.Eventually(t, wait, func() bool {
		_, st = s.do("GET", "/v1/rooms/streamer")
		_, off := s.do("GET", "/v1/rooms/offlinehost")
		return st["state"] == "connected" && off["state"] == "waiting_for_live"
	}, "streamer connected and offlinehost waiting: %v", st)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"gone", "offlinehost", "streamer"}},
		{"?state=live", []string{"streamer"}},
		{"?state=connected", []string{"streamer"}},
		{"?state=offline", []string{"offlinehost"}},
		{"?state=waiting_for_live", []string{"offlinehost"}},
		{"?state=stopped", []string{"gone"}},
		{"?state=live,stopped", []string{"gone", "streamer"}},
		{"?state=offline&state=live", []string{"offlinehost", "streamer"}},
		{"?state=rate_limited", nil},
		{"?state=connecting,reconnecting", nil},
		{"?state=", []string{"gone", "offlinehost", "streamer"}},
	}
	for _, tt := range tests {
		code, body := s.do("GET", "/v1/rooms"+tt.query)
		if code != 200 {
			t.Errorf("GET /v1/rooms%s = %d %v", tt.query, code, body)
			continue
		}
		var names []string
		for _, r := range body["rooms"].([]any) {
			names = append(names, r.(map[string]any)["username"].(string))
		}
		slices.Sort(names)
		if !slices.Equal(names, tt.want) {
			t.Errorf("GET /v1/rooms%s = %v, want %v", tt.query, names, tt.want)
		}
	}
	for _, q := range []string{"?state=idle", "?state=live,nope", "?state=LIVE", "?state=waiting"} {
		if code, body := s.do("GET", "/v1/rooms"+q); code != 400 || body["code"] != "bad_state" || body["success"] != false {
			t.Errorf("GET /v1/rooms%s = %d %v, want 400 bad_state", q, code, body)
		}
	}

	// The watch fields: the offline host's next check and since when; the live one's last live.
	_, off := s.do("GET", "/v1/rooms/offlinehost")
	if off["offlineSince"] == nil || off["nextCheckAt"] == nil || off["nextCheckAt"] != off["nextRetryAt"] || off["lastLiveAt"] != nil {
		t.Errorf("offline host: offlineSince %v, nextCheckAt %v (nextRetryAt %v), lastLiveAt %v",
			off["offlineSince"], off["nextCheckAt"], off["nextRetryAt"], off["lastLiveAt"])
	}
	_, on := s.do("GET", "/v1/rooms/streamer")
	if on["lastLiveAt"] == nil || on["offlineSince"] != nil || on["nextCheckAt"] != nil {
		t.Errorf("live host: lastLiveAt %v, offlineSince %v, nextCheckAt %v", on["lastLiveAt"], on["offlineSince"], on["nextCheckAt"])
	}
}

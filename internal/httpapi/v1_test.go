package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

func TestServer_V1Rooms(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{maxRooms: 2})
	steps := []struct {
		method, path string
		status       int
		want         map[string]any
	}{
		{"GET", "/v1/rooms/streamer", 404, map[string]any{"code": "not_found"}},
		{"PUT", "/v1/rooms/streamer", 201, map[string]any{"username": "streamer"}},
		{"PUT", "/v1/rooms/streamer", 200, map[string]any{"username": "streamer"}}, // idempotent
		{"PUT", "/v1/rooms/@Other", 201, map[string]any{"username": "other"}},      // normalised
		{"PUT", "/v1/rooms/third", 409, map[string]any{"code": "room_limit"}},
		{"PUT", "/v1/rooms/bad%20name", 400, map[string]any{"code": "bad_username"}},
		{"POST", "/v1/rooms/streamer", 405, map[string]any{"code": "method_not_allowed"}},
		{"DELETE", "/v1/rooms/nobody", 404, map[string]any{"code": "not_found"}},
	}
	for _, st := range steps {
		code, body := s.do(st.method, st.path)
		if code != st.status {
			t.Errorf("%s %s = %d %v, want %d", st.method, st.path, code, body, st.status)
			continue
		}
		for k, v := range st.want {
			if jsonText(body[k]) != jsonText(v) {
				t.Errorf("%s %s: %s = %v, want %v", st.method, st.path, k, body[k], v)
			}
		}
	}
	// A running room's status has every field the issue names.
	var st map[string]any
	testutil.Eventually(t, wait, func() bool {
		_, st = s.do("GET", "/v1/rooms/streamer")
		return st["state"] == "connected"
	}, "streamer never connected: %v", st)
	for _, k := range []string{"state", "roomId", "epoch", "seq", "connectedSince", "lastEventAt", "reconnects", "nextRetryAt", "signQuota", "counters", "lastError"} {
		if _, ok := st[k]; !ok {
			t.Errorf("room status without %q: %v", k, st)
		}
	}
	if c, _ := st["counters"].(map[string]any); c == nil || c["viewers"] == nil || c["likes"] == nil || c["diamonds"] == nil {
		t.Errorf("counters = %v, want viewers, likes, diamonds", st["counters"])
	}
	if q, _ := st["signQuota"].(map[string]any); q == nil || q["remaining"] == nil {
		t.Errorf("signQuota = %v", st["signQuota"])
	}
	if st["roomId"] != webcastID(s.fake.RoomID("streamer")) {
		t.Errorf("roomId = %v, want %v", st["roomId"], s.fake.RoomID("streamer"))
	}

	_, list := s.do("GET", "/v1/rooms")
	rooms, _ := list["rooms"].([]any)
	var names []string
	for _, r := range rooms {
		names = append(names, r.(map[string]any)["username"].(string))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"other", "streamer"}) {
		t.Errorf("rooms = %v", names)
	}

	code, body := s.do("DELETE", "/v1/rooms/streamer")
	if code != 200 || body["state"] != "stopped" || body["stopReason"] != "requested" {
		t.Errorf("DELETE = %d %v, want 200 stopped/requested", code, body)
	}
	// A stopped room frees its slot.
	if code, body := s.do("PUT", "/v1/rooms/third"); code != 201 {
		t.Errorf("PUT third after a stop = %d %v, want 201", code, body)
	}
}

func webcastID(id int64) string { b, _ := json.Marshal(id); return string(b) }

// TestServer_V1RoomWaitsForLive: PUT keeps an offline host and connects when they go live.
func TestServer_V1RoomWaitsForLive(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{})
	ws := s.dial("/v1/ws?rooms=offlinehost")
	if code, body := s.do("PUT", "/v1/rooms/offlinehost"); code != 201 {
		t.Fatalf("PUT = %d %v", code, body)
	}
	ws.await(t, "waiting_for_live", "offlinehost", nil)
	testutil.Eventually(t, wait, func() bool {
		_, st := s.do("GET", "/v1/rooms/offlinehost")
		return st["state"] == "waiting_for_live" && st["nextRetryAt"] != nil
	}, "status never showed waiting_for_live")
	s.fake.SetLive("offlinehost", true)
	ws.await(t, "connection_created", "offlinehost", nil)
	_, st := s.do("GET", "/v1/rooms/offlinehost")
	if st["state"] != "connected" {
		t.Errorf("state = %v, want connected", st["state"])
	}
}

func TestServer_Operations(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.connect("streamer")
	if code, body := s.do("GET", "/healthz"); code != 200 || body["status"] != "ok" {
		t.Errorf("/healthz = %d %v", code, body)
	}
	if code, body := s.do("GET", "/readyz"); code != 200 || body["status"] != "ready" {
		t.Errorf("/readyz = %d %v", code, body)
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	for _, want := range []string{
		`tiktok_live_events_total{room="streamer",type="connection_created"} 1`,
		`tiktok_live_room_state{room="streamer",state="connected"} 1`,
		`tiktok_live_sign_calls_total 1`,
		`tiktok_live_clients{transport="ws"} 0`,
		"tiktok_live_deliveries_total", "tiktok_live_slow_client_closes_total", "tiktok_live_reconnects_total",
		"tiktok_live_sign_rate_limited_total", "tiktok_live_queue_bytes", "tiktok_live_undelivered_total", "go_goroutines",
	} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	s.api.BeginShutdown()
	if code, body := s.do("GET", "/readyz"); code != 503 || body["code"] != "shutting_down" {
		t.Errorf("/readyz while shutting down = %d %v", code, body)
	}
}

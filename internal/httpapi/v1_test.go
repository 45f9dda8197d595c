package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
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

// TestServer_ConcurrentRoomChurn: many clients starting, stopping and reading rooms at once (legacy
// and /v1 routes, in multi-room mode) leave a consistent server: every answer is one of the
// documented ones, every room's stream has no seq gap, and nothing leaks.
func TestServer_ConcurrentRoomChurn(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{maxRooms: 3, rate: 50})
	ws := s.dial("/v1/ws?types=connection_created,connection_closed,error,waiting_for_live")
	users := []string{"ua", "ub", "uc", "ud", "offlineue"}
	ok := map[string][]int{
		"PUT": {200, 201, 409}, "DELETE": {200, 404}, "GET": {200, 404}, "POST": {200, 202, 404, 409},
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 30 {
				u := users[(w+i)%len(users)]
				var method, path string
				switch (w*7 + i) % 6 {
				case 0, 1:
					method, path = "PUT", "/v1/rooms/"+u
				case 2:
					method, path = "DELETE", "/v1/rooms/"+u
				case 3:
					method, path = "GET", "/v1/rooms/"+u
				case 4:
					method, path = "POST", "/connect/"+u
				default:
					method, path = "DELETE", "/connect/"+u
				}
				code, body := s.do(method, path)
				if !slices.Contains(ok[method], code) {
					t.Errorf("%s %s = %d %v", method, path, code, body)
				}
			}
		})
	}
	wg.Wait()
	if code, body := s.do("GET", "/health"); code != 200 || body["status"] != "ok" {
		t.Fatalf("/health after the churn = %d %v", code, body)
	}
	_, list := s.do("GET", "/v1/rooms")
	running := 0
	for _, r := range list["rooms"].([]any) {
		if r.(map[string]any)["state"] != "stopped" {
			running++
		}
	}
	if running > 3 {
		t.Errorf("%d rooms running, more than --max-rooms 3", running)
	}
	// Every room's events, as one client saw them: per room, seq only rises.
	last := map[string]float64{}
	for _, e := range ws.events() {
		u, seq := e["username"].(string), e["seq"].(float64)
		if seq <= last[u] {
			t.Errorf("room %s: seq %v after %v", u, seq, last[u])
		}
		last[u] = seq
	}
}

package httpapi

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// TestServer_LegacyRoutes walks the original server's routes in order, each with its answer: the
// status, the error code, and the body values a client of the original relies on.
func TestServer_LegacyRoutes(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{})
	ws := s.dial("/")
	steps := []struct {
		method, path string
		status       int
		want         map[string]any // body values (compared as text)
	}{
		{"GET", "/health", 200, map[string]any{"status": "ok", "currentUser": nil, "state": "idle", "connected": false, "wsClients": 1}},
		{"GET", "/health/", 200, map[string]any{"status": "ok"}}, // a trailing slash, as the original allowed
		{"GET", "/status", 200, map[string]any{"success": true, "username": nil, "state": "idle", "connected": false}},
		{"GET", "/test/streamer", 200, map[string]any{"success": true, "username": "streamer", "isLive": true}},
		{"GET", "/test/@streamer", 200, map[string]any{"username": "streamer", "isLive": true}},
		{"GET", "/test/offlineuser1", 200, map[string]any{"username": "offlineuser1", "isLive": false}},
		{"GET", "/test/notfounduser1", 404, map[string]any{"success": false, "code": "room_not_found", "username": "notfounduser1"}},
		{"GET", "/test/bad%20name", 400, map[string]any{"success": false, "code": "bad_username"}},
		{"GET", "/status/nobody", 404, map[string]any{"code": "not_current_user", "username": "nobody"}},
		{"DELETE", "/connect/nobody", 404, map[string]any{"code": "not_current_user"}},
		{"GET", "/nope", 404, map[string]any{"code": "not_found"}},
		{"GET", "/connect/nobody", 404, map[string]any{"code": "not_found"}}, // a wrong method is a 404 in the original
		{"PUT", "/health", 404, map[string]any{"code": "not_found"}},
		{"POST", "/connect/offlineuser1", 404, map[string]any{"code": "user_offline", "username": "offlineuser1"}},
		{"POST", "/connect/notfounduser1", 404, map[string]any{"code": "room_not_found"}},
		{"POST", "/connect/a%20b", 400, map[string]any{"code": "bad_username"}},
		{"GET", "/status", 200, map[string]any{"state": "idle"}}, // failed connects leave no current user
		{"POST", "/connect/streamer", 200, map[string]any{"success": true, "username": "streamer", "state": "connected", "connected": true, "attempts": 1, "lastError": nil}},
		{"POST", "/connect/%40streamer", 200, map[string]any{"state": "connected", "alreadyConnected": true}},
		{"GET", "/status/streamer", 200, map[string]any{"username": "streamer", "state": "connected", "connected": true}},
		{"GET", "/status", 200, map[string]any{"username": "streamer", "connected": true}},
		{"GET", "/health", 200, map[string]any{"currentUser": "streamer", "state": "connected", "connected": true}},
		{"POST", "/connect/other", 200, map[string]any{"username": "other", "state": "connected"}}, // replaces streamer
		{"GET", "/status/streamer", 404, map[string]any{"code": "not_current_user"}},
		{"DELETE", "/connect/other", 200, map[string]any{"success": true, "username": "other", "state": "closed"}},
		{"GET", "/status", 200, map[string]any{"state": "idle", "username": nil}},
	}
	for _, st := range steps {
		code, body := s.do(st.method, st.path)
		if code != st.status {
			t.Errorf("%s %s = %d %v, want %d", st.method, st.path, code, body, st.status)
			continue
		}
		for k, v := range st.want {
			if got, ok := body[k]; !ok || jsonText(got) != jsonText(v) {
				t.Errorf("%s %s: %s = %v, want %v (body %v)", st.method, st.path, k, got, v, body)
			}
		}
		if code >= 400 && (body["error"] == "" || body["message"] == "") {
			t.Errorf("%s %s: error body without a message: %v", st.method, st.path, body)
		}
	}
	// What an old WebSocket client saw.
	ws.await(t, "error", "offlineuser1", map[string]any{"code": "user_offline", "retryable": false})
	ws.await(t, "connection_created", "streamer", map[string]any{"isLive": true})
	// The broadcast pair reaches the original's stream too, in the same envelope (checked below).
	ws.await(t, "live_started", "streamer", map[string]any{"roomId": fmt.Sprint(s.fake.RoomID("streamer")), "title": "streamer is LIVE 🎥"})
	ws.await(t, "connection_closed", "streamer", map[string]any{"reason": "replaced"})
	ws.await(t, "connection_created", "other", nil)
	ws.await(t, "connection_closed", "other", map[string]any{"reason": "requested"})
	for _, e := range ws.events() {
		for _, k := range []string{"type", "username", "data"} {
			if _, ok := e[k]; !ok {
				t.Errorf("event without %q: %v", k, e)
			}
		}
		if d, _ := e["data"].(map[string]any); d["timestamp"] == nil {
			t.Errorf("event without data.timestamp: %v", e)
		}
	}
}

// jsonText writes a decoded JSON value and a Go literal the same way, so they compare as text.
func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// TestServer_TestRouteSpendsNoQuota: GET /test resolves without signing and without a socket.
func TestServer_TestRouteSpendsNoQuota(t *testing.T) {
	s := newStack(t, stackOptions{})
	for range 3 {
		if code, body := s.do("GET", "/test/streamer"); code != 200 || body["isLive"] != true {
			t.Fatalf("/test/streamer = %d %v", code, body)
		}
	}
	rec := s.fake.Record("streamer")
	if len(rec.SignCalls) != 0 || len(rec.Sockets) != 0 {
		t.Errorf("/test made %d sign calls and opened %d sockets, want none", len(rec.SignCalls), len(rec.Sockets))
	}
	if _, body := s.do("GET", "/v1/rooms"); len(body["rooms"].([]any)) != 0 {
		t.Errorf("/test started a room: %v", body)
	}
}

// TestServer_ConnectRateLimited: the original's 202 while a rate-limit retry is scheduled; the
// retry waits for the sign server's Retry-After, then the room connects on its own.
func TestServer_ConnectRateLimited(t *testing.T) {
	leakcheck.Check(t)
	s := newStack(t, stackOptions{})
	ws := s.dial("/")
	s.fake.AddFault("streamer", faketiktok.Fault{Kind: faketiktok.FaultSign429, RetryAfter: time.Second,
		Message: "rate limit reached for this test key"})
	start := time.Now()
	code, body := s.do("POST", "/connect/streamer")
	if code != 202 || body["state"] != "retrying" || body["supervisorState"] != "rate_limited" || body["nextRetryAt"] == nil {
		t.Fatalf("POST /connect = %d %v, want 202 retrying/rate_limited with nextRetryAt", code, body)
	}
	if le, _ := body["lastError"].(map[string]any); le["code"] != "rate_limited" {
		t.Errorf("lastError = %v, want code rate_limited", body["lastError"])
	}
	ws.await(t, "error", "streamer", map[string]any{"code": "rate_limited", "retryable": true})
	limited := ws.await(t, "rate_limited", "streamer", nil)
	ws.await(t, "connection_created", "streamer", nil)
	retryAt, err := time.Parse(time.RFC3339Nano, limited["data"].(map[string]any)["retryAt"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if retryAt.Before(start.Add(time.Second - time.Millisecond)) {
		t.Errorf("retryAt %v is less than the 1 s Retry-After after %v", retryAt, start)
	}
	// The fake records a sign call after answering it, so poll for the record.
	var calls []faketiktok.SignCall
	testutil.Eventually(t, wait, func() bool { calls = s.fake.Record("streamer").SignCalls; return len(calls) >= 2 },
		"the fake recorded %d sign calls", len(calls))
	if len(calls) != 2 || calls[1].At.Before(retryAt) {
		t.Errorf("sign calls %d, second at %v; want 2, the second not before %v", len(calls), calls[len(calls)-1].At, retryAt)
	}
	if _, st := s.do("GET", "/status/streamer"); st["state"] != "connected" || st["attempts"] != float64(2) {
		t.Errorf("status = %v, want connected after 2 attempts", st)
	}
}

package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tiktok-live-server/tiktok-live-server/internal/auth"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

const (
	testAdmin  = "admin-token-0123456789abcdef"
	testRead   = "read-token-0123456789abcdef"
	testSecret = "room-token-secret-0123456789"
)

func securedStack(t *testing.T, sec Security) *stack {
	if sec.Policy == nil {
		sec.Policy = &auth.Policy{AdminToken: testAdmin, ReadToken: testRead, TokenSecret: []byte(testSecret)}
	}
	return newStack(t, stackOptions{maxRooms: 4, security: sec})
}

// req sends a request with optional headers ("Name: value") and returns status, headers and body.
func (s *stack) req(method, path, body string, headers ...string) (int, http.Header, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, h := range headers {
		if h == "" {
			continue
		}
		k, v, _ := strings.Cut(h, ": ")
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, resp.Header, m
}

func bearer(tok string) string { return "Authorization: Bearer " + tok }

// TestServer_AccessControl: who may do what with the admin token, the read token and room tokens.
func TestServer_AccessControl(t *testing.T) {
	leakcheck.Check(t)
	s := securedStack(t, Security{})
	now := time.Now()
	roomTok := auth.Mint([]byte(testSecret), "hosta", time.Hour, now)
	expired := auth.Mint([]byte(testSecret), "hosta", time.Second, now.Add(-time.Hour))
	forged := auth.Mint([]byte("another-secret-0123456789"), "hosta", time.Hour, now)
	if code, _, _ := s.req("PUT", "/v1/rooms/hosta", "", bearer(testAdmin)); code != 201 {
		t.Fatalf("admin PUT: %d", code)
	}
	tests := []struct {
		name, method, path, header string
		want                       int
	}{
		{"no token reads nothing", "GET", "/v1/rooms", "", 401},
		{"no token connects nothing", "POST", "/connect/hostb", "", 401},
		{"liveness is public", "GET", "/healthz", "", 200},
		{"the API description is public", "GET", "/openapi.json", "", 200},
		{"read token reads", "GET", "/v1/rooms", bearer(testRead), 200},
		{"read token via X-Api-Key", "GET", "/v1/rooms/hosta", "X-Api-Key: " + testRead, 200},
		{"read token via query", "GET", "/v1/rooms/hosta?token=" + testRead, "", 200},
		{"read token cannot connect", "PUT", "/v1/rooms/hostb", bearer(testRead), 403},
		{"read token cannot shut down", "POST", "/shutdown", bearer(testRead), 403},
		{"read token cannot simulate", "POST", "/v1/rooms/hosta/simulate", bearer(testRead), 403},
		{"admin token reads", "GET", "/metrics", bearer(testAdmin), 200},
		{"room token reads its room", "GET", "/v1/rooms/hosta", bearer(roomTok), 200},
		{"room token reads its room's history", "GET", "/v1/rooms/hosta/sessions", bearer(roomTok), 200},
		{"room token, another room", "GET", "/v1/rooms/hostb", bearer(roomTok), 403},
		{"room token, another room's history", "GET", "/v1/rooms/hostb/events", bearer(roomTok), 403},
		{"room token, every room", "GET", "/v1/rooms", bearer(roomTok), 403},
		{"room token, metrics", "GET", "/metrics", bearer(roomTok), 403},
		{"room token cannot connect", "PUT", "/v1/rooms/hosta", bearer(roomTok), 403},
		{"expired room token", "GET", "/v1/rooms/hosta", bearer(expired), 401},
		{"forged room token", "GET", "/v1/rooms/hosta", bearer(forged), 401},
		{"wrong admin token", "POST", "/shutdown", bearer(testAdmin + "x"), 401},
		{"another scheme is no token", "GET", "/v1/rooms", "Authorization: Basic " + testRead, 401},
		{"a room stream for another room", "GET", "/v1/events?rooms=hostb", bearer(roomTok), 403},
	}
	for _, tc := range tests {
		code, h, body := s.req(tc.method, tc.path, "", tc.header)
		if code != tc.want {
			t.Errorf("%s: %s %s = %d %v, want %d", tc.name, tc.method, tc.path, code, body, tc.want)
		}
		if code >= 400 && (body["code"] == nil || body["message"] == nil) {
			t.Errorf("%s: error without code and message: %v", tc.name, body)
		}
		if code == 401 && h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}

	// A room token's unfiltered stream carries its room only.
	if code, _, _ := s.req("PUT", "/v1/rooms/hostb", "", bearer(testAdmin)); code != 201 {
		t.Fatal("PUT hostb")
	}
	ws := s.dial("/v1/ws?token=" + roomTok)
	legacy := s.dial("/?token=" + roomTok)
	all := s.dial("/v1/ws?token=" + testRead)
	for _, u := range []string{"hosta", "hostb"} {
		testutil.Eventually(t, wait, func() bool {
			_, _, st := s.req("GET", "/v1/rooms/"+u, "", bearer(testAdmin))
			return st["state"] == "connected"
		}, "%s did not connect", u)
		s.fake.Inject(u, webcast.MethodChat, chatMsg(1, "to "+u))
	}
	all.await(t, "chat", "hostb", map[string]any{"comment": "to hostb"})
	ws.await(t, "chat", "hosta", map[string]any{"comment": "to hosta"})
	legacy.await(t, "chat", "hosta", map[string]any{"comment": "to hosta"})
	for _, c := range []*wsClient{ws, legacy} {
		for _, e := range c.events() {
			if e["username"] != "hosta" {
				t.Fatalf("a hosta token's stream carried %v", e)
			}
		}
	}
	// Resuming another room through since= is refused too.
	if code, _, body := s.req("GET", "/v1/ws?since=hostb:1:0123456789abcdef", "", bearer(roomTok)); code != 400 && code != 403 {
		t.Errorf("room token resuming another room: %d %v", code, body)
	}
}

// TestServer_OriginsAndCORS: browsers from other sites may not open streams or change anything;
// local pages and listed origins may.
func TestServer_OriginsAndCORS(t *testing.T) {
	s := newStack(t, stackOptions{security: Security{AllowedOrigins: []string{"https://overlay.example.com"}}})
	dial := func(origin string) error {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := websocket.Dial(ctx, testutil.HTTPToWS(s.url)+"/v1/ws", &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			c.CloseNow()
			return nil
		}
		if resp != nil {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return err
	}
	for origin, ok := range map[string]bool{
		"":                            true, // not a browser
		"https://overlay.example.com": true, // listed
		"http://localhost:5173":       true, // a local dev page
		"null":                        true, // a file: page, like the original's example client
		s.url:                         true, // our own pages
		"https://evil.example":        false,
		"http://overlay.example.com":  false, // scheme differs
	} {
		if err := dial(origin); (err == nil) != ok {
			t.Errorf("WebSocket from Origin %q: %v, want allowed=%v", origin, err, ok)
		}
	}
	if code, _, body := s.req("POST", "/connect/hosta", "", "Origin: https://evil.example"); code != 403 || body["code"] != "origin_not_allowed" {
		t.Errorf("cross-site POST: %d %v", code, body)
	}
	code, h, _ := s.req("OPTIONS", "/v1/rooms/hosta", "", "Origin: https://overlay.example.com", "Access-Control-Request-Method: PUT")
	if code != 204 || h.Get("Access-Control-Allow-Origin") != "https://overlay.example.com" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", code, h)
	}
	if code, h, _ := s.req("GET", "/v1/rooms", "", "Origin: https://overlay.example.com"); code != 200 || h.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("CORS GET: %d %v", code, h)
	}
	if code, h, _ := s.req("GET", "/v1/rooms", "", "Origin: https://evil.example"); code != 200 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET from an unlisted origin must not be readable by its page: %d %v", code, h)
	}
}

// TestServer_Limits: per-address rate limits and stream caps (behind a proxy, by X-Forwarded-For),
// and the body limit.
func TestServer_Limits(t *testing.T) {
	s := newStack(t, stackOptions{security: Security{TrustProxy: true, RatePerSec: 0.001, RateBurst: 3, MaxStreams: 50, MaxStreamsPerIP: 2}})
	from := func(ip string) string { return "X-Forwarded-For: " + ip }
	for i := range 3 {
		if code, _, _ := s.req("GET", "/v1/rooms", "", from("203.0.113.7")); code != 200 {
			t.Fatalf("request %d within the burst: %d", i, code)
		}
	}
	code, h, body := s.req("GET", "/v1/rooms", "", from("203.0.113.7"))
	if code != 429 || body["code"] != "rate_limited" || h.Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d %v %v", code, h, body)
	}
	if code, _, _ := s.req("GET", "/v1/rooms", "", from("198.51.100.1")); code != 200 {
		t.Fatalf("another address is not limited: %d", code)
	}
	// Two streams per address; the third is refused before the upgrade.
	s2 := newStack(t, stackOptions{security: Security{TrustProxy: true, MaxStreams: 50, MaxStreamsPerIP: 2}})
	var streams []*http.Response
	for range 2 {
		r, _ := http.NewRequest("GET", s2.url+"/v1/events", nil)
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		resp, err := http.DefaultClient.Do(r)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream within the cap: %v %v", resp, err)
		}
		streams = append(streams, resp)
	}
	if code, _, body := s2.req("GET", "/v1/events", "", from("203.0.113.9")); code != 429 || body["code"] != "too_many_clients" {
		t.Fatalf("third stream: %d %v", code, body)
	}
	streams[0].Body.Close()
	testutil.Eventually(t, wait, func() bool {
		r, _ := http.NewRequest("GET", s2.url+"/v1/events", nil)
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200
	}, "a slot was not freed when a stream ended")
	streams[1].Body.Close()

	big := `{"type":"chat","comment":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	if code, _, body := s.req("POST", "/v1/rooms/hosta/simulate", big); code != 413 || body["code"] != "body_too_large" {
		t.Fatalf("huge body: %d %v", code, body)
	}
}

// TestServer_Simulate: an injected event reaches the room's stream flagged simulated, gets a seq,
// and stays out of the summary.
func TestServer_Simulate(t *testing.T) {
	s := newStack(t, stackOptions{})
	ws := s.dial("/v1/ws?rooms=overlaytest&gifts=final")
	for _, body := range []string{
		`{"type":"gift","user":"fan1","giftName":"Lion","diamonds":500,"count":2}`,
		`{"type":"chat","user":"fan2","comment":"hello overlay"}`,
		`{"type":"follow"}`,
	} {
		if code, _, resp := s.req("POST", "/v1/rooms/overlaytest/simulate", body); code != 202 || resp["simulated"] != true {
			t.Fatalf("simulate %s: %d %v", body, code, resp)
		}
	}
	g := ws.await(t, "gift", "overlaytest", map[string]any{"streakState": "final", "totalDiamonds": 1000})
	if g["simulated"] != true || fmt.Sprint(g["seq"]) != "1" {
		t.Fatalf("simulated gift: %v", g)
	}
	ws.await(t, "chat", "overlaytest", map[string]any{"comment": "hello overlay"})
	ws.await(t, "social", "overlaytest", map[string]any{"action": "follow"})

	// The admin token is needed, except in demo mode.
	sec := Security{Policy: &auth.Policy{AdminToken: testAdmin}}
	locked := newStack(t, stackOptions{security: sec})
	if code, _, _ := locked.req("POST", "/v1/rooms/x1/simulate", `{"type":"chat"}`); code != 401 {
		t.Errorf("simulate without the admin token: %d", code)
	}
	demo := newStack(t, stackOptions{security: sec, demo: true})
	if code, _, _ := demo.req("POST", "/v1/rooms/x1/simulate", `{"type":"chat"}`); code != 202 {
		t.Errorf("simulate in demo mode: %d", code)
	}
}

// TestServer_RejectedTokenWhereOpen: a token that is presented but not accepted (wrong,
// malformed, expired, or a room token with room tokens off) is a 401 invalid_token even on routes
// that need none, so an overlay set up with a stale token fails loudly instead of working by
// accident. Public routes (liveness, the dashboard page) ignore tokens.
func TestServer_RejectedTokenWhereOpen(t *testing.T) {
	readsOpen := newStack(t, stackOptions{maxRooms: 4, security: Security{Policy: &auth.Policy{AdminToken: testAdmin}}})
	adminOpen := newStack(t, stackOptions{maxRooms: 4, security: Security{Policy: &auth.Policy{ReadToken: testRead, Open: true}}})
	roomTok := auth.Mint([]byte(testSecret), "hosta", time.Hour, time.Now())
	upgrade := []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}
	tests := []struct {
		name         string
		s            *stack
		method, path string
		headers      []string
		want         int
	}{
		{"open reads, no token", readsOpen, "GET", "/v1/rooms", nil, 200},
		{"open reads, wrong token in the query", readsOpen, "GET", "/v1/rooms?token=not-a-token", nil, 401},
		{"open reads, wrong bearer", readsOpen, "GET", "/v1/rooms", []string{bearer("not-a-token")}, 401},
		{"open reads, room token without a secret", readsOpen, "GET", "/v1/rooms/hosta", []string{bearer(roomTok)}, 401},
		{"open reads, malformed room token", readsOpen, "GET", "/status", []string{bearer("v1.x.y")}, 401},
		{"open reads, wrong token on SSE", readsOpen, "GET", "/v1/events?token=not-a-token", nil, 401},
		{"open reads, wrong token on a WebSocket", readsOpen, "GET", "/v1/ws?token=not-a-token", upgrade, 401},
		{"open reads, wrong token on the original WebSocket", readsOpen, "GET", "/?token=not-a-token", upgrade, 401},
		{"open reads, the admin token", readsOpen, "GET", "/v1/rooms", []string{bearer(testAdmin)}, 200},
		{"liveness ignores tokens", readsOpen, "GET", "/healthz?token=not-a-token", nil, 200},
		{"the dashboard page ignores tokens", readsOpen, "GET", "/?token=not-a-token", nil, 200},
		{"open admin, no token", adminOpen, "GET", "/v1/rooms", []string{bearer(testRead)}, 200},
		{"open admin, wrong token", adminOpen, "PUT", "/v1/rooms/hosta", []string{bearer("not-a-token")}, 401},
		{"open admin, the read token", adminOpen, "PUT", "/v1/rooms/hosta", []string{bearer(testRead)}, 201},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := tc.s.req(tc.method, tc.path, "", tc.headers...)
			if code != tc.want {
				t.Fatalf("%s %s = %d %v, want %d", tc.method, tc.path, code, body, tc.want)
			}
			if code != 401 {
				return
			}
			if body["code"] != "invalid_token" || !strings.Contains(fmt.Sprint(body["message"]), "not accepted") {
				t.Errorf("body %v, want code invalid_token saying the token was not accepted", body)
			}
			if !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
			}
			if strings.Contains(fmt.Sprint(body), "not-a-token") || strings.Contains(fmt.Sprint(body), roomTok) {
				t.Errorf("the answer echoes the token: %v", body)
			}
		})
	}
}

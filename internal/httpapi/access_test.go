package httpapi

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tiktok-live-server/tiktok-live-server/internal/auth"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// wantRouteAccess is the access every registered route declares. The levels are what the guard
// inferred from the patterns before routes declared them; the refinements are the patterns it
// singled out then. testdata/route_access.golden pins the answers that follow from both.
var wantRouteAccess = map[string]string{
	"GET /health":                          "read everyRoom",
	"GET /test/{username}":                 "read",
	"POST /connect/{username}":             "admin",
	"DELETE /connect/{username}":           "admin",
	"GET /status/{username}":               "read",
	"GET /status":                          "read everyRoom",
	"POST /shutdown":                       "admin",
	"GET /":                                "read pageUnlessUpgrade",
	"GET /v1/rooms":                        "read everyRoom",
	"PUT /v1/rooms/{username}":             "admin",
	"GET /v1/rooms/{username}":             "read",
	"DELETE /v1/rooms/{username}":          "admin",
	"GET /v1/ws":                           "read",
	"GET /v1/events":                       "read sameOriginStream",
	"GET /v1/rooms/{username}/events":      "read",
	"GET /v1/rooms/{username}/sessions":    "read",
	"GET /v1/rooms/{username}/leaderboard": "read",
	"GET /v1/sessions/{id}":                "read",
	"GET /v1/sessions/{id}/events":         "read",
	"GET /v1/sessions/{id}/summary":        "read",
	"GET /v1/sessions/{id}/leaderboard":    "read",
	"GET /v1/sessions/{id}/capture":        "read",
	"POST /v1/rooms/{username}/simulate":   "admin openInDemo",
	// Webhooks: admin only, listing included (an endpoint's URL may hold its receiver's token).
	"POST /v1/webhooks":                              "admin",
	"GET /v1/webhooks":                               "admin",
	"GET /v1/webhooks/{id}":                          "admin",
	"PATCH /v1/webhooks/{id}":                        "admin",
	"DELETE /v1/webhooks/{id}":                       "admin",
	"POST /v1/webhooks/{id}/test":                    "admin",
	"POST /v1/webhooks/{id}/rotate":                  "admin",
	"GET /v1/webhooks/{id}/deliveries":               "admin",
	"POST /v1/webhooks/{id}/deliveries/{did}/resend": "admin",
	"POST /v1/webhooks/{id}/recover":                 "admin",
	"GET /v1/cluster":                                "read everyRoom",
	"POST /v1/cluster/drain":                         "admin",
	"GET /healthz":                                   "public",
	"GET /readyz":                                    "public",
	"GET /metrics":                                   "read everyRoom",
	"GET /openapi.json":                              "public",
}

// declared describes a route's declared access as wantRouteAccess does.
func declared(rt Route) string {
	d := map[access]string{accessUndeclared: "undeclared", accessPublic: "public", accessRead: "read", accessAdmin: "admin"}[rt.access]
	for _, f := range []struct {
		flag routeFlag
		name string
	}{{everyRoom, "everyRoom"}, {pageUnlessUpgrade, "pageUnlessUpgrade"}, {sameOriginStream, "sameOriginStream"}, {openInDemo, "openInDemo"}} {
		if rt.has(f.flag) {
			d += " " + f.name
		}
	}
	return d
}

// TestServer_RouteAccess: every registered route declares an access level, the one the table gives
// it, and the table names no route that is not registered.
func TestServer_RouteAccess(t *testing.T) {
	s := New(Config{})
	seen := map[string]bool{}
	for _, r := range s.Routes() {
		key := r.Method + " " + r.Pattern
		seen[key] = true
		got := declared(r)
		if r.access == accessUndeclared {
			t.Errorf("%s declares no access level: register it with public, read or admin", key)
		}
		if want, ok := wantRouteAccess[key]; !ok {
			t.Errorf("%s is registered but not in wantRouteAccess (declared %s)", key, got)
		} else if got != want {
			t.Errorf("%s: declared %s, want %s", key, got, want)
		}
	}
	for key := range wantRouteAccess {
		if !seen[key] {
			t.Errorf("wantRouteAccess has %s, which is not registered", key)
		}
	}
}

// TestServer_UndeclaredRoute: a route registered without an access level refuses every request
// with a JSON 500, whatever the security set-up and the token, and its handler never runs.
func TestServer_UndeclaredRoute(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		header string
	}{
		{"everything open", Config{}, ""},
		{"tokens, admin token", Config{Security: Security{Policy: &auth.Policy{AdminToken: testAdmin}}}, bearer(testAdmin)},
		{"tokens, no token", Config{Security: Security{Policy: &auth.Policy{AdminToken: testAdmin}}}, ""},
		{"demo", Config{Demo: true}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.cfg)
			ran := false
			s.routes = append(s.routes, Route{Method: "GET", Pattern: "/v1/undeclared", handler: func(w http.ResponseWriter, r *http.Request) {
				ran = true
			}})
			req := httptest.NewRequest("GET", "/v1/undeclared", nil)
			req.Host = "127.0.0.1:8080"
			if tc.header != "" {
				k, v, _ := strings.Cut(tc.header, ": ")
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.buildMux().ServeHTTP(rec, req)
			var body errorBody
			json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusInternalServerError || body.Code != "access_undeclared" || body.Message == "" || ran {
				t.Errorf("undeclared route: %d %+v, handler ran %v; want 500 access_undeclared, handler not run", rec.Code, body, ran)
			}
		})
	}
}

// TestServer_DeclareRoute: a declaration must be "METHOD /pattern".
func TestServer_DeclareRoute(t *testing.T) {
	for _, route := range []string{"/health", "GET", "GET health", " /health", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("read(%q) did not panic", route)
				}
			}()
			read(route, func(http.ResponseWriter, *http.Request) {})
		}()
	}
	if rt := read("GET /v1/x/{id}", nil, everyRoom); rt.Method != "GET" || rt.Pattern != "/v1/x/{id}" || declared(rt) != "read everyRoom" {
		t.Errorf("read(GET /v1/x/{id}) = %+v", rt)
	}
}

var updateRouteAccess = flag.Bool("update-route-access", false, "rewrite testdata/route_access.golden from the current guard")

// TestServer_GuardMatrix: what the guard answers, for every registered route, under each security
// set-up and for each kind of client, is what testdata/route_access.golden recorded. The golden file
// was recorded when access was still inferred from the route patterns, so it pins that behaviour.
// The handlers are replaced by one that names the grant it was given, so only the guard answers.
func TestServer_GuardMatrix(t *testing.T) {
	now := time.Now()
	secret := []byte(testSecret)
	tokens := func() *auth.Policy {
		return &auth.Policy{AdminToken: testAdmin, ReadToken: testRead, TokenSecret: secret}
	}
	setups := []struct {
		name string
		cfg  Config
	}{
		{"tokens", Config{Security: Security{Policy: tokens()}}},
		{"tokens-demo", Config{Security: Security{Policy: tokens()}, Demo: true}},
		{"reads-open", Config{Security: Security{Policy: &auth.Policy{AdminToken: testAdmin}}}},
		{"no-policy", Config{}},
	}
	const evil = "Origin: https://evil.example"
	upgrade := []string{"Connection: Upgrade", "Upgrade: websocket"}
	clients := []struct {
		name    string
		headers []string
	}{
		{"anonymous", nil},
		{"read", []string{bearer(testRead)}},
		{"room-own", []string{bearer(auth.Mint(secret, "alice", time.Hour, now))}},
		{"room-other", []string{bearer(auth.Mint(secret, "bob", time.Hour, now))}},
		{"admin", []string{bearer(testAdmin)}},
		{"bad-token", []string{bearer("not-a-token")}},
		{"admin-local-origin", []string{bearer(testAdmin), "Origin: http://localhost:3000"}},
		{"admin-foreign-origin", []string{bearer(testAdmin), evil}},
		{"read-foreign-origin", []string{bearer(testRead), evil}},
		{"anonymous-upgrade", upgrade},
		{"read-upgrade-foreign-origin", append([]string{bearer(testRead), evil}, upgrade...)},
	}
	var out strings.Builder
	// Each request gets a server of its own, so no answer depends on the requests before it (the
	// inferring guard kept the dashboard page's public access for the WebSocket requests after it).
	stubbed := func(cfg Config) (*Server, http.Handler) {
		s := New(cfg)
		for i := range s.routes {
			s.routes[i].handler = func(w http.ResponseWriter, r *http.Request) {
				g := grantOf(r)
				writeJSON(w, http.StatusOK, map[string]any{"code": fmt.Sprintf("passed(level=%d room=%q)", g.Level, g.Room)})
			}
		}
		return s, s.buildMux()
	}
	for _, setup := range setups {
		s, _ := stubbed(setup.cfg)
		for _, rt := range s.Routes() {
			path := strings.NewReplacer("{username}", "alice", "{id}", "1", "{did}", "msg_1").Replace(rt.Pattern)
			for _, c := range clients {
				_, h := stubbed(setup.cfg)
				req := httptest.NewRequest(rt.Method, path, nil)
				req.Host = "127.0.0.1:8080"
				req.RemoteAddr = "127.0.0.1:40000"
				for _, hd := range c.headers {
					k, v, _ := strings.Cut(hd, ": ")
					req.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				var body errorBody
				json.Unmarshal(rec.Body.Bytes(), &body)
				cell := fmt.Sprintf("%d %s", rec.Code, body.Code)
				if rec.Code >= 400 {
					cell += ": " + body.Message
				}
				if rec.Code == http.StatusUnauthorized {
					cell += " [" + rec.Header().Get("WWW-Authenticate") + "]"
				}
				fmt.Fprintf(&out, "%s | %s %s | %s => %s\n", setup.name, rt.Method, rt.Pattern, c.name, cell)
			}
		}
	}
	golden := filepath.Join("testdata", "route_access.golden")
	if *updateRouteAccess {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (record it with -update-route-access)", err)
	}
	gotLines, wantLines := strings.Split(out.String(), "\n"), strings.Split(string(want), "\n")
	for _, l := range gotLines {
		if !slices.Contains(wantLines, l) {
			t.Errorf("guard answers, not in the golden file:\n  %s", l)
		}
	}
	for _, l := range wantLines {
		if !slices.Contains(gotLines, l) {
			t.Errorf("golden file has, guard no longer answers:\n  %s", l)
		}
	}
}

// TestServer_DashboardPageKeepsWebSocketGuarded: loading the dashboard page (GET / without an
// upgrade, public) does not open the legacy WebSocket on the same path to clients without a token.
func TestServer_DashboardPageKeepsWebSocketGuarded(t *testing.T) {
	s := securedStack(t, Security{})
	if code, _, body := s.req("GET", "/", ""); code != http.StatusOK {
		t.Fatalf("GET / = %d %v, want 200 (the page is public)", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, testutil.HTTPToWS(s.url)+"/", nil)
	if err == nil {
		c.CloseNow()
		t.Fatal("a WebSocket at / without a token was accepted after the page was loaded")
	}
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WebSocket at / without a token: %v (response %v), want 401", err, resp)
	}
}

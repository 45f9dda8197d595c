package httpapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/auth"
	"github.com/tiktok-live-server/tiktok-live-server/internal/feed"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/web"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// hostileRow is one malformed or hostile request and the answer it must get: a 4xx status with a
// JSON error body holding code and message.
type hostileRow struct {
	name    string
	method  string
	path    string   // sent as is (escapes kept)
	headers []string // "Name: value"; "Host: x" sets the request's host
	body    string
	status  int
	code    string
}

// hostileServer serves the stack's API the way the real program does (internal/cli/serve.go): the
// dashboard and overlays under /assets/ and /overlay/, 16 KiB of headers sent within 10 s.
func hostileServer(t *testing.T, s *stack) string {
	t.Helper()
	cfg := s.api.cfg
	cfg.Web = web.Handler()
	api := New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	go srv.Serve(ln)
	t.Cleanup(func() { api.BeginShutdown(); srv.Close() })
	return "http://" + ln.Addr().String()
}

// noRedirects is a client that shows the server's own answer, redirects included.
var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       wait,
}

func (row hostileRow) send(t *testing.T, base string) (int, http.Header, []byte) {
	t.Helper()
	var body io.Reader
	if row.body != "" {
		body = strings.NewReader(row.body)
	}
	r, err := http.NewRequest(row.method, base+row.path, body)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	for _, h := range row.headers {
		k, v, _ := strings.Cut(h, ": ")
		if strings.EqualFold(k, "Host") {
			r.Host = v
			continue
		}
		r.Header.Add(k, v)
	}
	resp, err := noRedirects.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", row.method, row.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, b
}

// TestServer_HostileRequests: malformed and hostile requests against a server with every
// protection on get a 4xx with a JSON error (code and message), never a 5xx, a plain-text error or
// a crash; afterwards the server is healthy and a normal flow works.
func TestServer_HostileRequests(t *testing.T) {
	s := securedStack(t, Security{
		TrustProxy: true, RatePerSec: 10_000, RateBurst: 10_000,
		AllowedOrigins: []string{"https://overlay.example.com"},
	})
	base := hostileServer(t, s)

	now := time.Now()
	secret := []byte(testSecret)
	roomTok := auth.Mint(secret, "hosta", time.Hour, now)
	expired := auth.Mint(secret, "hosta", time.Second, now.Add(-time.Hour))
	forged := auth.Mint([]byte("another-secret-0123456789"), "hosta", time.Hour, now)
	// A genuine token with one character of its signature changed.
	i := len(roomTok) - 10
	tampered := roomTok[:i] + map[bool]string{true: "B", false: "A"}[roomTok[i] == 'A'] + roomTok[i+1:]

	admin, read := bearer(testAdmin), bearer(testRead)
	evil := "Origin: https://evil.example"
	upgrade := []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}
	epoch := "0123456789abcdef"
	manyRooms := make([]string, feed.MaxResumeRooms+1)
	for i := range manyRooms {
		manyRooms[i] = fmt.Sprintf("room%d:1:%s", i, epoch)
	}
	sim := "/v1/rooms/hosta/simulate"
	simRow := func(name, body string) hostileRow {
		return hostileRow{name: "simulate: " + name, method: "POST", path: sim, headers: []string{admin, "Content-Type: application/json"},
			body: body, status: 400, code: "bad_body"}
	}
	deepArrays := strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000)
	deepObjects := strings.Repeat(`{"a":`, 10_001) + "1" + strings.Repeat("}", 10_001)
	hugeArray := `{"type":"chat","giftId":[` + strings.TrimSuffix(strings.Repeat("1,", 30_000), ",") + `]}`

	rows := []hostileRow{
		// Methods.
		{name: "PATCH on a v1 room", method: "PATCH", path: "/v1/rooms/hosta", headers: []string{admin}, status: 405, code: "method_not_allowed"},
		{name: "TRACE on v1 rooms", method: "TRACE", path: "/v1/rooms", headers: []string{admin}, status: 405, code: "method_not_allowed"},
		{name: "OPTIONS without preflight", method: "OPTIONS", path: "/v1/rooms", status: 405, code: "method_not_allowed"},
		{name: "OPTIONS from an allowed origin without Access-Control-Request-Method", method: "OPTIONS", path: "/v1/rooms/hosta",
			headers: []string{"Origin: https://overlay.example.com"}, status: 405, code: "method_not_allowed"},
		{name: "preflight from another site", method: "OPTIONS", path: "/v1/rooms/hosta",
			headers: []string{evil, "Access-Control-Request-Method: PUT"}, status: 403, code: "origin_not_allowed"},
		{name: "OPTIONS on a legacy route", method: "OPTIONS", path: "/health", status: 404, code: "not_found"},
		{name: "PATCH on a legacy route", method: "PATCH", path: "/connect/hosta", headers: []string{admin}, status: 404, code: "not_found"},
		{name: "GET /shutdown", method: "GET", path: "/shutdown", headers: []string{admin}, status: 404, code: "not_found"},
		{name: "DELETE /healthz", method: "DELETE", path: "/healthz", status: 405, code: "method_not_allowed"},
		{name: "POST to the SSE stream", method: "POST", path: "/v1/events", headers: []string{admin}, status: 405, code: "method_not_allowed"},
		{name: "an invented method", method: "BREW", path: "/v1/rooms", headers: []string{admin}, status: 405, code: "method_not_allowed"},
		{name: "PUT on metrics", method: "PUT", path: "/metrics", headers: []string{admin}, status: 405, code: "method_not_allowed"},

		// Simulate bodies.
		simRow("not JSON", "type=chat"),
		simRow("empty", ""),
		simRow("null", "null"),
		simRow("an array", `[{"type":"chat"}]`),
		simRow("type is a number", `{"type":5}`),
		simRow("count is a string", `{"type":"gift","count":"3"}`),
		simRow("count is fractional", `{"type":"gift","count":1.5}`),
		simRow("count overflows", `{"type":"gift","count":1e309}`),
		simRow("count too big", `{"type":"gift","count":10001}`),
		simRow("diamonds negative", `{"type":"gift","diamonds":-1}`),
		simRow("diamonds too big", `{"type":"gift","diamonds":1000001}`),
		simRow("giftId negative", `{"type":"gift","giftId":-5}`),
		simRow("unknown type", `{"type":"raid"}`),
		simRow("unknown field", `{"type":"chat","isAdmin":true}`),
		simRow("duplicate object", `{"type":"chat"}{"type":"gift"}`),
		simRow("trailing garbage", `{"type":"chat"} garbage`),
		{name: "simulate: a trailing brace", method: "POST", path: sim, headers: []string{admin}, body: `{"type":"chat"}}`, status: 400, code: "bad_body"},
		simRow("user too long", `{"type":"chat","user":"`+strings.Repeat("u", 25)+`"}`),
		simRow("comment too long", `{"type":"chat","comment":"`+strings.Repeat("c", 501)+`"}`),
		simRow("nested huge array", hugeArray),
		simRow("deeply nested arrays", deepArrays),
		simRow("deeply nested objects", deepObjects),
		simRow("an unterminated string", `{"type":"chat","comment":"`),
		{name: "simulate: a huge body", method: "POST", path: sim, headers: []string{admin},
			body: `{"type":"chat","comment":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, status: 413, code: "body_too_large"},
		{name: "simulate: without a token", method: "POST", path: sim, body: `{"type":"chat"}`, status: 401, code: "unauthorized"},
		{name: "simulate: cross-site", method: "POST", path: sim, headers: []string{admin, evil}, body: `{"type":"chat"}`, status: 403, code: "origin_not_allowed"},

		// Paths.
		{name: "dot-dot in the path", method: "GET", path: "/v1/../../etc/passwd", headers: []string{read}, status: 400, code: "bad_path"},
		{name: "escaped dot-dot", method: "GET", path: "/%2e%2e/%2e%2e/etc/passwd", headers: []string{read}, status: 400, code: "bad_path"},
		{name: "overlay traversal", method: "GET", path: "/overlay/../../etc/passwd", status: 400, code: "bad_path"},
		{name: "assets traversal with an escaped slash", method: "GET", path: "/assets/..%2f..%2fetc%2fpasswd", status: 400, code: "bad_path"},
		{name: "an unknown asset", method: "GET", path: "/assets/nothing.js", status: 404, code: "not_found"},
		{name: "an unknown v1 path", method: "GET", path: "/v1/nothing/here", headers: []string{read}, status: 404, code: "not_found"},

		// Usernames.
		{name: "username too short", method: "GET", path: "/v1/rooms/a", headers: []string{read}, status: 400, code: "bad_username"},
		{name: "username too long", method: "GET", path: "/v1/rooms/" + strings.Repeat("n", 25), headers: []string{read}, status: 400, code: "bad_username"},
		{name: "username with bad characters", method: "PUT", path: "/v1/rooms/bad%21name%3B", headers: []string{admin}, status: 400, code: "bad_username"},
		{name: "username in unicode", method: "POST", path: "/connect/%C3%BCn%C3%AFc%C3%B6de", headers: []string{admin}, status: 400, code: "bad_username"},
		{name: "username with NUL", method: "GET", path: "/v1/rooms/host%00a", headers: []string{read}, status: 400, code: "bad_username"},
		{name: "username with CRLF", method: "GET", path: "/status/host%0d%0aSet-Cookie:%20x=1", headers: []string{read}, status: 400, code: "bad_username"},
		{name: "username with an escaped slash", method: "GET", path: "/v1/rooms/..%2fhosta/events", headers: []string{read}, status: 400, code: "bad_path"},
		{name: "username, history", method: "GET", path: "/v1/rooms/%3Cscript%3E/events", headers: []string{read}, status: 400, code: "bad_username"},
		{name: "username without a token", method: "GET", path: "/v1/rooms/a", status: 401, code: "unauthorized"},

		// Tokens.
		{name: "malformed token", method: "GET", path: "/v1/rooms/hosta", headers: []string{bearer("v1.!!!.???")}, status: 401, code: "invalid_token"},
		{name: "expired token", method: "GET", path: "/v1/rooms/hosta", headers: []string{bearer(expired)}, status: 401, code: "invalid_token"},
		{name: "forged token", method: "GET", path: "/v1/rooms/hosta", headers: []string{bearer(forged)}, status: 401, code: "invalid_token"},
		{name: "tampered token", method: "GET", path: "/v1/rooms/hosta", headers: []string{bearer(tampered)}, status: 401, code: "invalid_token"},
		{name: "token for another room", method: "GET", path: "/v1/rooms/hostb", headers: []string{bearer(roomTok)}, status: 403, code: "forbidden"},
		{name: "room token on another room's stream", method: "GET", path: "/v1/events?rooms=hostb", headers: []string{bearer(roomTok)}, status: 403, code: "forbidden"},
		{name: "room token resuming another room", method: "GET", path: "/v1/events?since=hostb:1:" + epoch, headers: []string{bearer(roomTok)}, status: 400, code: "bad_resume"},
		{name: "wrong scheme", method: "GET", path: "/v1/rooms", headers: []string{"Authorization: Basic " + testRead}, status: 401, code: "unauthorized"},
		{name: "enormous token", method: "GET", path: "/v1/rooms", headers: []string{bearer("v1." + strings.Repeat("A", 12<<10))}, status: 401, code: "invalid_token"},
		{name: "enormous token in the query", method: "GET", path: "/v1/rooms?token=" + strings.Repeat("z", 12<<10), status: 401, code: "invalid_token"},
		{name: "the admin token with a suffix", method: "POST", path: "/shutdown", headers: []string{bearer(testAdmin + "x")}, status: 401, code: "invalid_token"},
		{name: "the admin token's prefix", method: "POST", path: "/shutdown", headers: []string{bearer(testAdmin[:len(testAdmin)-1])}, status: 401, code: "invalid_token"},
		{name: "read token on an admin route", method: "DELETE", path: "/v1/rooms/hosta", headers: []string{read}, status: 403, code: "forbidden"},
		{name: "room token on metrics", method: "GET", path: "/metrics", headers: []string{bearer(roomTok)}, status: 403, code: "forbidden"},

		// History queries.
		{name: "since not a number or time", method: "GET", path: "/v1/rooms/hosta/events?since=yesterday", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "since negative", method: "GET", path: "/v1/rooms/hosta/events?since=-1", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "since overflows", method: "GET", path: "/v1/rooms/hosta/events?since=99999999999999999999", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "until zero", method: "GET", path: "/v1/rooms/hosta/events?until=0", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "until a bad time", method: "GET", path: "/v1/rooms/hosta/events?until=2026-13-45T99:00:00Z", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "limit zero", method: "GET", path: "/v1/rooms/hosta/events?limit=0", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "limit too big", method: "GET", path: "/v1/rooms/hosta/events?limit=1000001", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "limit in exponent form", method: "GET", path: "/v1/rooms/hosta/events?limit=1e3", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "cursor negative", method: "GET", path: "/v1/rooms/hosta/events?cursor=-7", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "cursor not a number", method: "GET", path: "/v1/rooms/hosta/events?cursor=abc", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "epoch upper case", method: "GET", path: "/v1/rooms/hosta/events?epoch=0123456789ABCDEF", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "epoch too short", method: "GET", path: "/v1/rooms/hosta/events?epoch=0123", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "format unknown", method: "GET", path: "/v1/rooms/hosta/events?format=xml", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "types with bad characters", method: "GET", path: "/v1/rooms/hosta/events?types=chat,%3Cscript%3E", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "duplicated limit, the first bad", method: "GET", path: "/v1/rooms/hosta/events?limit=abc&limit=10", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "a huge query string", method: "GET", path: "/v1/rooms/hosta/events?since=" + strings.Repeat("9", 12<<10), headers: []string{read}, status: 400, code: "bad_query"},
		{name: "thousands of duplicated types", method: "GET", path: "/v1/rooms/hosta/events?" + strings.Repeat("types=chat&", 1000) + "types=bad-type", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "sessions before", method: "GET", path: "/v1/rooms/hosta/sessions?before=abc", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "sessions limit", method: "GET", path: "/v1/rooms/hosta/sessions?limit=100000", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "leaderboard by", method: "GET", path: "/v1/rooms/hosta/leaderboard?by=money", headers: []string{read}, status: 400, code: "bad_query"},
		{name: "leaderboard limit", method: "GET", path: "/v1/rooms/hosta/leaderboard?limit=-1", headers: []string{read}, status: 400, code: "bad_query"},

		// Stream filters and resume points.
		{name: "rooms with bad characters", method: "GET", path: "/v1/events?rooms=a%20b", headers: []string{read}, status: 400, code: "bad_filter"},
		{name: "rooms too long", method: "GET", path: "/v1/events?rooms=" + strings.Repeat("r", 65), headers: []string{read}, status: 400, code: "bad_filter"},
		{name: "gifts unknown", method: "GET", path: "/v1/events?gifts=sometimes", headers: []string{read}, status: 400, code: "bad_filter"},
		{name: "gifts both ways", method: "GET", path: "/v1/ws?gifts=final&gifts=all", headers: []string{read}, status: 400, code: "bad_filter"},
		{name: "types too long", method: "GET", path: "/v1/ws?types=" + strings.Repeat("t", 33), headers: []string{read}, status: 400, code: "bad_filter"},
		{name: "since not a number", method: "GET", path: "/v1/events?rooms=hosta&since=abc&epoch=" + epoch, headers: []string{read}, status: 400, code: "bad_resume"},
		{name: "epoch without since", method: "GET", path: "/v1/events?epoch=" + epoch, headers: []string{read}, status: 400, code: "bad_resume"},
		{name: "since seq without epoch", method: "GET", path: "/v1/ws?rooms=hosta&since=5", headers: []string{read}, status: 400, code: "bad_resume"},
		{name: "since seq for several rooms", method: "GET", path: "/v1/ws?since=5&epoch=" + epoch, headers: []string{read}, status: 400, code: "bad_resume"},
		{name: "since items malformed", method: "GET", path: "/v1/events?since=a:b:c", headers: []string{read}, status: 400, code: "bad_resume"},
		{name: "since item negative", method: "GET", path: "/v1/events?since=hosta:-1:" + epoch, headers: []string{read}, status: 400, code: "bad_resume"},
		{name: "since names a room twice", method: "GET", path: "/v1/events?since=hosta:1:" + epoch + ",hosta:2:" + epoch, headers: []string{read}, status: 400, code: "bad_resume"},
		{name: "since names too many rooms", method: "GET", path: "/v1/events?since=" + strings.Join(manyRooms, ","), headers: []string{read}, status: 400, code: "bad_resume"},
		{name: "since outside rooms", method: "GET", path: "/v1/events?rooms=hosta&since=hostb:1:" + epoch, headers: []string{read}, status: 400, code: "bad_resume"},
		{name: "Last-Event-ID garbage", method: "GET", path: "/v1/events", headers: []string{read, "Last-Event-ID: ../../etc/passwd"}, status: 400, code: "bad_resume"},
		{name: "Last-Event-ID with a huge seq", method: "GET", path: "/v1/events", headers: []string{read, "Last-Event-ID: hosta:99999999999999999999:" + epoch}, status: 400, code: "bad_resume"},

		// Session ids.
		{name: "session zero", method: "GET", path: "/v1/sessions/0", headers: []string{read}, status: 400, code: "bad_session"},
		{name: "session negative", method: "GET", path: "/v1/sessions/-3/events", headers: []string{read}, status: 400, code: "bad_session"},
		{name: "session overflows", method: "GET", path: "/v1/sessions/99999999999999999999/summary", headers: []string{read}, status: 400, code: "bad_session"},
		{name: "session not a number", method: "GET", path: "/v1/sessions/abc/leaderboard", headers: []string{read}, status: 400, code: "bad_session"},
		{name: "session unknown", method: "GET", path: "/v1/sessions/9223372036854775807/capture", headers: []string{read}, status: 404, code: "not_found"},

		// WebSocket upgrades.
		{name: "WebSocket from another site", method: "GET", path: "/v1/ws", headers: append([]string{read, evil}, upgrade...), status: 403, code: "origin_not_allowed"},
		{name: "legacy WebSocket from another site", method: "GET", path: "/", headers: append([]string{read, evil}, upgrade...), status: 403, code: "origin_not_allowed"},
		{name: "WebSocket from another scheme", method: "GET", path: "/v1/ws", headers: append([]string{read, "Origin: http://overlay.example.com"}, upgrade...), status: 403, code: "origin_not_allowed"},
		{name: "WebSocket from a lookalike host", method: "GET", path: "/v1/ws", headers: append([]string{read, "Origin: https://overlay.example.com.evil.example"}, upgrade...), status: 403, code: "origin_not_allowed"},
		{name: "WebSocket without a token", method: "GET", path: "/v1/ws", headers: upgrade, status: 401, code: "unauthorized"},
		{name: "WebSocket with a bad filter", method: "GET", path: "/v1/ws?types=a-b", headers: append([]string{read}, upgrade...), status: 400, code: "bad_filter"},
		{name: "upgrade headers on a REST route from another site", method: "GET", path: "/v1/rooms", headers: append([]string{read, evil}, upgrade...), status: 403, code: "origin_not_allowed"},
		{name: "upgrade headers on liveness from another site", method: "GET", path: "/healthz", headers: append([]string{evil}, upgrade...), status: 403, code: "origin_not_allowed"},
		{name: "upgrade headers on an admin route", method: "POST", path: "/connect/hosta", headers: upgrade, status: 401, code: "unauthorized"},
		{name: "SSE from another site", method: "GET", path: "/v1/events", headers: []string{read, evil}, status: 403, code: "origin_not_allowed"},
		{name: "WebSocket with a broken handshake", method: "GET", path: "/v1/ws", headers: []string{read, "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 7"},
			status: 400, code: "bad_handshake"},
		{name: "the WebSocket route without an upgrade", method: "GET", path: "/v1/ws", headers: []string{read}, status: 400, code: "bad_handshake"},

		// Header injection and spoofing.
		{name: "a forged X-Forwarded-For does not grant loopback", method: "POST", path: "/shutdown", headers: []string{"X-Forwarded-For: 127.0.0.1"}, status: 401, code: "unauthorized"},
		{name: "garbage X-Forwarded-For", method: "GET", path: "/v1/rooms", headers: []string{"X-Forwarded-For: <script>, ::ffff:999.1.1.1, ,,"}, status: 401, code: "unauthorized"},
		{name: "the read token in X-Api-Key on shutdown", method: "POST", path: "/shutdown", headers: []string{"X-Api-Key: " + testRead}, status: 403, code: "forbidden"},
		{name: "CRLF in the token parameter", method: "GET", path: "/v1/rooms?token=" + testRead + "%0d%0aX-Injected:%201", status: 401, code: "invalid_token"},
		{name: "Host and Origin of another site agree (DNS rebinding)", method: "POST", path: "/connect/hosta",
			headers: []string{"Host: rebind.example", "Origin: http://rebind.example"}, status: 401, code: "unauthorized"},
		{name: "cross-site form post", method: "POST", path: "/connect/hosta", headers: []string{admin, evil, "Content-Type: application/x-www-form-urlencoded"},
			body: "a=1", status: 403, code: "origin_not_allowed"},
		{name: "an origin that is not an origin", method: "PUT", path: "/v1/rooms/hosta", headers: []string{admin, "Origin: javascript:alert(1)"}, status: 403, code: "origin_not_allowed"},
	}

	if len(rows) < 60 {
		t.Fatalf("%d rows; the table must hold at least 60", len(rows))
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			code, h, b := row.send(t, base)
			checkJSONError(t, fmt.Sprintf("%s %s", row.method, clip(row.path)), code, h, b, row.status, row.code)
		})
	}

	// A few answers come from net/http itself before any handler runs (the request cannot be
	// parsed, or breaks a limit of http.Server); no Go client sends them, so they go over raw TCP
	// and only the status line is checked: its bodies are plain text by net/http's design.
	rawRows := []struct {
		name, request string
		status        int
	}{
		{"a malformed request line", "GARBAGE\r\n\r\n", 400},
		{"a method with bad characters", "G@T /v1/rooms HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"no Host in HTTP/1.1", "GET /v1/rooms HTTP/1.1\r\n\r\n", 400},
		{"a header name with a space", "GET /v1/rooms HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400},
		// net/http joins an obsolete folded line to the header before it (RFC 9112 §5.2 allows that):
		// the key becomes "a <read token>", which grants nothing, and our handler answers.
		{"a folded header (injection by continuation)", "GET /v1/rooms HTTP/1.1\r\nHost: x\r\nX-Api-Key: a\r\n " + testRead + "\r\n\r\n", 401},
		{"a bare CR in a header value", "GET /v1/rooms HTTP/1.1\r\nHost: x\r\nX-Api-Key: a\rSet-Cookie: b\r\n\r\n", 400},
		{"a non-numeric Content-Length", "POST " + sim + " HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
		{"a negative Content-Length", "POST " + sim + " HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
		{"two Content-Lengths that differ", "POST " + sim + " HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"headers over 16 KiB", "GET /v1/rooms HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 20<<10) + "\r\n\r\n", 431},
		{"a request line over 16 KiB", "GET /v1/rooms?x=" + strings.Repeat("q", 20<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n", 431},
	}
	for _, row := range rawRows {
		t.Run("raw/"+row.name, func(t *testing.T) {
			if got := rawStatus(t, base, row.request); got != row.status {
				t.Errorf("status %d, want %d", got, row.status)
			}
		})
	}

	// An absurd Content-Length with a short body: the server must not wait for bytes that will
	// never come before refusing a body it would refuse anyway.
	t.Run("raw/an absurd Content-Length", func(t *testing.T) {
		req := "POST " + sim + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testAdmin + "\r\nContent-Length: 99999999999999\r\n\r\n{}"
		if got := rawStatus(t, base, req); got != 413 {
			t.Errorf("status %d, want 413", got)
		}
	})

	// Whatever form the answer takes, a traversal never reaches a file: followed to the end, every
	// one is a 404 with nothing of the file system in it.
	for _, p := range []string{"/v1/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/overlay/../../etc/passwd",
		"/assets/..%2f..%2fetc%2fpasswd", "/overlay/..%2f..%2f..%2fetc%2fpasswd", "/assets/%2e%2e/%2e%2e/go.mod"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if (resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest) || strings.Contains(string(b), "root:") || strings.Contains(string(b), "module ") {
			t.Errorf("GET %s, redirects followed: %d %s", p, resp.StatusCode, clip(string(b)))
		}
	}

	// Still healthy, and a normal flow works: the admin connects a room, a read client gets a chat.
	if code, _, b := (hostileRow{method: "GET", path: "/healthz"}).send(t, base); code != 200 {
		t.Fatalf("/healthz after the table: %d %s", code, b)
	}
	if code, _, b := (hostileRow{method: "PUT", path: "/v1/rooms/hosta", headers: []string{admin}}).send(t, base); code != 201 && code != 200 {
		t.Fatalf("admin PUT after the table: %d %s", code, b)
	}
	ws := &wsClient{testutil.DialWS(t, testutil.HTTPToWS(base)+"/v1/ws?rooms=hosta&token="+testRead)}
	testutil.Eventually(t, wait, func() bool {
		_, _, b := (hostileRow{method: "GET", path: "/v1/rooms/hosta", headers: []string{read}}).send(t, base)
		var st map[string]any
		json.Unmarshal(b, &st)
		return st["state"] == "connected"
	}, "hosta did not connect")
	s.fake.Inject("hosta", webcast.MethodChat, chatMsg(1, "still standing"))
	ws.await(t, "chat", "hosta", map[string]any{"comment": "still standing"})
}

// checkJSONError asserts an answer is the wanted 4xx with a JSON error body.
func checkJSONError(t *testing.T, what string, code int, h http.Header, b []byte, wantStatus int, wantCode string) {
	t.Helper()
	if code >= 500 {
		t.Errorf("%s: a server error %d: %s", what, code, clip(string(b)))
	}
	if code != wantStatus {
		t.Errorf("%s: status %d (%s), want %d", what, code, clip(string(b)), wantStatus)
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json; body %s", what, h.Get("Content-Type"), clip(string(b)))
	}
	var e struct {
		Success *bool  `json:"success"`
		Code    string `json:"code"`
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Errorf("%s: not a JSON error body: %v: %s", what, err, clip(string(b)))
		return
	}
	if e.Success == nil || *e.Success || e.Code == "" || e.Message == "" || e.Error == "" {
		t.Errorf("%s: error body without success:false, code, error and message: %s", what, clip(string(b)))
	}
	if e.Code != wantCode {
		t.Errorf("%s: code %q, want %q (%s)", what, e.Code, wantCode, e.Message)
	}
}

// rawStatus writes request on a new TCP connection and returns the status of the answer.
func rawStatus(t *testing.T, base, request string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode > 499 {
		t.Errorf("status %d is not a 4xx", resp.StatusCode)
	}
	return resp.StatusCode
}

// TestServer_HostileRequestsOpen: the default set-up (no token: loopback only, admin open) still
// refuses what a hostile web page in the streamer's browser can send.
func TestServer_HostileRequestsOpen(t *testing.T) {
	s := newStack(t, stackOptions{})
	base := hostileServer(t, s)
	rows := []hostileRow{
		{name: "cross-site connect", method: "POST", path: "/connect/hosta", headers: []string{"Origin: https://evil.example"}, status: 403, code: "origin_not_allowed"},
		{name: "cross-site shutdown", method: "POST", path: "/shutdown", headers: []string{"Origin: https://evil.example"}, status: 403, code: "origin_not_allowed"},
		{name: "cross-site simulate", method: "POST", path: "/v1/rooms/hosta/simulate", headers: []string{"Origin: https://evil.example"},
			body: `{"type":"chat"}`, status: 403, code: "origin_not_allowed"},
		{name: "cross-site WebSocket", method: "GET", path: "/", headers: []string{"Origin: https://evil.example", "Connection: Upgrade", "Upgrade: websocket",
			"Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}, status: 403, code: "origin_not_allowed"},
		{name: "DNS rebinding: a page on another name resolved to 127.0.0.1", method: "PUT", path: "/v1/rooms/hosta",
			headers: []string{"Host: rebind.example:3000", "Origin: http://rebind.example:3000"}, status: 403, code: "host_not_allowed"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			code, h, b := row.send(t, base)
			checkJSONError(t, row.method+" "+row.path, code, h, b, row.status, row.code)
		})
	}
	if code, _, b := (hostileRow{method: "GET", path: "/healthz"}).send(t, base); code != 200 {
		t.Fatalf("/healthz: %d %s", code, b)
	}
}

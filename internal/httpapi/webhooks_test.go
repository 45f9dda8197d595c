package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webhook"
)

// hookReceiver is a real receiver on loopback; answer picks the status for each request.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []hookRequest
	answer func(r hookRequest) int
}

type hookRequest struct {
	Header http.Header
	Body   []byte
	Type   string // the body's type
	Status int
}

func newHookReceiver(t *testing.T, answer func(hookRequest) int) *hookReceiver {
	t.Helper()
	rc := &hookReceiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var env struct{ Type string }
		json.Unmarshal(b, &env)
		req := hookRequest{Header: r.Header.Clone(), Body: b, Type: env.Type, Status: http.StatusNoContent}
		rc.mu.Lock()
		if rc.answer != nil {
			req.Status = rc.answer(req)
		}
		rc.got = append(rc.got, req)
		rc.mu.Unlock()
		w.WriteHeader(req.Status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *hookReceiver) requests(typ string) []hookRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hookRequest
	for _, r := range rc.got {
		if typ == "" || r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// call sends a request with a JSON body (or none) and decodes the JSON answer.
func (s *stack) call(method, path, body string) (int, map[string]any, http.Header) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		s.t.Fatalf("%s %s: %d, not a JSON object: %q", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, m, resp.Header
}

// checkSchema validates an answer against what openapi.json documents for it.
func checkSchema(t *testing.T, method, template string, code int, body map[string]any) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	schema := testutil.Dig(doc, "paths", template, strings.ToLower(method), "responses", fmt.Sprint(code), "content", "application/json", "schema")
	if schema == nil {
		t.Errorf("%s %s: openapi.json has no schema for %d", method, template, code)
		return
	}
	for _, p := range validate(doc, schema, any(body), "body") {
		t.Errorf("%s %s (%d): %s", method, template, code, p)
	}
}

func simulate(t *testing.T, s *stack, body string) {
	t.Helper()
	if code, m, _ := s.call("POST", "/v1/rooms/streamer/simulate", body); code != http.StatusAccepted {
		t.Fatalf("simulate %s: %d %v", body, code, m)
	}
}

// TestServer_Webhooks walks the /v1/webhooks API against a real receiver: create (the secret
// once), list and get (never the secret), events from the stream delivered and signed, update,
// test, rotate (both signatures), failed then dead deliveries, resend, recover, delete; and every
// answer matches openapi.json.
func TestServer_Webhooks(t *testing.T) {
	s := newStack(t, stackOptions{webhooks: true, webhooksGuard: webhook.Guard{AllowPrivate: true}})
	var failShares bool
	rc := newHookReceiver(t, func(r hookRequest) int {
		if failShares && r.Type == webhook.TypeShare {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})

	code, created, hdr := s.call("POST", "/v1/webhooks", `{"url":"`+rc.srv.URL+`/hook","description":"bot","filter":{"types":["room.gift","room.share"]}}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, created)
	}
	checkSchema(t, "POST", "/v1/webhooks", code, created)
	id, _ := created["id"].(string)
	secret, _ := created["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || hdr.Get("Location") != "/v1/webhooks/"+id {
		t.Fatalf("create: secret %q, Location %q", secret, hdr.Get("Location"))
	}
	code, list, _ := s.call("GET", "/v1/webhooks", "")
	checkSchema(t, "GET", "/v1/webhooks", code, list)
	code, got, _ := s.call("GET", "/v1/webhooks/"+id, "")
	checkSchema(t, "GET", "/v1/webhooks/{id}", code, got)
	for what, m := range map[string]map[string]any{"list": list, "get": got} {
		if b, _ := json.Marshal(m); bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(`"secret"`)) {
			t.Errorf("%s shows the secret: %s", what, b)
		}
	}

	// Events from the stream: a gift is delivered, signed; a follow is filtered out.
	simulate(t, s, `{"type":"follow"}`)
	simulate(t, s, `{"type":"gift","diamonds":5}`)
	testutil.Eventually(t, wait, func() bool { return len(rc.requests(webhook.TypeGift)) == 1 }, "the gift webhook")
	gift := rc.requests(webhook.TypeGift)[0]
	if err := webhook.Verify(secret, gift.Header, gift.Body, time.Now(), 0); err != nil {
		t.Errorf("gift webhook: %v", err)
	}
	if n := len(rc.requests(webhook.TypeFollow)); n != 0 {
		t.Errorf("%d follow webhooks for an endpoint that wants gifts and shares", n)
	}

	// Update: a minimum that the next gift does not reach, and the follows.
	code, upd, _ := s.call("PATCH", "/v1/webhooks/"+id, `{"filter":{"types":["room.gift","room.follow","room.share"],"giftMinDiamonds":100}}`)
	checkSchema(t, "PATCH", "/v1/webhooks/{id}", code, upd)
	if code != http.StatusOK || testutil.Dig(upd, "filter", "giftMinDiamonds") != float64(100) {
		t.Fatalf("update: %d %v", code, upd)
	}
	simulate(t, s, `{"type":"gift","diamonds":5}`)
	simulate(t, s, `{"type":"follow"}`)
	testutil.Eventually(t, wait, func() bool { return len(rc.requests(webhook.TypeFollow)) == 1 }, "the follow webhook")
	if n := len(rc.requests(webhook.TypeGift)); n != 1 {
		t.Errorf("%d gift webhooks; the 5-diamond gift is under the new minimum", n)
	}

	// Test, then rotate: the test after it carries both signatures.
	code, test, _ := s.call("POST", "/v1/webhooks/"+id+"/test", "")
	checkSchema(t, "POST", "/v1/webhooks/{id}/test", code, test)
	if code != http.StatusOK || test["success"] != true || test["status"] != float64(204) {
		t.Fatalf("test: %d %v", code, test)
	}
	code, rot, _ := s.call("POST", "/v1/webhooks/"+id+"/rotate", "")
	checkSchema(t, "POST", "/v1/webhooks/{id}/rotate", code, rot)
	newSecret, _ := rot["secret"].(string)
	if code != http.StatusOK || !strings.HasPrefix(newSecret, "whsec_") || newSecret == secret || rot["previousSecretUntil"] == nil {
		t.Fatalf("rotate: %d %v", code, rot)
	}
	s.call("POST", "/v1/webhooks/"+id+"/test", "")
	tests := rc.requests(webhook.TypeTest)
	if len(tests) != 2 {
		t.Fatalf("%d test webhooks, want 2", len(tests))
	}
	last := tests[1]
	if sigs := strings.Fields(last.Header.Get(webhook.HeaderSignature)); len(sigs) != 2 {
		t.Errorf("after rotation: signature header %q, want two entries", last.Header.Get(webhook.HeaderSignature))
	}
	for _, sec := range []string{newSecret, secret} {
		if err := webhook.Verify(sec, last.Header, last.Body, time.Now(), 0); err != nil {
			t.Errorf("after rotation, with the %s secret: %v", map[bool]string{true: "new", false: "old"}[sec == newSecret], err)
		}
	}

	// A share the receiver refuses: failed, then dead after the schedule; resend delivers it.
	rc.mu.Lock()
	failShares = true
	rc.mu.Unlock()
	simulate(t, s, `{"type":"share"}`)
	var dead map[string]any
	testutil.Eventually(t, wait, func() bool {
		code, dead, _ = s.call("GET", "/v1/webhooks/"+id+"/deliveries?status=dead", "")
		return code == http.StatusOK && len(dead["deliveries"].([]any)) == 1
	}, "the share given up")
	checkSchema(t, "GET", "/v1/webhooks/{id}/deliveries", code, dead)
	d := dead["deliveries"].([]any)[0].(map[string]any)
	msgID := d["msgId"].(string)
	if d["attempts"] != float64(3) || d["lastStatus"] != float64(500) {
		t.Errorf("dead delivery %v: want 3 attempts, last status 500", d)
	}
	shares := rc.requests(webhook.TypeShare)
	for _, r := range shares {
		if r.Header.Get(webhook.HeaderID) != msgID {
			t.Errorf("a retry came with webhook-id %q, want %q every time", r.Header.Get(webhook.HeaderID), msgID)
		}
	}
	rc.mu.Lock()
	failShares = false
	rc.mu.Unlock()
	code, res, _ := s.call("POST", "/v1/webhooks/"+id+"/deliveries/"+msgID+"/resend", "")
	checkSchema(t, "POST", "/v1/webhooks/{id}/deliveries/{did}/resend", code, res)
	if code != http.StatusAccepted {
		t.Fatalf("resend: %d %v", code, res)
	}
	testutil.Eventually(t, wait, func() bool {
		_, ds, _ := s.call("GET", "/v1/webhooks/"+id+"/deliveries?status=delivered&limit=10", "")
		for _, x := range ds["deliveries"].([]any) {
			if x.(map[string]any)["msgId"] == msgID {
				return true
			}
		}
		return false
	}, "the resent share delivered")
	code, rec, _ := s.call("POST", "/v1/webhooks/"+id+"/recover", `{"since":"2000-01-01T00:00:00Z"}`)
	checkSchema(t, "POST", "/v1/webhooks/{id}/recover", code, rec)
	if code != http.StatusAccepted || rec["recovered"] != float64(0) {
		t.Errorf("recover with no dead letters left: %d %v", code, rec)
	}

	// Disable through the API, then delete.
	if code, m, _ := s.call("PATCH", "/v1/webhooks/"+id, `{"enabled":false}`); code != http.StatusOK || m["disabled"] != true {
		t.Errorf("disable: %d %v", code, m)
	}
	code, del, _ := s.call("DELETE", "/v1/webhooks/"+id, "")
	checkSchema(t, "DELETE", "/v1/webhooks/{id}", code, del)
	if code, m, _ := s.call("GET", "/v1/webhooks/"+id, ""); code != http.StatusNotFound || m["code"] != "not_found" {
		t.Errorf("get after delete: %d %v", code, m)
	}
}

// TestServer_WebhookErrors: bad input is a 400 with a clear code, an unknown id a 404, on every
// route; each as openapi.json documents it.
func TestServer_WebhookErrors(t *testing.T) {
	s := newStack(t, stackOptions{webhooks: true}) // the guard refuses loopback: SSRF on
	code, ok, _ := s.call("POST", "/v1/webhooks", `{"url":"https://receiver.example/hook"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, ok)
	}
	id := ok["id"].(string)
	tests := []struct {
		method, path, template, body string
		status                       int
		code, mentions               string
	}{
		{"POST", "/v1/webhooks", "/v1/webhooks", `{"url":"ftp://receiver.example/"}`, 400, "bad_url", "scheme"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `{}`, 400, "bad_url", "required"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `{"url":"https://user:pw@receiver.example/"}`, 400, "bad_url", "user info"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `{"url":"http://127.0.0.1:8080/hook"}`, 400, "forbidden_address", "--webhooks-allow-private"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `{"url":"http://169.254.169.254/latest"}`, 400, "forbidden_address", "metadata"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `{"url":"http://10.1.2.3/"}`, 400, "forbidden_address", "private"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `{"url":"http://localhost:3000/"}`, 400, "forbidden_address", "local name"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `{"url":"http://[::1]/"}`, 400, "forbidden_address", "loopback"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `{"url":"https://receiver.example/","filter":{"types":["room.chat"]}}`, 400, "bad_filter", "room.chat"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `{"url":"https://receiver.example/","filter":{"giftMinDiamonds":-1}}`, 400, "bad_filter", "negative"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `{"url":"https://receiver.example/","secret":"whsec_x"}`, 400, "bad_body", "unknown field"},
		{"POST", "/v1/webhooks", "/v1/webhooks", `not json`, 400, "bad_body", "JSON object"},
		{"PATCH", "/v1/webhooks/" + id, "/v1/webhooks/{id}", `{"url":"http://192.168.1.1/"}`, 400, "forbidden_address", "private"},
		{"GET", "/v1/webhooks/" + id + "/deliveries?status=lost", "/v1/webhooks/{id}/deliveries", "", 400, "bad_status", "lost"},
		{"GET", "/v1/webhooks/" + id + "/deliveries?limit=0", "/v1/webhooks/{id}/deliveries", "", 400, "bad_limit", "limit"},
		{"POST", "/v1/webhooks/" + id + "/recover", "/v1/webhooks/{id}/recover", `{"since":"2030-01-01T00:00:00Z","until":"2029-01-01T00:00:00Z"}`, 400, "bad_window", "before"},
		{"POST", "/v1/webhooks/" + id + "/recover", "/v1/webhooks/{id}/recover", `{}`, 400, "bad_window", "since"},
		{"POST", "/v1/webhooks/" + id + "/deliveries/msg_nope/resend", "/v1/webhooks/{id}/deliveries/{did}/resend", "", 404, "not_found", "msg_nope"},
		{"GET", "/v1/webhooks/ep_nope", "/v1/webhooks/{id}", "", 404, "not_found", "ep_nope"},
		{"PATCH", "/v1/webhooks/ep_nope", "/v1/webhooks/{id}", `{"enabled":true}`, 404, "not_found", "ep_nope"},
		{"DELETE", "/v1/webhooks/ep_nope", "/v1/webhooks/{id}", "", 404, "not_found", "ep_nope"},
		{"POST", "/v1/webhooks/ep_nope/test", "/v1/webhooks/{id}/test", "", 404, "not_found", "ep_nope"},
		{"POST", "/v1/webhooks/ep_nope/rotate", "/v1/webhooks/{id}/rotate", "", 404, "not_found", "ep_nope"},
		{"GET", "/v1/webhooks/ep_nope/deliveries", "/v1/webhooks/{id}/deliveries", "", 404, "not_found", "ep_nope"},
		{"POST", "/v1/webhooks/ep_nope/recover", "/v1/webhooks/{id}/recover", `{"since":"2000-01-01T00:00:00Z"}`, 404, "not_found", "ep_nope"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			code, m, _ := s.call(tt.method, tt.path, tt.body)
			msg, _ := m["message"].(string)
			if code != tt.status || m["code"] != tt.code || !strings.Contains(msg, tt.mentions) {
				t.Errorf("%d %v; want %d %s mentioning %q", code, m, tt.status, tt.code, tt.mentions)
			}
			checkSchema(t, tt.method, tt.template, code, m)
		})
	}
	// Without a webhook service the routes say so.
	plain := newStack(t, stackOptions{})
	if code, m, _ := plain.call("GET", "/v1/webhooks", ""); code != http.StatusServiceUnavailable || m["code"] != "no_webhooks" {
		t.Errorf("without webhooks: %d %v", code, m)
	}
}

// TestServer_WebhookSecretsNeverLogged: the secrets (before and after a rotation) appear in no
// log line, no metric, no status or list answer, and no delivery listing, through deliveries that
// fail, retry, die and succeed.
func TestServer_WebhookSecretsNeverLogged(t *testing.T) {
	var logs testutil.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newStack(t, stackOptions{webhooks: true, webhooksGuard: webhook.Guard{AllowPrivate: true}, logger: logger})
	seenIDs := map[string]bool{}
	rc := newHookReceiver(t, func(r hookRequest) int { // 500 to each webhook's first attempt
		id := r.Header.Get(webhook.HeaderID)
		if !seenIDs[id] {
			seenIDs[id] = true
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	_, created, _ := s.call("POST", "/v1/webhooks", `{"url":"`+rc.srv.URL+`/hook?token=receivers-own"}`)
	id := created["id"].(string)
	secrets := []string{created["secret"].(string)}
	// And one nothing listens for: its transport errors are logged and listed too.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, down, _ := s.call("POST", "/v1/webhooks", `{"url":"`+closed.URL+`/hook?token=receivers-own"}`)
	secrets = append(secrets, down["secret"].(string))
	simulate(t, s, `{"type":"gift","diamonds":7}`)
	_, rot, _ := s.call("POST", "/v1/webhooks/"+id+"/rotate", "")
	secrets = append(secrets, rot["secret"].(string))
	simulate(t, s, `{"type":"follow"}`)
	s.call("POST", "/v1/webhooks/"+id+"/test", "")
	testutil.Eventually(t, wait, func() bool {
		_, m, _ := s.call("GET", "/v1/webhooks/"+id+"/deliveries?status=delivered", "")
		return len(m["deliveries"].([]any)) == 2
	}, "both webhooks delivered after a failed attempt each")

	var seen, listed strings.Builder
	downID := down["id"].(string)
	testutil.Eventually(t, wait, func() bool {
		_, m, _ := s.call("GET", "/v1/webhooks/"+downID+"/deliveries?status=dead", "")
		return len(m["deliveries"].([]any)) == 2
	}, "the unreachable endpoint's webhooks given up")
	for _, path := range []string{"/v1/webhooks/" + id + "/deliveries", "/v1/webhooks/" + downID + "/deliveries"} {
		_, m, _ := s.call("GET", path, "")
		b, _ := json.Marshal(m)
		listed.Write(b)
	}
	if !strings.Contains(listed.String(), "connection refused") {
		t.Errorf("the unreachable endpoint's deliveries do not say why: %s", listed.String())
	}
	for _, path := range []string{"/v1/webhooks", "/v1/webhooks/" + id, "/v1/webhooks/" + id + "/deliveries", "/v1/webhooks/" + downID + "/deliveries",
		"/healthz", "/health", "/v1/rooms", "/status"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&seen, "%s: %s\n", path, b)
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte(`tiktok_live_webhook_deliveries_total{endpoint="`+id+`",outcome="delivered"} 2`)) ||
		!bytes.Contains(metrics, []byte(`tiktok_live_webhook_queue{endpoint="`+id+`",state="dead"} 0`)) ||
		!bytes.Contains(metrics, []byte(`tiktok_live_webhook_last_success_timestamp_seconds{endpoint="`+id+`"}`)) {
		t.Errorf("webhook metrics missing:\n%s", grepLines(metrics, "webhook"))
	}
	if !strings.Contains(logs.String(), "webhook attempt failed") {
		t.Errorf("no failed attempt was logged; the test would prove nothing about the logs:\n%s", logs.String())
	}
	for _, sec := range secrets {
		key := strings.TrimPrefix(sec, "whsec_")
		for what, text := range map[string]string{"logs": logs.String(), "metrics": string(metrics), "answers": seen.String()} {
			if strings.Contains(text, key) {
				t.Errorf("a secret appears in the %s", what)
			}
		}
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("no transport error was logged; the test would prove nothing about them:\n%s", logs.String())
	}
	for what, text := range map[string]string{"logs": logs.String(), "metrics": string(metrics), "delivery listings": listed.String()} {
		if strings.Contains(text, "receivers-own") {
			t.Errorf("the receiver's token in its URL appears in the %s", what)
		}
	}
}

func grepLines(b []byte, word string) string {
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(l, word) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

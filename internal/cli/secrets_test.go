package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/auth"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// The secrets of TestServe_NoSecretsInOutput: distinctive, so any copy of one is found.
const (
	secretSignKey = "signkey-Zq8RvT3mW6yP1xKd"
	secretAdmin   = "admintok-Hc4NfJ7sB2gL9uVe"
	secretRead    = "readtok-Xp5QaE8kM3rD6tYw"
	secretToken   = "tokensecret-Lm2WgU9cZ4vS7hRb"
)

// transcript collects everything a test saw of the server: answers with their headers.
type transcript struct {
	mu sync.Mutex
	b  strings.Builder
}

func (tr *transcript) add(format string, args ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	fmt.Fprintf(&tr.b, format+"\n", args...)
}

func (tr *transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.b.String()
}

// call sends a request with headers ("Name: value") and records the whole answer.
func (tr *transcript) call(t *testing.T, method, url string, headers ...string) (int, []byte) {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
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
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var hdr strings.Builder
	resp.Header.Write(&hdr)
	tr.add("%s %s -> %s\n%s\n%s", method, strings.Split(url, "?")[0], resp.Status, hdr.String(), b)
	return resp.StatusCode, b
}

// secretServer is the program run by Run against a given fake, with every secret set.
type secretServer struct {
	base           string
	exit           chan int
	cancel         context.CancelFunc
	stdout, stderr *testutil.SyncBuffer
}

func startSecretServer(t *testing.T, u faketiktok.URLs) *secretServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &secretServer{exit: make(chan int, 1), cancel: cancel, stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}}
	args := []string{"--sign-url", u.Sign, "--tiktok-web-url", u.Web, "--tiktok-webcast-url", u.Webcast,
		"--listen", "127.0.0.1", "--data-dir", t.TempDir(), "--max-rooms", "8", "--sign-quota", "0",
		"--backoff-base", "20ms", "--backoff-max", "200ms",
		"--sign-api-key", secretSignKey, "--admin-token", secretAdmin, "--read-token", secretRead, "--token-secret", secretToken,
		"--log-level", "debug", "--log-format", "json", "0"}
	go func() { s.exit <- Run(ctx, args, strings.NewReader(""), s.stdout, s.stderr) }()
	t.Cleanup(cancel)
	testutil.Eventually(t, 10*time.Second, func() bool {
		if m := listenLine.FindStringSubmatch(s.stdout.String()); m != nil {
			s.base = m[1]
		}
		return s.base != ""
	}, "no listening line; stderr %q", s.stderr.String())
	return s
}

// stop shuts the server down through the API and waits for Run to return 0.
func (s *secretServer) stop(t *testing.T, tr *transcript) {
	t.Helper()
	if code, b := tr.call(t, "POST", s.base+"/shutdown", "Authorization: Bearer "+secretAdmin); code != 200 {
		t.Fatalf("shutdown: %d %s", code, b)
	}
	select {
	case code := <-s.exit:
		if code != 0 {
			t.Fatalf("Run = %d; stderr %s", code, tail(s.stderr.String(), 2000))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
}

// roomField reads one field of GET /v1/rooms/{u}.
func roomField(t *testing.T, tr *transcript, base, user, field string) any {
	t.Helper()
	_, b := tr.call(t, "GET", base+"/v1/rooms/"+user, "Authorization: Bearer "+secretRead)
	var m map[string]any
	json.Unmarshal(b, &m)
	return m[field]
}

// TestServe_NoSecretsInOutput: the sign API key, the admin and read tokens, the token secret and
// a room token minted with it never appear in the program's output (debug JSON logs included)
// nor in any answer, whatever happens: connects, failed logins with wrong tokens and tokens that
// embed the real ones, streams, sign failures (one from a sign server that echoes the key),
// shutdown.
func TestServe_NoSecretsInOutput(t *testing.T) {
	ctx := context.Background()
	fake, err := faketiktok.Start(ctx, faketiktok.Options{APIKey: secretSignKey, Default: faketiktok.StreamConfig{Rate: 30}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	// A sign server that wants another key: every sign call fails with 401.
	other, err := faketiktok.Start(ctx, faketiktok.Options{APIKey: "another-sign-key-0000000000", Default: faketiktok.StreamConfig{Rate: 30}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })

	var tr transcript
	srv := startSecretServer(t, fake.URLs())
	srv2 := startSecretServer(t, other.URLs())
	base := srv.base
	admin, read := "Authorization: Bearer "+secretAdmin, "Authorization: Bearer "+secretRead
	roomTok := auth.Mint([]byte(secretToken), "streamer", time.Hour, time.Now())

	// Clients on both transports: a room token in the query (as a browser's EventSource sends
	// it), the read token in the query of a WebSocket.
	sse := sseRecorder(t, base+"/v1/events?types=chat&token="+roomTok)
	ws := testutil.DialWS(t, testutil.HTTPToWS(base)+"/v1/ws?types=chat&token="+secretRead)

	// Connect a room and see its events arrive.
	if code, b := tr.call(t, "PUT", base+"/v1/rooms/streamer", admin); code != 201 {
		t.Fatalf("PUT streamer: %d %s", code, b)
	}
	if code, b := tr.call(t, "POST", base+"/connect/streamer", admin); code != 200 {
		t.Fatalf("POST /connect/streamer: %d %s", code, b)
	}
	testutil.Eventually(t, 15*time.Second, func() bool {
		return strings.Contains(sse.text(), "event: chat") && len(ws.Events()) > 0
	}, "no chat reached the stream clients; stderr %s", tail(srv.stderr.String(), 2000))

	// Failed logins: wrong tokens, and tokens that hold the real ones, by every way to present one.
	wrong := []string{
		"wrong-token-but-long-enough", secretAdmin + "x", "x" + secretAdmin, secretAdmin[:len(secretAdmin)-1],
		secretRead + secretAdmin, secretAdmin + " " + secretRead, strings.ToUpper(secretAdmin), secretToken, secretSignKey,
		"v1." + secretAdmin + "." + secretToken, roomTok + "x", "x" + roomTok, roomTok[:len(roomTok)-3],
		auth.Mint([]byte(secretToken+"-not"), "streamer", time.Hour, time.Now()),
	}
	for _, tok := range wrong {
		for _, how := range []struct {
			method, path, header string
		}{
			{"POST", "/shutdown", "Authorization: Bearer " + tok},
			{"PUT", "/v1/rooms/intruder", "X-Api-Key: " + tok},
			{"GET", "/v1/rooms?token=" + url.QueryEscape(tok), ""},
			{"GET", "/metrics", "Authorization: Bearer " + tok},
			{"DELETE", "/connect/streamer", "Authorization: Basic " + tok},
		} {
			code, b := tr.call(t, how.method, base+how.path, how.header)
			if code != 401 && code != 403 {
				t.Errorf("%s %s with a wrong token: %d %s", how.method, how.path, code, b)
			}
		}
	}

	// Every status route, by each kind of token; history with a token in the query.
	for _, c := range []struct{ path, header string }{
		{"/health", read}, {"/status", read}, {"/status/streamer", read}, {"/v1/rooms", read}, {"/v1/rooms/streamer", read},
		{"/v1/rooms/streamer", "Authorization: Bearer " + roomTok}, {"/v1/rooms/streamer?token=" + roomTok, ""},
		{"/healthz", ""}, {"/readyz", ""}, {"/metrics", admin}, {"/openapi.json", ""}, {"/", ""},
		{"/v1/rooms/streamer/sessions", read},
		{"/v1/rooms/streamer/events?limit=2&format=csv", admin}, {"/v1/rooms", ""}, {"/test/streamer", read},
	} {
		if code, b := tr.call(t, "GET", base+c.path, c.header); code >= 400 && c.header != "" && !strings.Contains(c.path, "token=") {
			t.Errorf("GET %s: %d %s", c.path, code, b)
		}
	}

	// A history page asked for with the token in the query (as a browser's fetch of an export link
	// would): its Link header is checked apart, below.
	var linkTr transcript
	if code, b := linkTr.call(t, "GET", base+"/v1/rooms/streamer/events?limit=1&token="+secretRead); code != 200 {
		t.Errorf("history with the token in the query: %d %s", code, b)
	}

	// Sign failures: a sign server that echoes the key in its 5xx body and its 402 message, and
	// (srv2) one that refuses the key.
	fake.AddFault("echo5xx", faketiktok.Fault{Kind: faketiktok.FaultSign5xx, Times: -1, Message: "upstream broke handling key " + secretSignKey})
	fake.AddFault("echo402", faketiktok.Fault{Kind: faketiktok.FaultSign402, Times: -1, Message: "the plan of key " + secretSignKey + " does not include this"})
	for _, u := range []string{"echo5xx", "echo402"} {
		if code, b := tr.call(t, "PUT", base+"/v1/rooms/"+u, admin); code != 201 {
			t.Fatalf("PUT %s: %d %s", u, code, b)
		}
		testutil.Eventually(t, 15*time.Second, func() bool { return roomField(t, &tr, base, u, "lastError") != nil },
			"%s: no sign error recorded", u)
	}
	if code, b := tr.call(t, "PUT", srv2.base+"/v1/rooms/wrongkey", admin); code != 201 {
		t.Fatalf("srv2 PUT wrongkey: %d %s", code, b)
	}
	testutil.Eventually(t, 15*time.Second, func() bool { return roomField(t, &tr, srv2.base, "wrongkey", "lastError") != nil },
		"the refused key left no error")
	tr.call(t, "GET", srv2.base+"/v1/rooms", read)
	tr.call(t, "GET", srv2.base+"/metrics", admin)

	srv.stop(t, &tr)
	srv2.stop(t, &tr)
	<-sse.done
	<-ws.Done()
	for _, e := range ws.Events() {
		b, _ := json.Marshal(e)
		tr.add("ws: %s", b)
	}

	if !strings.Contains(srv.stderr.String(), `"level":"DEBUG"`) {
		t.Errorf("no debug log line: the test would not see what debug logging leaks; stderr %s", tail(srv.stderr.String(), 1000))
	}
	outputs := map[string]string{
		"stdout": srv.stdout.String(), "stderr": srv.stderr.String(),
		"srv2 stdout": srv2.stdout.String(), "srv2 stderr": srv2.stderr.String(),
		"answers": tr.String(), "SSE stream": sse.text(),
	}
	secrets := map[string]string{
		"the sign API key": secretSignKey, "the admin token": secretAdmin, "the read token": secretRead,
		"the token secret": secretToken, "the room token": roomTok,
	}
	if !strings.Contains(tr.String(), "[redacted]") {
		t.Errorf("no sign error shows the echoed key redacted: the echoing sign server was not exercised")
	}
	total := 0
	for _, text := range outputs {
		total += len(text)
	}
	t.Logf("searched %d bytes of output, logs, answers and stream", total)
	t.Run("the history Link header", func(t *testing.T) {
		if strings.Contains(linkTr.String(), secretRead) {
			t.Errorf("the read token is echoed in a history answer: %s", linkTr.String())
		}
	})
	for what, secret := range secrets {
		// The random half too: a secret cut short or re-cased is still a leak.
		needles := []string{secret, secret[len(secret)-12:], strings.ToLower(secret[len(secret)-12:])}
		for where, text := range outputs {
			for _, n := range needles {
				if i := strings.Index(text, n); i >= 0 {
					t.Errorf("%s is in the %s: ...%s...", what, where, text[max(0, i-200):min(len(text), i+len(n)+50)])
					break
				}
			}
		}
	}
}

package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webhook"
)

// hookLog is one receiver's record, per event (epoch#seq from the body's data.stream): the
// webhook-ids it came with, its requests before and after the restart, and its 2xx answers.
type hookLog struct {
	mu        sync.Mutex
	name      string
	secret    string
	failFirst bool // 500 to each webhook's first attempt, 2xx after
	failUntil bool // 500 to everything until restarted is set
	restarted bool
	keys      map[string]*hookKey
	types     map[string]int
	badSigs   []string
	samples   map[string]hookSample // one request of each type, for the independent verifiers
}

type hookKey struct {
	ids             map[string]bool
	before, after   int // requests before and after the restart
	ok              int // 2xx answers
	requestsAfterOK int
}

type hookSample struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newHookLog(name string) *hookLog {
	return &hookLog{name: name, keys: map[string]*hookKey{}, types: map[string]int{}, samples: map[string]hookSample{}}
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var env struct {
		Type string
		Data struct{ Stream struct{ Epoch, Seq any } }
	}
	json.Unmarshal(body, &env)
	key := fmt.Sprintf("%v#%v", env.Data.Stream.Epoch, env.Data.Stream.Seq)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := webhook.Verify(h.secret, r.Header, body, time.Now(), 0); err != nil {
		h.badSigs = append(h.badSigs, err.Error())
	}
	k := h.keys[key]
	if k == nil {
		k = &hookKey{ids: map[string]bool{}}
		h.keys[key] = k
	}
	k.ids[r.Header.Get(webhook.HeaderID)] = true
	if k.ok > 0 {
		k.requestsAfterOK++
	}
	first := k.before+k.after == 0
	if h.restarted {
		k.after++
	} else {
		k.before++
	}
	if _, ok := h.samples[env.Type]; !ok {
		h.samples[env.Type] = hookSample{header: r.Header.Clone(), body: body, at: time.Now()}
	}
	status := http.StatusOK
	if h.failFirst && first || h.failUntil && !h.restarted {
		status = http.StatusInternalServerError
	} else {
		k.ok++
		h.types[env.Type]++
	}
	w.WriteHeader(status)
}

func (h *hookLog) snapshot(f func(h *hookLog)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

// api calls the child server's API with a JSON body and decodes the answer into out.
func api(t testing.TB, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// loggedWebhookKeys reads the room's log (what the server committed) and returns the events that
// make a webhook for an endpoint wanting gifts, follows and shares: epoch#seq -> type.
func loggedWebhookKeys(t *testing.T, base, room string) map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/v1/rooms/" + room + "/events?types=gift,social&format=ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Type, Epoch string
			Seq         uint64
			Data        struct{ StreakState, Action string }
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		key := fmt.Sprintf("%s#%d", ev.Epoch, ev.Seq)
		switch {
		case ev.Type == "gift" && ev.Data.StreakState != "progress":
			out[key] = webhook.TypeGift
		case ev.Type == "social" && ev.Data.Action == "follow":
			out[key] = webhook.TypeFollow
		case ev.Type == "social" && ev.Data.Action == "share":
			out[key] = webhook.TypeShare
		}
	}
	return out
}

func deliveredCount(t *testing.T, base, id string) int {
	t.Helper()
	var m struct{ Deliveries []any }
	api(t, "GET", base+"/v1/webhooks/"+id+"/deliveries?status=delivered&limit=1000", "", &m)
	return len(m.Deliveries)
}

// TestServe_WebhooksKillNineMidRetry is the webhook guarantee end to end: a real server process
// watching a room of the fake TikTok, two endpoints created through the API, real receivers on
// loopback. Receiver a answers 500 to each webhook's first attempt (retried with the same
// webhook-id); receiver b answers 500 to everything. The server is killed with SIGKILL while b's
// webhooks are being retried, then restarted on the same data directory, and b starts answering
// 200: every gift, follow and share the log holds reaches each receiver, answered 2xx exactly
// once, always with one webhook-id, with valid signatures (checked here with webhook.Verify, and
// by the Python and Node verifiers where they are installed).
func TestServe_WebhooksKillNineMidRetry(t *testing.T) {
	if testing.Short() {
		t.Skip("runs server processes")
	}
	fake, err := faketiktok.Start(context.Background(), faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 100, HistorySize: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	a, b := newHookLog("a"), newHookLog("b")
	a.failFirst, b.failUntil = true, true
	srvA, srvB := httptest.NewServer(a), httptest.NewServer(b)
	defer srvA.Close()
	defer srvB.Close()

	u := fake.URLs()
	dir := t.TempDir()
	schedule := strings.TrimSuffix(strings.Repeat("200ms,", 150), ",") // 30 s of retries: b outlives the kill
	args := []string{"--listen", "127.0.0.1", "--sign-url", u.Sign, "--tiktok-web-url", u.Web, "--tiktok-webcast-url", u.Webcast,
		"--sign-quota", "0", "--log-level", "warn", "--data-dir", dir,
		"--webhooks-allow-private", "--webhooks-schedule", schedule, "--webhooks-timeout", "3s"}
	cmd, base := startChild(t, args...)

	filter := `"filter":{"types":["room.gift","room.follow","room.share"]}`
	ids := map[*hookLog]string{}
	for h, srv := range map[*hookLog]*httptest.Server{a: srvA, b: srvB} {
		var ep struct{ ID, Secret string }
		if code := api(t, "POST", base+"/v1/webhooks", `{"url":"`+srv.URL+`/hook",`+filter+`}`, &ep); code != http.StatusCreated || !strings.HasPrefix(ep.Secret, "whsec_") {
			t.Fatalf("create endpoint %s: %d %+v", h.name, code, ep)
		}
		h.snapshot(func(h *hookLog) { h.secret = ep.Secret })
		ids[h] = ep.ID
	}
	if code := api(t, "PUT", base+"/v1/rooms/hookhost", "", nil); code != http.StatusCreated {
		t.Fatalf("watch the room: %d", code)
	}
	testutil.Eventually(t, 60*time.Second, func() bool {
		n := 0
		a.snapshot(func(h *hookLog) {
			n = min(h.types[webhook.TypeGift], h.types[webhook.TypeFollow], h.types[webhook.TypeShare])
		})
		return n >= 3
	}, "receiver a got three gifts, follows and shares")
	if code := api(t, "DELETE", base+"/v1/rooms/hookhost", "", nil); code != http.StatusOK {
		t.Fatalf("stop the room: %d", code)
	}
	// Kill once every webhook reached a (2xx, recorded by the server) and b failed each at least
	// twice: b's retries are pending, some perhaps in flight. The log is read again each time:
	// the streaks the stop finalised are committed after the DELETE answered.
	var want map[string]string
	testutil.Eventually(t, 60*time.Second, func() bool {
		want = loggedWebhookKeys(t, base, "hookhost")
		if deliveredCount(t, base, ids[a]) != len(want) {
			return false
		}
		done := true
		b.snapshot(func(h *hookLog) {
			for key := range want {
				if k := h.keys[key]; k == nil || k.before < 2 {
					done = false
				}
			}
		})
		return done
	}, "a delivered, b retried")
	t.Logf("the log holds %d events that make webhooks", len(want))
	var failing struct{ Deliveries []struct{ State string } }
	api(t, "GET", base+"/v1/webhooks/"+ids[b]+"/deliveries?status=failed,pending&limit=1000", "", &failing)
	if len(failing.Deliveries) == 0 {
		t.Errorf("b's deliveries are not listed as failed before the kill")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	b.snapshot(func(h *hookLog) { h.restarted = true })
	a.snapshot(func(h *hookLog) { h.restarted = true })

	_, base = startChild(t, args...)
	testutil.Eventually(t, 60*time.Second, func() bool { return deliveredCount(t, base, ids[b]) == len(want) },
		"every webhook delivered to b after the restart")
	if again := loggedWebhookKeys(t, base, "hookhost"); len(again) != len(want) {
		t.Fatalf("after the restart the log holds %d events that make webhooks, before it %d", len(again), len(want))
	}

	for _, h := range []*hookLog{a, b} {
		h.snapshot(func(h *hookLog) {
			if len(h.badSigs) > 0 {
				t.Errorf("%s: %d requests failed verification: %v", h.name, len(h.badSigs), h.badSigs[0])
			}
			for key, typ := range want {
				k := h.keys[key]
				switch {
				case k == nil:
					t.Errorf("%s: the %s at %s never arrived", h.name, typ, key)
				case k.ok != 1:
					t.Errorf("%s: the %s at %s was answered 2xx %d times, want exactly once", h.name, typ, key, k.ok)
				case len(k.ids) != 1:
					t.Errorf("%s: the %s at %s came with %d webhook-ids, want one across its retries", h.name, typ, key, len(k.ids))
				case k.requestsAfterOK > 0:
					t.Errorf("%s: the %s at %s was sent %d times after its 2xx", h.name, typ, key, k.requestsAfterOK)
				case k.before+k.after < 2:
					t.Errorf("%s: the %s at %s was not retried", h.name, typ, key)
				}
			}
			for key := range h.keys {
				if _, ok := want[key]; !ok {
					t.Errorf("%s: got a webhook for %s, which the log does not hold as a gift, follow or share", h.name, key)
				}
			}
		})
	}
	b.snapshot(func(h *hookLog) {
		after := 0
		for _, k := range h.keys {
			after += k.after
		}
		if after < len(want) {
			t.Errorf("b got %d requests after the restart for %d webhooks", after, len(want))
		}
	})
	a.snapshot(func(h *hookLog) {
		for key, k := range h.keys {
			if k.after > 0 {
				t.Errorf("a: %s was sent again after the restart, though delivered before", key)
			}
		}
		verifyIndependently(t, h.secret, h.samples)
	})
}

// verifyIndependently checks sample deliveries with internal/webhook/testdata's Python and Node
// verifiers (each language's standard library HMAC), where the interpreter is installed.
func verifyIndependently(t *testing.T, secret string, samples map[string]hookSample) {
	t.Helper()
	for _, v := range []struct{ bin, script string }{{"python3", "verify.py"}, {"node", "verify.js"}} {
		bin, err := exec.LookPath(v.bin)
		if err != nil {
			t.Logf("%s not installed: the delivered signatures are not checked by %s", v.bin, v.script)
			continue
		}
		script, _ := filepath.Abs(filepath.Join("..", "webhook", "testdata", v.script))
		for typ, s := range samples {
			in, _ := json.Marshal(map[string]any{"secret": secret, "id": s.header.Get(webhook.HeaderID), "timestamp": s.header.Get(webhook.HeaderTimestamp),
				"signature": s.header.Get(webhook.HeaderSignature), "body_b64": base64.StdEncoding.EncodeToString(s.body), "now": s.at.Unix()})
			cmd := exec.Command(bin, script)
			cmd.Stdin = bytes.NewReader(in)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			var res struct{ OK bool }
			if err != nil || json.Unmarshal(out, &res) != nil || !res.OK {
				t.Errorf("%s does not accept the delivered %s: %s %v", v.script, typ, out, err)
			}
		}
	}
}

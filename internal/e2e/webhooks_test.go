package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webhook"
)

// The webhook receivers under examples/webhooks (and quoted in the README), each run against
// real deliveries of a real server: the webhook.test and a gift from the room's stream accepted,
// a resent webhook (the same webhook-id) handled once, and forged or stale requests refused.

// receiverProc is one example receiver running as a child process.
type receiverProc struct {
	url   string
	mu    sync.Mutex
	lines []string // what it printed after its listening line
}

func (p *receiverProc) printed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

var receiverListening = regexp.MustCompile(`^listening on (http://\S+)`)

func startReceiver(t *testing.T, secret string, argv ...string) *receiverProc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p := &receiverProc{}
	ready := make(chan string, 1)
	go func() { // ends when the process does (Cleanup kills it)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := receiverListening.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m[1]
				continue
			}
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
	}()
	select {
	case p.url = <-ready:
	case <-time.After(wait):
		t.Fatalf("%v did not start; stderr %s", argv, stderr.String())
	}
	return p
}

// apiJSON calls the server's API with a JSON body and decodes the answer.
func (s *server) apiJSON(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d %q", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func TestExamples_WebhookReceivers(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	receivers := []struct{ name, bin, file string }{
		{"python", "python3", "receiver.py"},
		{"node", "node", "receiver.mjs"},
	}
	for _, rc := range receivers {
		t.Run(rc.name, func(t *testing.T) {
			path := filepath.Join("..", "..", "examples", "webhooks", rc.file)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(readme, bytes.TrimSpace(src)) {
				t.Errorf("the README's %s receiver is not examples/webhooks/%s as it is: keep them the same", rc.name, rc.file)
			}
			bin, err := exec.LookPath(rc.bin)
			if err != nil {
				t.Skipf("%s is not installed: the %s receiver example is not run (install it to run this test)", rc.bin, rc.name)
			}
			s := startServer(t, nil, "--webhooks-allow-private")
			// The endpoint first (its secret starts the receiver), then pointed at the receiver.
			code, ep := s.apiJSON(t, "POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/","filter":{"types":["room.gift"]}}`)
			if code != http.StatusCreated {
				t.Fatalf("create: %d %v", code, ep)
			}
			id, secret := ep["id"].(string), ep["secret"].(string)
			p := startReceiver(t, secret, bin, path, "0")
			if code, m := s.apiJSON(t, "PATCH", "/v1/webhooks/"+id, `{"url":"`+p.url+`/hook"}`); code != http.StatusOK {
				t.Fatalf("point the endpoint at the receiver: %d %v", code, m)
			}

			// A real delivery of each kind: the test (synchronous), and a gift from the stream.
			code, test := s.apiJSON(t, "POST", "/v1/webhooks/"+id+"/test", "")
			if code != http.StatusOK || test["success"] != true || test["status"] != float64(204) {
				t.Fatalf("test webhook: %d %v; want the receiver's 204", code, test)
			}
			if code, m := s.apiJSON(t, "POST", "/v1/rooms/giftroom/simulate", `{"type":"gift","user":"fan","giftName":"Lion","diamonds":500}`); code != http.StatusAccepted {
				t.Fatalf("simulate: %d %v", code, m)
			}
			gifts := func() (n int) {
				for _, l := range p.printed() {
					if strings.HasPrefix(l, webhook.TypeGift+" ") {
						n++
					}
				}
				return n
			}
			testutil.Eventually(t, wait, func() bool { return gifts() == 1 }, "the receiver printed the gift; it printed %q", p.printed())
			if l := p.printed(); !strings.Contains(strings.Join(l, "\n"), `"giftName": "Lion"`) && !strings.Contains(strings.Join(l, "\n"), `"giftName":"Lion"`) {
				t.Errorf("the receiver's gift line lacks the event: %q", l)
			}

			// Resent (the same webhook-id, a new timestamp and signature): accepted, handled once.
			var list []any
			testutil.Eventually(t, wait, func() bool {
				_, ds := s.apiJSON(t, "GET", "/v1/webhooks/"+id+"/deliveries?status=delivered", "")
				list, _ = ds["deliveries"].([]any)
				return len(list) == 1
			}, "the gift recorded as delivered")
			msgID := list[0].(map[string]any)["msgId"].(string)
			if code, m := s.apiJSON(t, "POST", "/v1/webhooks/"+id+"/deliveries/"+msgID+"/resend", ""); code != http.StatusAccepted {
				t.Fatalf("resend: %d %v", code, m)
			}
			testutil.Eventually(t, wait, func() bool {
				_, ds := s.apiJSON(t, "GET", "/v1/webhooks/"+id+"/deliveries?status=delivered", "")
				l, _ := ds["deliveries"].([]any)
				return len(l) == 1 && l[0].(map[string]any)["attempts"] == float64(2)
			}, "the resend delivered")
			if n := gifts(); n != 1 {
				t.Errorf("the receiver handled the resent gift again: %d gift lines", n)
			}

			// Straight to the receiver: it takes a well-signed request and refuses forged ones.
			body := []byte(`{"type":"webhook.test","timestamp":"2026-01-01T00:00:00.000Z","data":{"test":{"endpoint_id":"x"}}}`)
			other, _ := webhook.NewSecret()
			now := time.Now()
			cases := []struct {
				name   string
				secret string
				ts     time.Time
				body   []byte
				tamper bool
				want   int
			}{
				{"signed", secret, now, body, false, http.StatusNoContent},
				{"tampered body", secret, now, body, true, http.StatusUnauthorized},
				{"another secret", other, now, body, false, http.StatusUnauthorized},
				{"ten minutes old", secret, now.Add(-10 * time.Minute), body, false, http.StatusUnauthorized},
			}
			for i, c := range cases {
				sig, _ := webhook.SignatureHeader([]string{c.secret}, "msg_forge"+strconv.Itoa(i), c.ts, c.body)
				sent := c.body
				if c.tamper {
					sent = bytes.Replace(c.body, []byte(`"x"`), []byte(`"y"`), 1)
				}
				req, _ := http.NewRequest("POST", p.url+"/hook", bytes.NewReader(sent))
				req.Header.Set(webhook.HeaderID, "msg_forge"+strconv.Itoa(i))
				req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(c.ts.Unix(), 10))
				req.Header.Set(webhook.HeaderSignature, sig)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Errorf("%s: the receiver answered %d, want %d", c.name, resp.StatusCode, c.want)
				}
			}
		})
	}
}

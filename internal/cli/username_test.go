package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// firstLine is a Writer that calls done once, when the first whole line has been written.
type firstLine struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
	done func()
}

func (w *firstLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.IndexByte(w.buf.Bytes(), '\n') >= 0 {
		w.once.Do(w.done)
	}
	return len(p), nil
}

func (w *firstLine) line() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l, _, _ := strings.Cut(w.buf.String(), "\n")
	return l
}

// TestUsername_EntryPoints feeds the same strings through every place a username comes in and
// expects one key from all of them ("" = refused): webcast.ParseUsername, the room manager's key,
// the client's Resolve, the watch subcommand, decode --username and the HTTP routes. The hub's
// rooms= filter deliberately differs (see hub.normalizeRoom), so it has its own column.
func TestUsername_EntryPoints(t *testing.T) {
	leakcheck.Check(t)
	tests := []struct {
		in, key string
		filter  string // hub.ParseFilter's key for rooms=in; "" = refused
		// The HTTP server refuses a path with an empty segment before any route runs (an escaped
		// "//" decodes to one; see httpapi's hostile tests), so a URL with a scheme cannot be a
		// path's {username}. Deliberate: the path check comes first, for every route.
		badPath bool
	}{
		{in: "alice", key: "alice", filter: "alice"},
		{in: "@Alice", key: "alice", filter: "alice"},
		{in: "ALICE.B_c", key: "alice.b_c", filter: "alice.b_c"},
		{in: "  @Alice\t", key: "alice"},
		{in: "https://www.tiktok.com/@Alice/live", key: "alice", badPath: true},
		{in: "tiktok.com/@alice?lang=en", key: "alice"},
		{in: "https://m.tiktok.com/@alice/", key: "alice", badPath: true},
		{in: "www.tiktok.com/@alice/live", key: "alice"},
		{in: "a", filter: "a"},                                         // too short for TikTok
		{in: strings.Repeat("b", 25), filter: strings.Repeat("b", 25)}, // too long for TikTok
		{in: "ali ce"}, {in: "@@alice"}, {in: "\u212aelvin"}, {in: "ali-ce"}, // not allowed by either
		{in: "https://evil.example/@alice", badPath: true},
	}

	fake, err := faketiktok.Start(t.Context(), faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 5}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	u := fake.URLs()
	client := webcast.New(webcast.Config{WebURL: u.Web, WebcastURL: u.Webcast})
	srv := startServer(t, 5)
	gift := webcasttest.Find("gift_streak_final")
	capture := captureLine(gift.Method, gift.Payload()) + "\n"

	entryPoints := []struct {
		name string
		key  func(t *testing.T, in string) string // "" = refused
	}{
		{"webcast.ParseUsername", func(t *testing.T, in string) string {
			key, _ := webcast.ParseUsername(in)
			return key
		}},
		{"room.Key", func(t *testing.T, in string) string {
			key, _ := room.Key(in)
			return key
		}},
		{"room manager (Inject)", func(t *testing.T, in string) string {
			h := hub.New(hub.Options{})
			defer h.Close()
			m := room.NewManager(t.Context(), room.Config{}, 1, h, stream.Options{})
			defer m.Close()
			ev := event.Event{Type: event.TypeChat, Time: time.Now().UTC(), Data: event.ChatData{Sender: "v", Comment: "hi"}}
			if err := m.Inject(in, ev); err != nil {
				return ""
			}
			streams := m.Streams()
			if len(streams) != 1 {
				t.Fatalf("%d streams after one Inject", len(streams))
			}
			return streams[0].Username
		}},
		{"client Resolve", func(t *testing.T, in string) string {
			info, err := client.Resolve(t.Context(), in)
			if err != nil {
				if webcast.KindOf(err) != webcast.KindUserNotFound {
					t.Errorf("Resolve(%q): %v, want a user-not-found error", in, err)
				}
				return ""
			}
			return info.Username
		}},
		{"watch subcommand", func(t *testing.T, in string) string {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			out := &firstLine{done: cancel}
			var errOut bytes.Buffer
			code := Run(ctx, []string{"watch", "--sign-url", u.Sign, "--tiktok-web-url", u.Web, "--tiktok-webcast-url", u.Webcast, in},
				strings.NewReader(""), out, &errOut)
			if code != 0 {
				if !strings.Contains(errOut.String(), "not a TikTok username") {
					t.Errorf("watch %q exited %d: %s", in, code, errOut.String())
				}
				return ""
			}
			var e struct{ Type, Username string }
			if err := json.Unmarshal([]byte(out.line()), &e); err != nil || e.Type != "connection_created" {
				t.Fatalf("watch %q: first line %q (%v), want connection_created", in, out.line(), err)
			}
			return e.Username
		}},
		{"decode --username", func(t *testing.T, in string) string {
			var stdout, stderr bytes.Buffer
			if code := Run(t.Context(), []string{"decode", "--username", in}, strings.NewReader(capture), &stdout, &stderr); code != 0 {
				return ""
			}
			var e struct{ Username string }
			if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &e); err != nil {
				t.Fatalf("decode: %q: %v", stdout.String(), err)
			}
			return e.Username
		}},
		{"HTTP GET /v1/rooms/{username}", func(t *testing.T, in string) string {
			resp, err := http.Get(srv.base + "/v1/rooms/" + url.PathEscape(in))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Code, Username string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("GET %q: %v", in, err)
			}
			switch {
			case resp.StatusCode == http.StatusNotFound && body.Code == "not_found":
				return body.Username
			case resp.StatusCode == http.StatusBadRequest && body.Code == "bad_username":
				return ""
			}
			return fmt.Sprintf("(HTTP %d %s)", resp.StatusCode, body.Code)
		}},
	}
	for _, ep := range entryPoints {
		t.Run(ep.name, func(t *testing.T) {
			for _, tt := range tests {
				want := tt.key
				if tt.badPath && strings.HasPrefix(ep.name, "HTTP") {
					want = "(HTTP 400 bad_path)"
				}
				if got := ep.key(t, tt.in); got != want {
					t.Errorf("%q: key %q, want %q", tt.in, got, want)
				}
			}
		})
	}
	t.Run("hub.ParseFilter rooms=", func(t *testing.T) {
		for _, tt := range tests {
			var got string
			if f, err := hub.ParseFilter(url.Values{"rooms": {tt.in}}); err == nil {
				for k := range f.Rooms {
					got = k
				}
			}
			if got != tt.filter {
				t.Errorf("rooms=%q: key %q, want %q", tt.in, got, tt.filter)
			}
			if tt.key != "" && got != "" && got != tt.key {
				t.Errorf("rooms=%q: key %q, but the rooms key is %q", tt.in, got, tt.key)
			}
		}
	})
}

package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webhook"
)

// benchReceiver verifies every delivery's signature and counts them by webhook-id, type and room.
type benchReceiver struct {
	mu      sync.Mutex
	secret  string
	ids     map[string]int            // webhook-id -> requests
	rooms   map[string]map[string]int // type -> room -> distinct webhooks
	last    map[string]time.Time      // type -> when its latest new webhook arrived
	badSigs []string
}

func (h *benchReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var env struct {
		Type string `json:"type"`
		Data struct {
			Room struct {
				UniqueID string `json:"unique_id"`
			} `json:"room"`
		} `json:"data"`
	}
	json.Unmarshal(body, &env)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := webhook.Verify(h.secret, r.Header, body, time.Now(), 0); err != nil {
		h.badSigs = append(h.badSigs, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := r.Header.Get(webhook.HeaderID)
	h.ids[id]++
	if h.ids[id] == 1 {
		if h.rooms[env.Type] == nil {
			h.rooms[env.Type] = map[string]int{}
		}
		h.rooms[env.Type][env.Data.Room.UniqueID]++
		h.last[env.Type] = time.Now()
	}
	w.WriteHeader(http.StatusNoContent)
}

// counts returns distinct webhooks of a type, distinct rooms among them, and requests that
// repeated a webhook-id already received.
func (h *benchReceiver) counts(typ string) (webhooks, rooms, dups int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.rooms[typ] {
		webhooks += n
	}
	for _, n := range h.ids {
		dups += n - 1
	}
	return webhooks, len(h.rooms[typ]), dups
}

// BenchmarkWatch200 is the watch list at scale, end to end on loopback: 200 creators on the fake
// TikTok, all offline, watched by one server (PUT /v1/rooms/{u}); every one goes live, then ends.
// A receiver verifies each webhook's signature and counts them by webhook-id: it must get 200
// room.live_started and 200 room.live_ended, one per creator, and no id twice. The metrics are
// the sign calls the fake answered (total, per creator, and while the creators were offline,
// which must be 0: offline rooms are checked on TikTok's web routes), the webhooks delivered and
// the seconds from the flip to the last webhook of each kind. --sign-quota 0 so the connects are
// not paced (at the default 60/min, 200 connects alone take over 3 minutes).
// Run: go test -run '^$' -bench BenchmarkWatch200 -benchtime=1x ./internal/cli/
func BenchmarkWatch200(b *testing.B) {
	if testing.Short() {
		b.Skip("runs a server with 200 rooms")
	}
	const creators = 200
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		watch200(b, creators)
	}
}

func watch200(b *testing.B, creators int) {
	s := startServerWith(b, faketiktok.Options{Default: faketiktok.StreamConfig{HistorySize: -1}},
		"--max-rooms", fmt.Sprint(creators), "--live-poll", "500ms", "--sign-quota", "0", "--webhooks-allow-private")
	fake := s.fake
	rcv := &benchReceiver{ids: map[string]int{}, rooms: map[string]map[string]int{}, last: map[string]time.Time{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()

	var ep struct{ ID, Secret string }
	body := `{"url":"` + srv.URL + `/hook","filter":{"types":["` + webhook.TypeLiveStarted + `","` + webhook.TypeLiveEnded + `"]}}`
	if code := api(b, "POST", s.base+"/v1/webhooks", body, &ep); code != http.StatusCreated {
		b.Fatalf("create endpoint: %d %+v", code, ep)
	}
	rcv.mu.Lock()
	rcv.secret = ep.Secret
	rcv.mu.Unlock()

	names := make([]string, creators)
	for i := range names {
		names[i] = fmt.Sprintf("offline%03d", i) // the fake's "offline" prefix: not live until SetLive
		if code := api(b, "PUT", s.base+"/v1/rooms/"+names[i], "", nil); code != http.StatusCreated {
			b.Fatalf("PUT %s: %d", names[i], code)
		}
	}
	// Every room waits for live and has been checked at least once: its nextCheckAt moved on.
	first := map[string]any{}
	testutil.Eventually(b, 60*time.Second, func() bool {
		done := 0
		for name, st := range roomsOf(b, s.base) {
			at := st["nextCheckAt"]
			if st["state"] != "waiting_for_live" || at == nil {
				continue
			}
			if f, ok := first[name]; !ok {
				first[name] = at
			} else if f != at {
				done++
			}
		}
		return done == creators
	}, "not every room was checked while offline")
	signs := func() int {
		n := 0
		for _, name := range names {
			n += len(fake.Record(name).SignCalls)
		}
		return n
	}
	offlineSigns := signs()

	b.ResetTimer()
	start := time.Now()
	for _, name := range names {
		fake.SetLive(name, true)
	}
	waitHooks(b, rcv, webhook.TypeLiveStarted, creators)
	rcv.mu.Lock()
	toStarted := rcv.last[webhook.TypeLiveStarted].Sub(start)
	rcv.mu.Unlock()

	start = time.Now()
	for _, name := range names {
		fake.SetLive(name, false)
	}
	waitHooks(b, rcv, webhook.TypeLiveEnded, creators)
	rcv.mu.Lock()
	toEnded := rcv.last[webhook.TypeLiveEnded].Sub(start)
	rcv.mu.Unlock()
	b.StopTimer()

	total := signs()
	started, _, _ := rcv.counts(webhook.TypeLiveStarted)
	ended, _, dups := rcv.counts(webhook.TypeLiveEnded)
	rcv.mu.Lock()
	bad := rcv.badSigs
	rcv.mu.Unlock()
	if len(bad) > 0 {
		b.Fatalf("%d bad signatures, first %s", len(bad), bad[0])
	}
	if dups != 0 {
		b.Fatalf("%d webhooks received twice", dups)
	}
	if offlineSigns != 0 {
		b.Fatalf("%d sign calls while every creator was offline, want 0", offlineSigns)
	}
	b.ReportMetric(float64(total), "signs")
	b.ReportMetric(float64(total)/float64(creators), "signs/creator")
	b.ReportMetric(float64(offlineSigns), "signs-offline")
	b.ReportMetric(float64(started+ended), "webhooks")
	b.ReportMetric(toStarted.Seconds(), "s-to-all-started")
	b.ReportMetric(toEnded.Seconds(), "s-to-all-ended")
	b.ReportMetric(float64(dups), "dups")
	stopServer(b, s)
}

// waitHooks polls until the receiver has want webhooks of typ, one for each of want rooms.
func waitHooks(b *testing.B, rcv *benchReceiver, typ string, want int) {
	b.Helper()
	testutil.Eventually(b, 120*time.Second, func() bool {
		n, rooms, dups := rcv.counts(typ)
		if dups > 0 || n > want {
			b.Fatalf("%s: %d webhooks for %d rooms, %d ids received twice", typ, n, rooms, dups)
		}
		return n == want && rooms == want
	}, "%s: not every creator's webhook arrived", typ)
}

package faketiktok

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

func TestServer_Sign(t *testing.T) {
	f := start(t, Options{Default: StreamConfig{Rate: 0}})
	tests := []struct {
		name     string
		path     func(id int64) string
		user     string
		wantMsgs bool
	}{
		{"2.0.7 route", func(id int64) string { return fmt.Sprintf("/webcast/fetch?client=ttlive-node&room_id=%d", id) }, "streamer", true},
		{"2.5.0 route", func(id int64) string { return fmt.Sprintf("/webcast/rooms/%d/connect?client=ttlive-node", id) }, "streamer", true},
		{"offline room", func(id int64) string { return fmt.Sprintf("/webcast/fetch?room_id=%d", id) }, "offline_anna", false},
		{"unknown room", func(int64) string { return "/webcast/fetch?room_id=7411111111111111111" }, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var id int64 = 7411111111111111111
			if tt.user != "" {
				id = f.srv.RoomID(tt.user)
				f.srv.Inject(tt.user, "WebcastChatMessage", &pb.ChatMessage{Comment: "before the sign"})
			}
			r := f.get(tt.path(id))
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/x-protobuf" {
				t.Errorf("Content-Type %q", ct)
			}
			if c := r.header.Get("X-Set-TT-Cookie"); !strings.HasPrefix(c, "ttwid=") || len(c) < 20 {
				t.Errorf("X-Set-TT-Cookie %q, want ttwid=<random>", c)
			}
			if got := r.header.Get("X-Room-Id"); got != fmt.Sprint(id) {
				t.Errorf("X-Room-Id %q, want %d", got, id)
			}
			if _, err := strconv.ParseInt(r.header.Get("X-Log-Id"), 10, 64); err != nil {
				t.Errorf("X-Log-Id %q is not a number", r.header.Get("X-Log-Id"))
			}
			res := new(pb.FetchResult)
			if err := proto.Unmarshal(r.body, res); err != nil {
				t.Fatalf("body is not a FetchResult: %v", err)
			}
			wantURL := "ws://" + f.srv.HostPort() + "/webcast/im/ws_proxy/ws_reuse_supplement/"
			if res.GetCursor() == "" || res.GetWsUrl() != wantURL || !res.GetNeedsAck() || res.GetInternalExt() == "" ||
				!res.GetIsFirst() || res.GetServerNowMs() == 0 || res.GetFetchIntervalMs() == 0 {
				t.Errorf("answer = %v; want cursor, ws_url %s, needs_ack, internal_ext, is_first, now, fetch interval", res, wantURL)
			}
			if got := len(res.GetMessages()) > 0; got != tt.wantMsgs {
				t.Errorf("has messages = %v, want %v", got, tt.wantMsgs)
			}
		})
	}
	if r := f.get("/webcast/fetch?client=ttlive-node"); r.status != http.StatusBadRequest {
		t.Errorf("no room_id: status %d, want 400", r.status)
	}
	rec := f.srv.Record("streamer")
	if len(rec.SignCalls) != 2 {
		t.Fatalf("%d sign calls recorded for streamer, want 2", len(rec.SignCalls))
	}
	if c := rec.SignCalls[0]; c.Path != "/webcast/fetch" || c.Query.Get("client") != "ttlive-node" || c.Status != 200 {
		t.Errorf("first sign call = %+v", c)
	}
	if c := rec.SignCalls[1]; c.Path != fmt.Sprintf("/webcast/rooms/%d/connect", f.srv.RoomID("streamer")) {
		t.Errorf("second sign call path = %q", c.Path)
	}
}

func TestServer_SignUniqueID(t *testing.T) {
	f := start(t, Options{})
	// connectWithUniqueId: the sign server resolves the room itself.
	r := f.get("/webcast/fetch?client=ttlive-node&unique_id=fresh_user")
	if r.status != http.StatusOK || r.header.Get("X-Room-Id") != fmt.Sprint(DeriveRoomID("fresh_user")) {
		t.Errorf("status %d, X-Room-Id %q; want 200, %d", r.status, r.header.Get("X-Room-Id"), DeriveRoomID("fresh_user"))
	}
}

func TestServer_SignFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		wantStatus int
		check      func(t *testing.T, r response)
	}{
		{
			name: "429", fault: Fault{Kind: FaultSign429, RetryAfter: 1500 * time.Millisecond}, wantStatus: 429,
			check: func(t *testing.T, r response) {
				if got := r.header.Get("Retry-After"); got != "2" { // seconds, rounded up
					t.Errorf("Retry-After %q, want 2", got)
				}
				reset, err := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
				if want := time.Now().Unix() + 2; err != nil || math.Abs(float64(reset-want)) > 2 {
					t.Errorf("X-RateLimit-Reset %q, want about %d", r.header.Get("X-RateLimit-Reset"), want)
				}
				var m map[string]any
				if err := json.Unmarshal(r.body, &m); err != nil {
					t.Fatal(err)
				}
				if msg, _ := m["message"].(string); len(msg) < 19 {
					t.Errorf("message %q shorter than 19 chars (crashes the JS libs)", msg)
				}
				if lbl, _ := m["limit_label"].(string); lbl == "" {
					t.Errorf("no limit_label")
				}
			},
		},
		{
			name: "429 default wait", fault: Fault{Kind: FaultSign429, Message: "custom rate limit message!"}, wantStatus: 429,
			check: func(t *testing.T, r response) {
				if r.header.Get("Retry-After") != "30" || !strings.Contains(string(r.body), "custom rate limit message!") {
					t.Errorf("Retry-After %q, body %s", r.header.Get("Retry-After"), r.body)
				}
			},
		},
		{
			name: "402", fault: Fault{Kind: FaultSign402}, wantStatus: 402,
			check: func(t *testing.T, r response) {
				var m map[string]any
				if err := json.Unmarshal(r.body, &m); err != nil {
					t.Fatal(err)
				}
				if msg, _ := m["message"].(string); len(msg) < 19 {
					t.Errorf("message %q", msg)
				}
			},
		},
		{
			name: "5xx", fault: Fault{Kind: FaultSign5xx, Message: "boom"}, wantStatus: 500,
			check: func(t *testing.T, r response) {
				if !strings.Contains(string(r.body), "boom") {
					t.Errorf("body %q", r.body)
				}
			},
		},
		{
			name: "no cookie", fault: Fault{Kind: FaultSignNoCookie}, wantStatus: 200,
			check: func(t *testing.T, r response) {
				if _, ok := r.header["X-Set-Tt-Cookie"]; ok {
					t.Errorf("X-Set-TT-Cookie present")
				}
				if res := new(pb.FetchResult); proto.Unmarshal(r.body, res) != nil || res.GetCursor() == "" {
					t.Errorf("body is not a full answer")
				}
			},
		},
		{
			name: "empty", fault: Fault{Kind: FaultSignEmpty}, wantStatus: 200,
			check: func(t *testing.T, r response) {
				if len(r.body) != 0 || r.header.Get("X-Set-TT-Cookie") == "" {
					t.Errorf("body %d bytes, cookie %q; want empty body with the cookie", len(r.body), r.header.Get("X-Set-TT-Cookie"))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, Options{})
			id := f.srv.RoomID("streamer")
			f.srv.AddFault("streamer", tt.fault)
			r := f.sign(id).resp
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			tt.check(t, r)
			if next := f.sign(id).resp; next.status != http.StatusOK || next.header.Get("X-Set-TT-Cookie") == "" || len(next.body) == 0 {
				t.Errorf("the fault (Times 0 = once) hit the next call too: %d", next.status)
			}
			rec := f.srv.Record("streamer")
			if len(rec.SignCalls) != 2 || rec.SignCalls[0].Status != tt.wantStatus || rec.SignCalls[1].Status != 200 {
				t.Errorf("recorded statuses %+v", rec.SignCalls)
			}
		})
	}
}

func TestServer_SignFaultTimes(t *testing.T) {
	tests := []struct {
		times int
		calls int
		want  []int
	}{
		{times: 1, calls: 2, want: []int{429, 200}},
		{times: 3, calls: 4, want: []int{429, 429, 429, 200}},
		{times: -1, calls: 5, want: []int{429, 429, 429, 429, 429}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.times), func(t *testing.T) {
			f := start(t, Options{})
			f.srv.AddFault("streamer", Fault{Kind: FaultSign429, Times: tt.times})
			f.srv.AddFault("streamer", Fault{Kind: FaultAbruptClose}) // socket faults do not hit sign calls
			var got []int
			for range tt.calls {
				got = append(got, f.sign(f.srv.RoomID("streamer")).resp.status)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("statuses %v, want %v", got, tt.want)
			}
		})
	}
}

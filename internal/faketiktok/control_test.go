package faketiktok

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

func TestServer_ControlUsers(t *testing.T) {
	f := start(t, Options{})
	r := f.do(http.MethodPut, "/_fake/users/bench1", `{"kind":"offline","roomId":"7411111111111111112","rate":5,"historySize":3,"endAfter":0}`, nil)
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil || r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	if m["roomId"] != "7411111111111111112" || m["live"] != false || m["kind"] != "offline" {
		t.Errorf("PUT answer %v", m)
	}
	if f.srv.RoomID("bench1") != 7411111111111111112 {
		t.Errorf("RoomID %d", f.srv.RoomID("bench1"))
	}
	r = f.do(http.MethodPost, "/_fake/users/bench1/live", `{"live":true}`, nil)
	if r.status != http.StatusOK || f.sign(7411111111111111112).result.GetCursor() == "" {
		t.Fatalf("POST live: %d %s", r.status, r.body)
	}
	if _, m := f.getJSON("/webcast/room/info/?room_id=7411111111111111112"); testutil.Dig(m, "data", "status") != float64(2) {
		t.Errorf("room status after POST live = %v", testutil.Dig(m, "data", "status"))
	}
	if got := len(f.sign(7411111111111111112).result.GetMessages()); got != 3 {
		t.Errorf("history %d messages, want historySize 3", got)
	}
	// A number works as well as a string for the room id.
	if r := f.do(http.MethodPut, "/_fake/users/bench2", `{"roomId":7411111111111111113}`, nil); r.status != http.StatusOK || f.srv.RoomID("bench2") != 7411111111111111113 {
		t.Errorf("numeric roomId: %d %s", r.status, r.body)
	}
}

func TestServer_ControlFaultsAndInject(t *testing.T) {
	f := start(t, Options{})
	id := f.srv.RoomID("streamer")
	r := f.do(http.MethodPost, "/_fake/users/streamer/faults", map[string]any{
		"kind": "sign_429", "times": 2, "retryAfterMs": 1000, "message": "slow down please, fake sign server",
	}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("POST faults: %d %s", r.status, r.body)
	}
	for i, want := range []int{429, 429, 200} {
		s := f.sign(id)
		if s.resp.status != want {
			t.Errorf("sign %d: %d, want %d", i, s.resp.status, want)
		}
		if want == 429 && s.resp.header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q", s.resp.header.Get("Retry-After"))
		}
	}

	c, _ := f.dial(id)
	payload := []byte{0x1a, 0x05, 'h', 'e', 'l', 'l', 'o', 0xff} // sent as is, even if it does not decode
	r = f.do(http.MethodPost, "/_fake/users/streamer/inject", map[string]any{
		"method": webcast.MethodChat, "payload": base64.StdEncoding.EncodeToString(payload),
	}, nil)
	var inj map[string]string
	if err := json.Unmarshal(r.body, &inj); err != nil || r.status != http.StatusOK {
		t.Fatalf("inject: %d %s", r.status, r.body)
	}
	w := c.messages(1)[0]
	if fmt.Sprint(w.GetMsgId()) != inj["msgId"] || !bytes.Equal(w.GetPayload(), payload) {
		t.Errorf("socket got %d %x, want %s %x", w.GetMsgId(), w.GetPayload(), inj["msgId"], payload)
	}

	var em []map[string]string
	if err := json.Unmarshal(f.get("/_fake/users/streamer/emitted").body, &em); err != nil {
		t.Fatal(err)
	}
	if last := em[len(em)-1]; last["msgId"] != inj["msgId"] || last["method"] != webcast.MethodChat {
		t.Errorf("last emitted %v", last)
	}
	var rec struct {
		SignCalls []struct{ Status int } `json:"signCalls"`
		Sockets   []struct {
			SentLogIDs []string `json:"sentLogIds"`
			Refused    bool     `json:"refused"`
		} `json:"sockets"`
	}
	eventually(t, "the record to show the socket's frames", func() bool {
		if err := json.Unmarshal(f.get("/_fake/users/streamer/record").body, &rec); err != nil {
			t.Fatal(err)
		}
		return len(rec.Sockets) == 1 && len(rec.Sockets[0].SentLogIDs) > 0
	})
	if len(rec.SignCalls) != 4 || rec.SignCalls[0].Status != 429 || rec.SignCalls[3].Status != 200 {
		t.Errorf("record sign calls %+v", rec.SignCalls)
	}
}

func TestServer_ControlBadInput(t *testing.T) {
	f := start(t, Options{})
	tests := []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPut, "/_fake/users/x", `{"kind":"sleeping"}`, 400},
		{http.MethodPut, "/_fake/users/x", `{"rate":-1}`, 400},
		{http.MethodPut, "/_fake/users/x", `{"historySize":-2}`, 400},
		{http.MethodPut, "/_fake/users/x", `{"endAfter":-1}`, 400},
		{http.MethodPut, "/_fake/users/x", `{"roomId":"abc"}`, 400},
		{http.MethodPut, "/_fake/users/x", `{"unknownField":1}`, 400},
		{http.MethodPut, "/_fake/users/x", `not json`, 400},
		{http.MethodPut, "/_fake/users/x", `{} {}`, 400},
		{http.MethodPost, "/_fake/users/x/live", `{}`, 400},
		{http.MethodPost, "/_fake/users/x/faults", `{"kind":"meteor"}`, 400},
		{http.MethodPost, "/_fake/users/x/faults", `{"kind":"stall","times":-2}`, 400},
		{http.MethodPost, "/_fake/users/x/faults", `{"kind":"stall","afterMessages":-1}`, 400},
		{http.MethodPost, "/_fake/users/x/inject", `{"payload":"AA=="}`, 400},
		{http.MethodPost, "/_fake/users/x/inject", `{"method":"WebcastChatMessage","payload":"%%%"}`, 400},
		{http.MethodGet, "/_fake/nothing", ``, 404},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			r := f.do(tt.method, tt.path, tt.body, nil)
			var m map[string]any
			if err := json.Unmarshal(r.body, &m); err != nil {
				t.Fatalf("not JSON: %s", r.body)
			}
			if r.status != tt.want || m["code"] == nil || m["message"] == nil {
				t.Errorf("%d %v, want %d with code and message", r.status, m, tt.want)
			}
		})
	}
}

// TestServer_MaxEmitted: a long-running fake (the demo) keeps only about the newest MaxEmitted
// entries of its emitted log, the newest last.
func TestServer_MaxEmitted(t *testing.T) {
	for _, tc := range []struct{ max, inject, wantAtMost int }{{10, 100, 20}, {0, 100, 100}} {
		s, err := Start(context.Background(), Options{MaxEmitted: tc.max, Default: StreamConfig{HistorySize: -1}})
		if err != nil {
			t.Fatal(err)
		}
		var last int64
		for i := range tc.inject {
			last = s.Inject("longrun", "WebcastChatMessage", &pb.ChatMessage{Comment: fmt.Sprint(i)})
		}
		got := s.Emitted("longrun")
		if len(got) > tc.wantAtMost || len(got) < min(tc.max, tc.inject) || got[len(got)-1].MsgID != last {
			t.Errorf("MaxEmitted %d: %d entries kept, last %d; want at most %d, ending with %d", tc.max, len(got), got[len(got)-1].MsgID, tc.wantAtMost, last)
		}
		s.Close()
	}
}

package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
)

// BenchmarkServer_Resume10k measures the time for a WebSocket client that missed 10,000 events
// to get them all: connect with since/epoch, receive the resume message and the 10,000 events.
//
//	go test -run '^$' -bench BenchmarkServer_Resume10k ./internal/httpapi
func BenchmarkServer_Resume10k(b *testing.B) {
	const missed = 10_000
	ctx := b.Context()
	h := hub.New(hub.Options{})
	delivered := make(chan struct{})
	n := 0
	st, err := store.Open(ctx, store.Options{Dir: b.TempDir(), QueueLimit: 1 << 30, Deliver: func(m *hub.Message) {
		h.Publish(m)
		if n++; n == missed+1 {
			close(delivered)
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	rooms := room.NewManager(ctx, room.Config{}, 1, h, stream.Options{})
	api := New(Config{Rooms: rooms, Hub: h, Store: st})
	srv := httptest.NewServer(api.Handler())
	defer func() { srv.Close(); rooms.Close(); st.Close(); h.Close() }()

	s := stream.New("hosta", h, stream.Options{Log: st})
	s.Publish(event.Lifecycle(event.TypeConnectionCreated, event.Room{Username: "hosta", RoomID: "1"}, time.Now(), event.ConnectionCreatedData{RoomID: "1", IsLive: true}))
	for i := range missed {
		s.Publish(event.Event{Type: event.TypeChat, Username: "hosta", ID: "7" + strconv.Itoa(i), Time: time.Now(),
			Data: event.ChatData{Sender: "bob", User: event.User{UserID: "1", UniqueID: "bob"}, Comment: "a chat line of ordinary length"}})
	}
	<-delivered
	epoch := s.Snapshot().Epoch
	url := "ws" + srv.URL[4:] + "/v1/ws?rooms=hosta&since=1&epoch=" + epoch
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		conn, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		for i := range missed + 1 {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if i == 0 {
				var r struct{ Data struct{ Recovered bool } }
				if json.Unmarshal(msg, &r); !r.Data.Recovered {
					b.Fatalf("not recovered: %s", msg)
				}
			}
		}
		conn.CloseNow()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/resume")
}

package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// TestRawServer_Broadcast: every client gets every ingested line, in order, as a text message,
// and /health counts the clients.
func TestRawServer_Broadcast(t *testing.T) {
	s, err := StartRaw(t.Context(), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	const clients, lines = 3, 20000 // more lines than rawTrimAt*2: the log is trimmed on the way
	var conns []*wsConn
	for range clients {
		c, err := dialWS(t.Context(), s.ws.Addr().String(), "/")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	tg := &target{name: TargetRaw, base: s.URL(), hc: testClient(t)}
	testutil.Eventually(t, 10*time.Second, func() bool {
		n, err := tg.wsClients(t.Context())
		return err == nil && n == clients
	}, "raw broadcaster never counted %d clients", clients)

	in, err := dialIngest(t.Context(), s.IngestAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	go func() { // owned by the test: ends when the lines are written or the conn is closed
		for i := 1; i <= lines; i++ {
			if _, err := fmt.Fprintf(in, `{"data":{"comment":"bench:%d:%d","pad":"%0200d"}}`+"\n", i, i, 0); err != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			for want := uint64(1); want <= lines; want++ {
				_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
				msg, err := c.next()
				if err != nil {
					t.Errorf("client %d: message %d: %v", i, want, err)
					return
				}
				if seq, _, ok := parseStamp(msg); !ok || seq != want {
					t.Errorf("client %d: got %q, want event %d", i, msg, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestRun_EndToEnd runs the bench against the featureless broadcaster and against our server
// (built into a temporary folder): every event reaches every client once, in order.
func TestRun_EndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs it as a child process")
	}
	exe := buildServer(t)
	for _, target := range []string{TargetRaw, TargetOurs} {
		t.Run(target, func(t *testing.T) {
			const clients, rate = 5, 50
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			res, err := Run(ctx, Config{Target: target, Clients: clients, Rate: rate, Duration: time.Second, Exe: exe})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			t.Logf("%+v", *res)
			const events = rate * 1 // rate × duration, no warmup
			if res.EventsSent != events || res.EventsMeasured != events || res.Connected != clients {
				t.Errorf("sent %d, measured %d, connected %d; want %d, %d, %d", res.EventsSent, res.EventsMeasured,
					res.Connected, events, events, clients)
			}
			if res.Deliveries != clients*events || res.ExpectedDeliveries != clients*events {
				t.Errorf("deliveries %d of %d, want %d", res.Deliveries, res.ExpectedDeliveries, clients*events)
			}
			if res.Missed != 0 || res.Doubled != 0 || res.Reordered != 0 || res.Unknown != 0 {
				t.Errorf("missed %d, doubled %d, reordered %d, unknown %d; want none", res.Missed, res.Doubled, res.Reordered, res.Unknown)
			}
			if res.ClientsRefused != 0 || res.ClientsClosed != 0 || res.FellBehind {
				t.Errorf("refused %d, closed %d %v, fell behind %v (%s)", res.ClientsRefused, res.ClientsClosed, res.CloseCodes,
					res.FellBehind, res.Why)
			}
			if res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 || res.Latency.Max < res.Latency.P99 ||
				res.FirstClient.P50 <= 0 || res.FirstClient.P50 > res.Latency.Max {
				t.Errorf("latency %+v, first client %+v: not ordered", res.Latency, res.FirstClient)
			}
			if res.PeakRSS <= 0 || res.CPUSeconds < 0 {
				t.Errorf("peak RSS %d, CPU %v s", res.PeakRSS, res.CPUSeconds)
			}
		})
	}
}

// TestRun_Idle: the idle scenario measures RSS before and after the clients.
func TestRun_Idle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs it as a child process")
	}
	exe := buildServer(t)
	res, err := Run(t.Context(), Config{Target: TargetRaw, Clients: 20, Duration: 100 * time.Millisecond, Exe: exe})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Connected != 20 || res.RSSNoClients <= 0 || res.RSSWithClients <= 0 || res.EventsSent != 0 || res.FellBehind {
		t.Errorf("idle result %+v", *res)
	}
}

var (
	buildOnce sync.Once
	buildExe  string
	buildErr  error
	buildOut  []byte
)

// buildServer builds cmd/tiktok-live-server once per test binary.
func buildServer(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bench-test-")
		if err != nil {
			buildErr = err
			return
		}
		buildExe = filepath.Join(dir, "tiktok-live-server")
		cmd := exec.Command("go", "build", "-o", buildExe, "../../cmd/tiktok-live-server")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return buildExe
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildExe != "" {
		_ = os.RemoveAll(filepath.Dir(buildExe))
	}
	os.Exit(code)
}

func testClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestRunRooms_EndToEnd: 3 rooms × 2 clients and the all-rooms client on our server (built into a
// temporary folder); every event of the mix reaches its room's clients and the all-rooms client
// once and in order, no client gets another room's, and the event log holds every one.
func TestRunRooms_EndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs it as a child process")
	}
	exe := buildServer(t)
	const rooms, rate, clientsPerRoom = 3, 20, 2
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	res, err := RunRooms(ctx, Config{Target: TargetOurs, Rooms: rooms, RoomRate: rate, ClientsPerRoom: clientsPerRoom,
		Duration: time.Second, Exe: exe})
	if err != nil {
		t.Fatalf("RunRooms: %v", err)
	}
	t.Logf("%+v", *res)
	const perRoom = rate * 1 // rate × duration, no warmup
	const events = rooms * perRoom
	const clients = rooms*clientsPerRoom + 1
	if res.EventsSent != events || res.RoomsConnected != rooms || res.Connected != clients || res.AllRoomClients != 1 {
		t.Errorf("sent %d, rooms %d, clients %d (all-rooms %d); want %d, %d, %d (1)", res.EventsSent, res.RoomsConnected,
			res.Connected, res.AllRoomClients, events, rooms, clients)
	}
	// Each room's clients get its events; the all-rooms client gets every room's.
	if want := int64(events*clientsPerRoom + events); res.Deliveries != want || res.ExpectedDeliveries != want {
		t.Errorf("deliveries %d of %d, want %d", res.Deliveries, res.ExpectedDeliveries, want)
	}
	if res.Missed != 0 || res.Doubled != 0 || res.Reordered != 0 || res.Foreign != 0 || res.Unknown != 0 {
		t.Errorf("missed %d, doubled %d, reordered %d, foreign %d, unknown %d; want none", res.Missed, res.Doubled,
			res.Reordered, res.Foreign, res.Unknown)
	}
	// 20 messages a room: two cycles of the mix (4 chats, 2 likes, 2 gifts, a join, a viewer count).
	wantSent := map[string]int64{"chat": 8 * rooms, "like": 4 * rooms, "gift": 4 * rooms, "member": 2 * rooms, "roomUser": 2 * rooms}
	for typ, n := range wantSent {
		if res.SentByType[typ] != n || res.ReceivedByType[typ] != n*(clientsPerRoom+1) {
			t.Errorf("%s: sent %d, received %d; want %d, %d", typ, res.SentByType[typ], res.ReceivedByType[typ], n, n*(clientsPerRoom+1))
		}
	}
	if !res.StoreChecked || res.Stored != events || res.StoreMissing != 0 || res.StoreDoubled != 0 || res.StoreReordered != 0 ||
		res.StoreUnstored != 0 || res.StoreShed != 0 {
		t.Errorf("event log: checked %v, stored %d of %d, missing %d, doubled %d, reordered %d, unstored %d, shed %d",
			res.StoreChecked, res.Stored, events, res.StoreMissing, res.StoreDoubled, res.StoreReordered, res.StoreUnstored, res.StoreShed)
	}
	if res.ClientsRefused != 0 || res.ClientsClosed != 0 || res.RoomsNotLive != 0 || res.FellBehind {
		t.Errorf("refused %d, closed %d %v, rooms not live %d, fell behind %v (%s)", res.ClientsRefused, res.ClientsClosed,
			res.CloseCodes, res.RoomsNotLive, res.FellBehind, res.Why)
	}
	if res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 || res.Latency.Max < res.Latency.P99 {
		t.Errorf("latency %+v: not ordered", res.Latency)
	}
	if res.RSSBaseline <= 0 || res.RSSRooms <= 0 || res.RSSClients <= 0 || res.PeakRSS <= 0 || res.CPUSeconds < 0 {
		t.Errorf("RSS %d / %d / %d, peak %d, CPU %v s", res.RSSBaseline, res.RSSRooms, res.RSSClients, res.PeakRSS, res.CPUSeconds)
	}
}

// TestRunRooms_Refused: the rooms mode refuses what it cannot measure, before starting anything.
func TestRunRooms_Refused(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no rooms", Config{Target: TargetOurs, Duration: time.Second}},
		{"the original with two rooms", Config{Target: TargetSeed, Rooms: 2, Duration: time.Second}},
		{"the raw broadcaster", Config{Target: TargetRaw, Rooms: 1, Duration: time.Second}},
		{"a negative rate", Config{Target: TargetOurs, Rooms: 1, RoomRate: -1, Duration: time.Second}},
		{"too many messages per room", Config{Target: TargetOurs, Rooms: 1, RoomRate: 1e6, Duration: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := RunRooms(t.Context(), tt.cfg); err == nil {
				t.Error("RunRooms ran; want an error")
			}
		})
	}
}

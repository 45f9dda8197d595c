package cli

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// BenchmarkRoomsIdleHeap is the memory of a connected room, in process: 200 rooms on the fake
// TikTok (live, sending nothing) watched by one server (PUT /v1/rooms/{u}); once all are
// connected, the live heap after a GC, minus the heap before the rooms, per room. The fake runs
// in the same process, so its rooms are in the figure too (their share shows in a heap profile:
// ROOMS_HEAP_PROFILE=FILE writes one with every room connected).
// Run: go test -run '^$' -bench BenchmarkRoomsIdleHeap -benchtime=1x ./internal/cli/
func BenchmarkRoomsIdleHeap(b *testing.B) {
	const rooms = 200
	b.ReportAllocs()
	for b.Loop() {
		s := startServerWith(b, faketiktok.Options{Default: faketiktok.StreamConfig{HistorySize: -1}},
			"--sign-quota", "0", "--max-rooms", fmt.Sprint(rooms+1))
		before := liveHeap()
		for i := range rooms {
			if code := api(b, http.MethodPut, fmt.Sprintf("%s/v1/rooms/idle%04d", s.base, i), "", nil); code != http.StatusCreated {
				b.Fatalf("PUT room %d: %d", i, code)
			}
		}
		testutil.Eventually(b, 60*time.Second, func() bool {
			n := 0
			for _, r := range roomsOf(b, s.base) {
				if r["state"] == "connected" {
					n++
				}
			}
			return n == rooms
		}, "not every room connected")
		after := liveHeap()
		b.ReportMetric(float64(after-before)/rooms, "heap-B/room")
		b.ReportMetric(float64(runtime.NumGoroutine())/rooms, "goroutines/room")
		if f := os.Getenv("ROOMS_HEAP_PROFILE"); f != "" {
			w, err := os.Create(f)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.Lookup("heap").WriteTo(w, 0); err != nil {
				b.Fatal(err)
			}
			w.Close()
		}
		stopServer(b, s)
	}
}

// liveHeap is the heap in use after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

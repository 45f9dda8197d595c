package faults

import (
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
)

// TestSoak loops random faults for $SOAK (a duration, e.g. 10m) on one room while a bystander room
// runs beside it, then prints figures: events, cycles and reconnects per fault kind, the slowest
// recovery, the heap and goroutine peaks. It fails on any delivery violation, a room that does not
// recover, a goroutine leak or a heap that keeps growing (more than 32 MiB over its level after the
// warm-up). Skipped unless SOAK is set.
//
//	SOAK=10m go test ./internal/faults -run TestSoak -v -timeout 0
//	SOAK=10m SOAK_SEED=42 go test ./internal/faults -run TestSoak -v -timeout 0
func TestSoak(t *testing.T) {
	env := os.Getenv("SOAK")
	if env == "" {
		t.Skip("set SOAK to a duration (e.g. SOAK=10m) to run the soak")
	}
	d, err := time.ParseDuration(env)
	if err != nil || d <= 0 {
		t.Fatalf("SOAK=%q: want a positive duration such as 10m", env)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SOAK_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("SOAK_SEED=%q: want an unsigned integer", s)
		}
	}
	t.Logf("soak for %v, seed %d (SOAK_SEED=%d repeats the sequence of faults)", d, seed, seed)
	checkFlat(t, heapLimit)
	rng := rand.New(rand.NewPCG(seed, 2))

	h := newHarness(t, 2)
	h.start("streamer")
	h.start("bystander")
	cases := faultCases()

	type kindStats struct {
		cycles, reconnects, restarts int
		slowest                      time.Duration
	}
	stats := map[string]*kindStats{}
	var (
		cycles            int
		warmHeap, maxHeap uint64
		maxGoroutines     int
		start             = time.Now()
		deadline          = start.Add(d)
		lastReport        = start
	)
	for time.Now().Before(deadline) {
		fc := cases[rng.IntN(len(cases))]
		out := h.cycle("streamer", fc)
		cycles++
		ks := stats[fc.name]
		if ks == nil {
			ks = &kindStats{}
			stats[fc.name] = ks
		}
		ks.cycles++
		ks.reconnects += out.reconnects
		if out.restarted {
			ks.restarts++
		}
		ks.slowest = max(ks.slowest, out.recovery)
		h.chk.violationsNow(t)
		maxGoroutines = max(maxGoroutines, runtime.NumGoroutine())
		if cycles%10 == 0 { // a full GC is not free: sample the heap every few cycles
			heap := heapInUse()
			maxHeap = max(maxHeap, heap)
			if cycles == 20 {
				warmHeap = heap // caches, pools and the fake's records have settled by now
			}
			if warmHeap > 0 && heap > warmHeap+heapLimit {
				t.Fatalf("after %d cycles the heap is %.1f MiB, %.1f MiB over its level after warm-up", cycles, mib(heap), mib(heap-warmHeap))
			}
		}
		if time.Since(lastReport) >= time.Minute {
			events, _ := h.chk.totals()
			t.Logf("%v: %d cycles, %d events, heap peak %.1f MiB, goroutines peak %d", time.Since(start).Round(time.Second), cycles, events, mib(maxHeap), maxGoroutines)
			lastReport = time.Now()
		}
	}
	if st, _ := h.m.Status("bystander"); st.State != room.StateConnected {
		t.Errorf("bystander is %s at the end, want connected", st.State)
	}

	events, _ := h.chk.totals()
	s, b := h.chk.counts("streamer"), h.chk.counts("bystander")
	st, _ := h.m.Status("streamer")
	var report strings.Builder
	report.WriteString("\nsoak figures\n")
	report.WriteString("  duration       " + time.Since(start).Round(time.Second).String() + "\n")
	report.WriteString("  cycles         " + strconv.Itoa(cycles) + "\n")
	report.WriteString("  events         " + strconv.FormatUint(events, 10) + " (streamer " + strconv.Itoa(s.events) + ", " + strconv.Itoa(s.tiktok) +
		" from TikTok; bystander " + strconv.Itoa(b.events) + ")\n")
	report.WriteString("  duplicates     " + strconv.FormatInt(st.Stream.Counters.DuplicatesDropped, 10) + " dropped by dedup, 0 delivered\n")
	report.WriteString("  heap           " + strconv.FormatFloat(mib(warmHeap), 'f', 1, 64) + " MiB after warm-up, peak " + strconv.FormatFloat(mib(maxHeap), 'f', 1, 64) + " MiB\n")
	report.WriteString("  goroutines     peak " + strconv.Itoa(maxGoroutines) + "\n")
	report.WriteString("  per fault kind (cycles, supervisor reconnects, stop+restart, slowest recovery):\n")
	names := make([]string, 0, len(stats))
	for n := range stats {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ks := stats[n]
		report.WriteString("    " + n + strings.Repeat(" ", max(1, 28-len(n))) + strconv.Itoa(ks.cycles) + " cycles, " + strconv.Itoa(ks.reconnects) +
			" reconnects, " + strconv.Itoa(ks.restarts) + " restarts, slowest " + ks.slowest.Round(time.Millisecond).String() + "\n")
	}
	t.Log(report.String())
}

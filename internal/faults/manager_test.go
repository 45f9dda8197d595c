package faults

import (
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
)

// TestManager_StatusStoppedHasReason: a room that stops on a final error must never be reported as
// stopped without its reason. Manager.status used to read the supervisor's Status first and check
// e.stopped() (sup.done closed) after; a stop() in between gave State stopped with an empty
// StopReason (181 of 200 tries). It now checks first.
func TestManager_StatusStoppedHasReason(t *testing.T) {
	checkFlat(t, heapLimit)
	h := newHarness(t, 1)
	h.fake.AddFault("payer", faketiktok.Fault{Kind: faketiktok.FaultSign402, Times: -1})
	bad := 0
	const rounds = 200
	for range rounds {
		h.start("payer")
		for {
			st, _ := h.m.Status("payer") // polled as fast as a busy client would
			if st.State != room.StateStopped {
				continue
			}
			if st.StopReason == "" {
				bad++
				if bad < 3 {
					t.Logf("%+v", st)
				}
			}
			break
		}
		h.await("payer", "stopped for good", func() bool { return !h.m.Running("payer") })
	}
	if bad > 0 {
		t.Errorf("%d of %d final stops were first reported as stopped with no StopReason", bad, rounds)
	}
}

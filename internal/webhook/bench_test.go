package webhook

import (
	"fmt"
	"testing"
)

// The per-event cost on the event path: mapping a gift for 10 endpoints (most events cost only
// the Kind check).
func BenchmarkDeliveries(b *testing.B) {
	eps := make([]Endpoint, 10)
	for i := range eps {
		eps[i] = Endpoint{ID: fmt.Sprintf("ep_%d", i), Filter: Filter{GiftMinDiamonds: int64(i)}}
	}
	g := gift("final", 50)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Deliveries(&g, eps, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	body := make([]byte, 2048)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignatureHeader([]string{vectorSecret, vectorSecret}, vectorID, t0, body); err != nil {
			b.Fatal(err)
		}
	}
}

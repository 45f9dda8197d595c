package webcast

import (
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// The benchmarks use realistic messages: a streak gift (sender with a badge, receiver) and a chat
// comment with two emotes.
var benchSamples = []string{"gift_streak_progress", "chat"}

func BenchmarkToEvent(b *testing.B) {
	for _, name := range benchSamples {
		m := messageOf(webcasttest.Find(name))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = ToEvent(&m, testRoom)
			}
		})
	}
}

package event

import (
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event/eventtest"
)

// The benchmarks use realistic messages: a streak gift (sender with a badge, receiver) and a chat
// comment with two emotes.
var benchSamples = []string{"gift_streak_progress", "chat"}

func BenchmarkFromMessage(b *testing.B) {
	for _, name := range benchSamples {
		m := messageOf(eventtest.Find(name))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = FromMessage(&m, testRoom)
			}
		})
	}
}

func BenchmarkEvent_MarshalJSON(b *testing.B) {
	for _, name := range benchSamples {
		m := messageOf(eventtest.Find(name))
		ev := FromMessage(&m, testRoom)
		ev.Seq, ev.Epoch = 12345, testEpoch
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = ev.MarshalJSON()
			}
		})
		// What a hub that reuses its buffer pays.
		b.Run(name+"/AppendJSON", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				buf = ev.AppendJSON(buf[:0])
			}
		})
	}
}

package event

import (
	"encoding/json"
	"os"
	"testing"
)

// The benchmarks use realistic events: a streak gift (sender with a badge, receiver) and a chat
// comment with two emotes, as internal/webcast converts them (its goldens).
var benchSamples = []string{"gift_streak_progress", "chat"}

func BenchmarkEvent_MarshalJSON(b *testing.B) {
	for _, name := range benchSamples {
		raw, err := os.ReadFile(goldenPath(name))
		if err != nil {
			b.Fatal(err)
		}
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			b.Fatal(err)
		}
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

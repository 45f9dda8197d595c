package stream

import (
	"strconv"
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// discard is a Publisher that drops every message, so a benchmark measures the room alone.
type discard struct{}

func (discard) Publish(*hub.Message) {}

// freshIDs returns numeric msgIds to cycle through. There are twice as many as the dedup window
// holds, so an id has been forgotten by the time it comes round again: every Publish is a new message.
func freshIDs() []string {
	ids := make([]string, 2*DefaultDedupWindow)
	for i := range ids {
		ids[i] = strconv.FormatInt(7311500000000000000+int64(i), 10)
	}
	return ids
}

// sampleEvent converts a webcasttest sample as a session would.
func sampleEvent(name string) event.Event {
	s := webcasttest.Find(name)
	payload := s.Payload()
	m := webcast.Message{Method: s.Method, MsgID: s.MsgID, Payload: payload, ReceivedAt: eventTime}
	m.Decoded, m.Err = webcast.DecodePayload(s.Method, payload)
	return webcast.ToEvent(&m, event.Room{Username: "streamer", RoomID: "7311111111111111111"})
}

// BenchmarkRoom_Publish publishes a chat event with a fresh id each time: dedup, seq, counters, one
// JSON encoding and the hand-off. Expected allocations: the JSON buffer and the hub.Message (plus the
// event copy, which escapes to the heap because it is handed to OnPublish).
func BenchmarkRoom_Publish(b *testing.B) {
	for _, tc := range []struct{ name, sample string }{
		{"short_chat", ""},
		{"sample_chat", "chat"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := chat("", "hello from Lisbon")
			if tc.sample != "" {
				e = sampleEvent(tc.sample)
			}
			r := New("streamer", discard{}, Options{})
			defer r.Close()
			ids := freshIDs()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				e.ID = ids[i%len(ids)]
				i++
				if !r.Publish(e) {
					b.Fatal("a fresh id was dropped")
				}
			}
		})
	}
}

// BenchmarkRoom_PublishDuplicate is the cost of dropping a message already passed on.
func BenchmarkRoom_PublishDuplicate(b *testing.B) {
	r := New("streamer", discard{}, Options{})
	defer r.Close()
	e := chat("7311500000000000001", "hello")
	r.Publish(e)
	b.ReportAllocs()
	for b.Loop() {
		if r.Publish(e) {
			b.Fatal("a duplicate passed")
		}
	}
}

// BenchmarkRoom_PublishGiftStreak publishes steps of running streaks (the streak map and the timer
// are touched on every step).
func BenchmarkRoom_PublishGiftStreak(b *testing.B) {
	r := New("streamer", discard{}, Options{})
	defer r.Close()
	ids := freshIDs()
	e := sampleEvent("gift_streak_progress")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.ID = ids[i%len(ids)]
		i++
		r.Publish(e)
	}
}

func BenchmarkIDWindow_Seen(b *testing.B) {
	b.Run("numeric_fresh", func(b *testing.B) {
		w := newIDWindow(DefaultDedupWindow)
		ids := freshIDs()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			w.seen(ids[i%len(ids)])
			i++
		}
	})
	b.Run("numeric_duplicate", func(b *testing.B) {
		w := newIDWindow(DefaultDedupWindow)
		w.seen("7311500000000000001")
		b.ReportAllocs()
		for b.Loop() {
			w.seen("7311500000000000001")
		}
	})
	b.Run("non_numeric_fresh", func(b *testing.B) {
		w := newIDWindow(DefaultDedupWindow)
		ids := freshIDs()
		for i := range ids {
			ids[i] = "m" + ids[i]
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			w.seen(ids[i%len(ids)])
			i++
		}
	})
}

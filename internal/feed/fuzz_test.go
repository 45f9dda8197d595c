package feed

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
)

const fuzzEpoch = "0123456789abcdef"

// FuzzParseResume: since=, epoch=, rooms= and Last-Event-ID. Accepted points name valid,
// normalised rooms, each once, at most MaxResumeRooms, within the filter, with a valid epoch.
func FuzzParseResume(f *testing.F) {
	for _, seed := range [][2]string{
		{"", ""},
		{"rooms=hosta&since=5&epoch=" + fuzzEpoch, ""},
		{"since=hosta:5:" + fuzzEpoch + ",hostb:0:" + fuzzEpoch, ""},
		{"rooms=hosta", "hosta:1042:" + fuzzEpoch},
		{"", "@HostA:1:" + fuzzEpoch},
		{"since=hosta:1:" + fuzzEpoch + ",hosta:2:" + fuzzEpoch, ""},
		{"rooms=hosta&since=hostb:1:" + fuzzEpoch, ""},
		{"epoch=" + fuzzEpoch, ""},
		{"since=5", ""},
		{"since=a:b:c", ""},
		{"since=,,,", ""},
		{"since=hosta:99999999999999999999:" + fuzzEpoch, ""},
		{"since=hosta:-1:" + fuzzEpoch, ""},
		{"since=hosta:1:0123456789ABCDEF", ""},
		{"since=%00:1:" + fuzzEpoch, ""},
		{"rooms=a,b&since=1&epoch=" + fuzzEpoch, ""},
		{"since=hosta:1:" + fuzzEpoch + "&epoch=" + fuzzEpoch, ""},
		{"", "::"},
		{"since=" + strings.Repeat("r:1:"+fuzzEpoch+",", 70), ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, rawQuery, lastEventID string) {
		q, _ := url.ParseQuery(rawQuery) // what a server gets: the pairs that parse
		filter, err := hub.ParseFilter(q)
		if err != nil {
			filter = hub.Filter{} // the handlers stop at a bad filter; the resume parser still must not panic
		}
		points, err := ParseResume(q, lastEventID, filter)
		if err != nil {
			if points != nil {
				t.Fatalf("an error with points: %v %v", err, points)
			}
			return
		}
		since := q.Get("since")
		if since == "" {
			since = lastEventID
		}
		if (since == "") != (points == nil) {
			t.Fatalf("since %q gave %d points and no error", since, len(points))
		}
		if len(points) > MaxResumeRooms {
			t.Fatalf("%d points, more than %d", len(points), MaxResumeRooms)
		}
		seen := map[string]bool{}
		for _, p := range points {
			if r, ok := roomName(p.Room); !ok || r != p.Room {
				t.Fatalf("point room %q is not a normalised room name", p.Room)
			}
			if !event.ValidEpoch(p.Since.Epoch) {
				t.Fatalf("point epoch %q is not 16 lower-case hex digits", p.Since.Epoch)
			}
			if p.Since.Seq >= 1<<63 {
				t.Fatalf("point seq %d overflows int64", p.Since.Seq)
			}
			if len(filter.Rooms) > 0 && !filter.Rooms[p.Room] {
				t.Fatalf("point room %q is outside rooms= %v", p.Room, filter.Rooms)
			}
			if seen[p.Room] {
				t.Fatalf("room %q resumed twice", p.Room)
			}
			seen[p.Room] = true
		}
	})
}

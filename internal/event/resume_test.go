package event

import (
	"testing"
	"time"
)

func TestNewResume(t *testing.T) {
	const old, cur = "3f9a0c4e5b6d7e8f", "0123456789abcdef"
	at := time.Date(2026, 11, 27, 17, 0, 50, 123_456_789, time.FixedZone("CET", 3600))
	tests := []struct {
		name       string
		since, now Position
		reason     string
		want       string
	}{
		{"recovered", Position{old, 1042}, Position{old, 1099}, "",
			`{"type":"resume","username":"streamer","seq":0,"epoch":"3f9a0c4e5b6d7e8f","time":"2026-11-27T16:00:50.123Z","data":{"recovered":true,"since":1042,"sinceEpoch":"3f9a0c4e5b6d7e8f","missed":57}}`},
		{"epoch changed", Position{old, 1042}, Position{cur, 3}, ResumeEpochChanged,
			`{"type":"resume","username":"streamer","seq":0,"epoch":"0123456789abcdef","time":"2026-11-27T16:00:50.123Z","data":{"recovered":false,"since":1042,"sinceEpoch":"3f9a0c4e5b6d7e8f","missed":0,"reason":"epoch_changed"}}`},
		{"no store: the client's epoch", Position{old, 7}, Position{}, ResumeNoStore,
			`{"type":"resume","username":"streamer","seq":0,"epoch":"3f9a0c4e5b6d7e8f","time":"2026-11-27T16:00:50.123Z","data":{"recovered":false,"since":7,"sinceEpoch":"3f9a0c4e5b6d7e8f","missed":0,"reason":"no_store"}}`},
	}
	for _, tc := range tests {
		if got := string(NewResume("streamer", tc.since, tc.now, tc.reason, at).JSON()); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

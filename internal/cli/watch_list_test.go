package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// getJSON GETs a JSON answer.
func getJSON(t testing.TB, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// roomsOf lists the rooms of GET /v1/rooms by name.
func roomsOf(t testing.TB, base string) map[string]map[string]any {
	t.Helper()
	_, body := getJSON(t, base+"/v1/rooms")
	out := map[string]map[string]any{}
	list, _ := body["rooms"].([]any)
	for _, r := range list {
		m := r.(map[string]any)
		out[m["username"].(string)] = m
	}
	return out
}

func stopServer(t testing.TB, s *runningServer) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.exit:
		if code != 0 {
			t.Fatalf("Run = %d; stderr %s", code, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
}

// eventTypes reads the room's stored events and returns their types.
func eventTypes(t *testing.T, base, room string) []string {
	t.Helper()
	resp, err := http.Get(base + "/v1/rooms/" + room + "/events?format=ndjson")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out []string
	for line := range bytes.Lines(b) {
		var e struct{ Type string }
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e.Type)
		}
	}
	return out
}

// TestServe_WatchListResumed: rooms put on the watch list come back, with their options, when the
// server runs again on the same data directory; a deleted one does not. The live room's broadcast
// goes on (no second live_started). Restarted with a lower --max-rooms, the highest priority is
// resumed and the rest are listed as stopped (room_limit) and reported in the log.
func TestServe_WatchListResumed(t *testing.T) {
	dir := t.TempDir()
	fake := faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 20, HistorySize: -1}}
	flags := []string{"--data-dir", dir, "--max-rooms", "3", "--live-poll", "100ms", "--sign-quota", "0"}

	first := startServerWith(t, fake, flags...)
	if code := api(t, "PUT", first.base+"/v1/rooms/streamer", `{"priority":5,"proxy":"http://proxy.example:3128","upstream":"eu"}`, nil); code != 201 {
		t.Fatalf("PUT streamer = %d", code)
	}
	for _, name := range []string{"offlinehost", "gone"} {
		if code := api(t, "PUT", first.base+"/v1/rooms/"+name, "", nil); code != 201 {
			t.Fatalf("PUT %s = %d", name, code)
		}
	}
	if code := api(t, "DELETE", first.base+"/v1/rooms/gone", "", nil); code != 200 {
		t.Fatalf("DELETE gone = %d", code)
	}
	testutil.Eventually(t, 20*time.Second, func() bool { return slices.Contains(eventTypes(t, first.base, "streamer"), "live_started") },
		"streamer's live_started is not in the log")
	stopServer(t, first)

	second := startServerWith(t, fake, flags...)
	var rooms map[string]map[string]any
	testutil.Eventually(t, 20*time.Second, func() bool {
		rooms = roomsOf(t, second.base)
		return rooms["streamer"]["state"] == "connected" && rooms["offlinehost"]["state"] == "waiting_for_live"
	}, "the watch list did not come back: %v", rooms)
	if _, ok := rooms["gone"]; ok || len(rooms) != 2 {
		t.Errorf("rooms after the restart %v, want streamer and offlinehost only", rooms)
	}
	if st := rooms["streamer"]; st["priority"] != 5.0 || st["proxy"] != "http://proxy.example:3128" || st["upstream"] != "eu" {
		t.Errorf("streamer's options after the restart: priority %v, proxy %v, upstream %v", st["priority"], st["proxy"], st["upstream"])
	}
	if st := rooms["offlinehost"]; st["offlineSince"] == nil || st["nextCheckAt"] == nil {
		t.Errorf("offlinehost after the restart: offlineSince %v, nextCheckAt %v", st["offlineSince"], st["nextCheckAt"])
	}
	// The same LIVE continues: connected again, announced once.
	testutil.Eventually(t, 20*time.Second, func() bool {
		n := 0
		for _, typ := range eventTypes(t, second.base, "streamer") {
			if typ == "connection_created" {
				n++
			}
		}
		return n >= 2
	}, "streamer did not connect again")
	var started int
	for _, typ := range eventTypes(t, second.base, "streamer") {
		if typ == "live_started" {
			started++
		}
	}
	if started != 1 {
		t.Errorf("%d live_started in the log, want 1: the broadcast went on across the restart", started)
	}
	stopServer(t, second)

	third := startServerWith(t, fake, "--data-dir", dir, "--max-rooms", "1", "--live-poll", "100ms", "--sign-quota", "0")
	testutil.Eventually(t, 20*time.Second, func() bool {
		rooms = roomsOf(t, third.base)
		return rooms["streamer"]["state"] == "connected"
	}, "streamer (priority 5) was not resumed: %v", rooms)
	if st := rooms["offlinehost"]; st["state"] != "stopped" || st["stopReason"] != "room_limit" {
		t.Errorf("offlinehost with --max-rooms 1: %v, want stopped with room_limit", st)
	}
	if log := third.stderr.String(); !strings.Contains(log, "more rooms than --max-rooms") || !strings.Contains(log, "offlinehost") {
		t.Errorf("the log does not report the room not resumed:\n%s", log)
	}
	stopServer(t, third)
}

// TestServe_WatchListNotKeptInMemory: with --data-dir "" nothing is kept, so a second run starts
// with no rooms.
func TestServe_WatchListNotKeptInMemory(t *testing.T) {
	fake := faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 20, HistorySize: -1}}
	first := startServerWith(t, fake, "--data-dir", "")
	if code := api(t, "PUT", first.base+"/v1/rooms/streamer", "", nil); code != 201 {
		t.Fatalf("PUT = %d", code)
	}
	stopServer(t, first)
	second := startServerWith(t, fake, "--data-dir", "")
	if rooms := roomsOf(t, second.base); len(rooms) != 0 {
		t.Errorf("rooms after a restart in memory: %v, want none", rooms)
	}
	stopServer(t, second)
}

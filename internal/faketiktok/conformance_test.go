package faketiktok

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// findRunSh locates the Node conformance client: $CONFORMANCE_RUN_SH, else
// <module root>/../shared/conformance/node-client/run.sh.
func findRunSh() (string, error) {
	if p := os.Getenv("CONFORMANCE_RUN_SH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("CONFORMANCE_RUN_SH: %w", err)
		}
		return p, nil
	}
	return testutil.SharedFile("conformance/node-client/run.sh")
}

type nodeLine struct {
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	Summary *struct {
		Connected bool           `json:"connected"`
		Counts    map[string]int `json:"counts"`
		Version   string         `json:"version"`
		Ended     string         `json:"ended"`
		Error     any            `json:"error"`
	} `json:"summary"`
}

// TestNodeConformance runs the real tiktok-live-connector (2.0.7 and 2.5.0) through its full flow
// against the fake: HTML scrape, room info, sign, socket, events, stream end.
func TestNodeConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real Node client library")
	}
	required := os.Getenv("REQUIRE_CONFORMANCE") == "1"
	unavailable := func(why string) {
		if required {
			t.Fatalf("REQUIRE_CONFORMANCE=1 but %s", why)
		}
		t.Skip(why)
	}
	runSh, err := findRunSh()
	if err != nil {
		unavailable("conformance client not found: " + err.Error())
	}
	if _, err := exec.LookPath("node"); err != nil {
		unavailable("node is not installed")
	}

	// 2.5.0 sends its first heartbeat 10 s after entering the room, so its broadcast lasts 12 s.
	f := start(t, Options{Users: map[string]UserConfig{
		"streamer207": {Stream: StreamConfig{Rate: 20, EndAfter: 40}},
		"streamer250": {Stream: StreamConfig{Rate: 20, EndAfter: 240}},
	}})
	tests := []struct {
		version, user, subscribe, signPath, seconds string
	}{
		{"207", "streamer207", "subscribe", "/webcast/fetch", "8"},
		{"250", "streamer250", "subNotify", fmt.Sprintf("/webcast/rooms/%d/connect", DeriveRoomID("streamer250")), "20"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute) // a first run installs the library
			defer cancel()
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, runSh, "--web", f.srv.HostPort(), "--webcast", f.srv.HostPort(),
				"--sign", f.srv.URLs().Sign, "--user", tt.user, "--seconds", tt.seconds, "--version", tt.version)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("run.sh: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.Bytes(), stderr.Bytes())
			}
			var last nodeLine
			sc := bufio.NewScanner(&stdout)
			sc.Buffer(nil, 16<<20)
			for sc.Scan() {
				var l nodeLine
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatalf("not a JSON line: %q", sc.Bytes())
				}
				if l.Event == "error" || l.Event == "unhandledRejection" {
					t.Errorf("%s event: %s", l.Event, l.Data)
				}
				last = l
			}
			sum := last.Summary
			if sum == nil {
				t.Fatalf("no summary line; stderr:\n%s", stderr.Bytes())
			}
			t.Logf("summary %s: connected=%v ended=%s counts=%v", tt.version, sum.Connected, sum.Ended, sum.Counts)
			if !sum.Connected || sum.Ended != "streamEnd" || sum.Error != nil {
				t.Errorf("connected=%v ended=%q error=%v; want connected, ended by streamEnd", sum.Connected, sum.Ended, sum.Error)
			}
			for _, ev := range []string{"chat", "gift", "like", "member", "follow", "share", "roomUser", "streamEnd", tt.subscribe,
				"connected", "websocketConnected", "enterRoom", "liveIntro", "questionNew", "emote", "envelope"} {
				if sum.Counts[ev] == 0 {
					t.Errorf("no %s event", ev)
				}
			}
			if n := sum.Counts["social"]; n > 0 {
				t.Errorf("%d bare social events: follow/share display keys not recognised", n)
			}

			// What the library did on the wire.
			id := f.srv.RoomID(tt.user)
			rec := f.srv.Record(tt.user)
			if len(rec.SignCalls) != 1 || rec.SignCalls[0].Path != tt.signPath || rec.SignCalls[0].Status != 200 {
				t.Errorf("sign calls %+v, want one 200 on %s", rec.SignCalls, tt.signPath)
			}
			if len(rec.Sockets) != 1 {
				t.Fatalf("%d sockets, want 1", len(rec.Sockets))
			}
			sock := rec.Sockets[0]
			// The cookie comes from the sign answer's X-Set-TT-Cookie.
			if sock.Query.Get("room_id") != fmt.Sprint(id) || sock.Query.Get("compress") != "gzip" ||
				!strings.Contains(sock.Header.Get("Cookie"), "ttwid=") {
				t.Errorf("socket query %v, cookie %q", sock.Query, sock.Header.Get("Cookie"))
			}
			if len(sock.EnterRoom) != 1 || sock.EnterRoom[0].GetRoomId() != id || sock.EnterRoom[0].GetIdentity() != "audience" {
				t.Errorf("enter room %v", sock.EnterRoom)
			}
			if len(sock.Heartbeats) == 0 {
				t.Errorf("no heartbeat")
			}
			for i, hb := range sock.Heartbeats {
				if hb.RoomID != uint64(id) {
					t.Errorf("heartbeat room %d, want %d", hb.RoomID, id)
				}
				if tt.version == "250" && hb.SeqID != int64(i+1) { // 2.0.7 sends no sequence id
					t.Errorf("heartbeat %d seq id %d", i, hb.SeqID)
				}
			}
			ext := map[int64]string{}
			for i, l := range sock.SentLogIDs {
				ext[l] = sock.SentInternalExt[i]
			}
			if len(sock.Acks) == 0 {
				t.Errorf("no ack")
			}
			acked := map[int64]bool{}
			for _, a := range sock.Acks {
				want, ok := ext[a.LogID]
				if !ok || a.InternalExt != want {
					t.Errorf("ack %+v does not echo a sent frame's log id and internal_ext (%q)", a, want)
				}
				acked[a.LogID] = true
			}
			// The library inflates frames asynchronously, so the end frame can overtake the one
			// before it; the library then disconnects and drops that frame's ack. Only the last two
			// frames may go unacked.
			for i, l := range sock.SentLogIDs {
				if !acked[l] && i < len(sock.SentLogIDs)-2 {
					t.Errorf("frame %d of %d (log id %d, needs_ack) was not acked", i+1, len(sock.SentLogIDs), l)
				}
			}
		})
	}
}

package webcast

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// The goldens of testdata/ are also the TikTok examples of docs/events.md, which internal/event's
// tests check: after -update here, run go test ./internal/event -update to carry them into the docs.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	testRoom   = event.Room{Username: "streamer", RoomID: "7311111111111111111"}
	receivedAt = time.Date(2026, 11, 27, 16, 0, 50, 123456789, time.UTC)
	testEpoch  = "k3v9q2"
)

// messageOf decodes a sample as the session would.
func messageOf(s webcasttest.Sample) Message {
	payload := s.Payload()
	m := Message{Method: s.Method, MsgID: s.MsgID, Payload: payload, ReceivedAt: receivedAt}
	m.Decoded, m.Err = DecodePayload(s.Method, payload)
	return m
}

// stableProtoErrors undoes the protobuf runtime's habit of putting a no-break space instead of a
// space into its error texts, at random per build, so goldens holding such a text stay stable.
func stableProtoErrors(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\u00a0"), []byte(" ")) }

func goldenPath(name string) string { return filepath.Join("testdata", name+".golden.json") }

func compact(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return buf.Bytes()
}

// TestToEvent_Golden: every sample's event is its golden file. Seq and epoch are stamped as the
// room stream would, so the files (and the docs) show them.
func TestToEvent_Golden(t *testing.T) {
	for i, s := range webcasttest.Samples() {
		t.Run(s.Name, func(t *testing.T) {
			m := messageOf(s)
			m.History = s.Name == "member" // one example of a re-sent message
			ev := ToEvent(&m, testRoom)
			ev.Seq, ev.Epoch = uint64(i+1), testEpoch
			got := stableProtoErrors(ev.AppendJSON(nil))
			path := goldenPath(s.Name)
			if *update {
				var buf bytes.Buffer
				if err := json.Indent(&buf, got, "", "  "); err != nil {
					t.Fatal(err)
				}
				buf.WriteByte('\n')
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if want := compact(t, want); !bytes.Equal(got, want) {
				t.Errorf("event differs from %s\n got: %s\nwant: %s", path, got, want)
			}
		})
	}
}

package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the lifecycle golden files in testdata/ and the examples in docs/events.md")

var (
	testRoom   = Room{Username: "streamer", RoomID: "7311111111111111111"}
	receivedAt = time.Date(2026, 11, 27, 16, 0, 50, 123456789, time.UTC)
	testEpoch  = "k3v9q2"
)

type goldenCase struct {
	name string
	ev   Event
	read bool // read from its golden file, which internal/webcast checks and rewrites
}

// tiktokGoldens is where the TikTok types' goldens are: internal/webcast converts the messages and
// owns those files. Here they are the contract's examples: read back, they must be valid events.
const tiktokGoldens = "../webcast/testdata"

// goldenEvents is every golden: the TikTok ones, read from tiktokGoldens, then one per lifecycle
// type, built here. Seq and epoch are stamped as the room stream would, so the files (and the docs)
// show them.
func goldenEvents(t testing.TB) []goldenCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(tiktokGoldens, "*.golden.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no goldens in %s: %v", tiktokGoldens, err)
	}
	var out []goldenCase
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var ev Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, goldenCase{strings.TrimSuffix(filepath.Base(p), ".golden.json"), ev, true})
	}
	at := receivedAt
	life := []struct {
		typ  string
		data Data
	}{
		{TypeConnectionCreated, ConnectionCreatedData{RoomID: testRoom.RoomID, IsLive: true}},
		{TypeConnectionClosed, ConnectionClosedData{Reason: "requested"}},
		{TypeDisconnected, DisconnectedData{Reason: "upstream_closed", WillRetry: true, RetryInMs: 2000}},
		{TypeReconnecting, ReconnectingData{Attempt: 2, DelayMs: 2000}},
		{TypeRateLimited, RateLimitedData{RetryAt: at.Add(90 * time.Second)}},
		{TypeWaitingForLive, WaitingForLiveData{NextCheckAt: at.Add(time.Minute)}},
		{TypeStalled, StalledData{SilentMs: 30000}},
		{TypeError, ErrorData{Code: "rate_limited", Message: "sign server: too many requests (HTTP 429)", Retryable: true}},
		{TypeLiveStarted, LiveStartedData{RoomID: testRoom.RoomID, Title: "Sunday cooking 🍳", StartedAt: at.Add(-17 * time.Minute)}},
		{TypeLiveEnded, LiveEndedData{RoomID: testRoom.RoomID, Reason: LiveEndedByHost, Title: "Sunday cooking 🍳",
			StartedAt: at.Add(-17 * time.Minute), DurationMs: (17 * time.Minute).Milliseconds(),
			Totals: LiveTotals{Likes: 48210, Diamonds: 310, Gifts: 42, Follows: 27, Shares: 9, Chats: 612, PeakViewers: 1520, Events: 5234}}},
	}
	for i, l := range life {
		ev := Lifecycle(l.typ, testRoom, at, l.data)
		ev.Seq, ev.Epoch = uint64(100+i), testEpoch
		out = append(out, goldenCase{"lifecycle_" + l.typ, ev, false})
	}
	return out
}

// goldenPath is where a golden is: the lifecycle ones here, the TikTok ones in tiktokGoldens.
func goldenPath(name string) string {
	dir := "testdata"
	if !strings.HasPrefix(name, "lifecycle_") {
		dir = tiktokGoldens
	}
	return filepath.Join(dir, name+".golden.json")
}

func compact(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return buf.Bytes()
}

// TestEvent_Golden: every lifecycle event is its golden file (internal/webcast checks the others).
func TestEvent_Golden(t *testing.T) {
	for _, c := range goldenEvents(t) {
		if c.read {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			got := c.ev.AppendJSON(nil)
			path := goldenPath(c.name)
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

func TestEvent_GoldenCoversEveryType(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range goldenEvents(t) {
		seen[c.ev.Type] = true
		if got := c.ev.Data.eventType(); got != c.ev.Type {
			t.Errorf("%s: data is for %q, event type %q", c.name, got, c.ev.Type)
		}
	}
	for typ := range dataDecoders {
		if !seen[typ] {
			t.Errorf("no golden event of type %q", typ)
		}
	}
}

// envelopeOrder is the contract's key order.
var envelopeOrder = []string{"type", "username", "roomId", "seq", "epoch", "id", "time", "history", "simulated", "data"}

// topKeys returns the keys of a JSON object in the order they appear.
func topKeys(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestEvent_KeyOrder(t *testing.T) {
	cases := goldenEvents(t)
	// Also one with every optional key set.
	full := cases[0].ev
	full.History, full.Simulated = true, true
	cases = append(cases, goldenCase{name: "all_optional_keys", ev: full})
	for _, c := range cases {
		keys := topKeys(t, c.ev.AppendJSON(nil))
		pos := -1
		for _, k := range keys {
			i := slices.Index(envelopeOrder, k)
			if i <= pos {
				t.Errorf("%s: key %q out of order or unexpected in %v", c.name, k, keys)
			}
			pos = i
		}
		for _, k := range []string{"type", "username", "roomId", "seq", "time", "data"} {
			if !slices.Contains(keys, k) {
				t.Errorf("%s: key %q missing from %v", c.name, k, keys)
			}
		}
		if c.name == "all_optional_keys" && len(keys) != len(envelopeOrder) {
			t.Errorf("all optional keys set, got keys %v", keys)
		}
		// data.timestamp is the last key of data and repeats time.
		var v struct {
			Time string          `json:"time"`
			Data json.RawMessage `json:"data"`
		}
		b := c.ev.AppendJSON(nil)
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		dk := topKeys(t, v.Data)
		var ts struct{ Timestamp string }
		_ = json.Unmarshal(v.Data, &ts)
		if dk[len(dk)-1] != "timestamp" || ts.Timestamp != v.Time {
			t.Errorf("%s: data.timestamp %q (keys %v), time %q", c.name, ts.Timestamp, dk, v.Time)
		}
	}
}

// contractKeys are the data keys ../shared/spec/events.md names per type (besides sender, user and
// timestamp, which every TikTok type has), and for lists the keys of their items.
var contractKeys = map[string][]string{
	TypeChat:              {"comment", "emotes"},
	TypeGift:              {"giftId", "giftName", "giftType", "diamondCount", "repeatCount", "repeatEnd", "streakId", "streakState", "totalDiamonds", "giftImageUrl", "toUser"},
	TypeLike:              {"likeCount", "totalLikeCount"},
	TypeMember:            {"action", "actionId", "memberCount"},
	TypeSocial:            {"action", "actionId", "displayType"},
	TypeRoomUser:          {"viewerCount", "topViewers"},
	TypeSubscribe:         {"subMonth"},
	TypeQuestion:          {"questionText"},
	TypeEmote:             {"emotes"},
	TypeEnvelope:          {"diamondCount", "peopleCount"},
	TypeBattle:            {"battleId", "actionId", "teams"},
	TypeBattleArmies:      {"battleId", "teams"},
	TypeLiveIntro:         {"description"},
	TypeControl:           {"action", "actionId"},
	TypeStreamEnd:         {"action", "actionId"},
	TypeUnknown:           {"method", "payload"},
	TypeConnectionCreated: {"roomId", "isLive"},
	TypeConnectionClosed:  {"reason"},
	TypeDisconnected:      {"reason", "willRetry", "retryInMs"},
	TypeReconnecting:      {"attempt", "delayMs"},
	TypeRateLimited:       {"retryAt"},
	TypeWaitingForLive:    {"nextCheckAt"},
	TypeStalled:           {"silentMs"},
	TypeError:             {"code", "message", "retryable"},
	TypeLiveStarted:       {"roomId", "title", "startedAt"},
	TypeLiveEnded:         {"roomId", "reason", "title", "startedAt", "durationMs", "totals"},
}

var listItemKeys = map[string][]string{
	"chat.emotes":         {"emoteId", "index", "imageUrl"},
	"emote.emotes":        {"emoteId", "imageUrl"},
	"roomUser.topViewers": {"user", "coinCount", "rank"},
	"battle.teams":        {"hostUserId", "user"},
	"battleArmies.teams":  {"hostUserId", "points", "users"},
}

var userKeys = []string{"userId", "uniqueId", "nickname", "avatarUrl", "followRole", "isModerator", "isSubscriber", "gifterLevel", "teamMemberLevel", "badges"}

func requireKeys(t *testing.T, where string, obj map[string]any, keys []string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s: key %q missing", where, k)
		}
	}
}

func requireUser(t *testing.T, where string, v any) {
	t.Helper()
	u, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: user is %T, want an object", where, v)
		return
	}
	requireKeys(t, where, u, userKeys)
	if _, ok := u["badges"].([]any); !ok {
		t.Errorf("%s: badges is %v, want a list", where, u["badges"])
	}
	if _, ok := u["userId"].(string); !ok {
		t.Errorf("%s: userId is %T, want a string", where, u["userId"])
	}
}

func TestEvent_ContractKeys(t *testing.T) {
	for _, c := range goldenEvents(t) {
		var ev map[string]any
		if err := json.Unmarshal(c.ev.AppendJSON(nil), &ev); err != nil {
			t.Fatal(err)
		}
		data := ev["data"].(map[string]any)
		_, lifecycle := map[string]bool{
			TypeConnectionCreated: true, TypeConnectionClosed: true, TypeDisconnected: true, TypeReconnecting: true,
			TypeRateLimited: true, TypeWaitingForLive: true, TypeStalled: true, TypeError: true,
			TypeLiveStarted: true, TypeLiveEnded: true,
		}[c.ev.Type]
		keys := append([]string{"timestamp"}, contractKeys[c.ev.Type]...)
		if !lifecycle {
			keys = append(keys, "sender", "user")
			requireUser(t, c.name+" data.user", data["user"])
			if data["sender"] != data["user"].(map[string]any)["uniqueId"] {
				t.Errorf("%s: sender %v is not user.uniqueId", c.name, data["sender"])
			}
			if _, ok := ev["id"].(string); !ok {
				t.Errorf("%s: id is %v, want a string", c.name, ev["id"])
			}
		} else if _, ok := ev["id"]; ok {
			t.Errorf("%s: lifecycle event with an id", c.name)
		}
		requireKeys(t, c.name+" data", data, keys)
		for list, itemKeys := range listItemKeys {
			typ, key, _ := strings.Cut(list, ".")
			if typ != c.ev.Type {
				continue
			}
			items, ok := data[key].([]any)
			if !ok {
				t.Errorf("%s: %s is %v, want a list", c.name, key, data[key])
				continue
			}
			for _, it := range items {
				obj := it.(map[string]any)
				requireKeys(t, c.name+" "+key, obj, itemKeys)
				if u, ok := obj["user"]; ok {
					requireUser(t, c.name+" "+key+" user", u)
				}
				if us, ok := obj["users"].([]any); ok {
					for _, u := range us {
						au := u.(map[string]any) // a scoring viewer: {user, score}
						requireKeys(t, c.name+" "+key+" users", au, []string{"user", "score"})
						requireUser(t, c.name+" "+key+" users", au["user"])
					}
				}
			}
		}
		if c.ev.Type == TypeGift {
			requireUser(t, c.name+" toUser", data["toUser"])
		}
		for _, k := range []string{"roomId", "streakId", "battleId", "questionId"} {
			if v, ok := data[k]; ok {
				if _, ok := v.(string); !ok {
					t.Errorf("%s: data.%s is %T, want a string", c.name, k, v)
				}
			}
		}
	}
}

func TestEvent_RoundTrip(t *testing.T) {
	for _, c := range goldenEvents(t) {
		t.Run(c.name, func(t *testing.T) {
			b1, err := json.Marshal(c.ev) // through MarshalJSON
			if err != nil {
				t.Fatal(err)
			}
			var back Event
			if err := json.Unmarshal(b1, &back); err != nil {
				t.Fatal(err)
			}
			if got, want := back.Data.eventType(), c.ev.Type; got != want {
				t.Errorf("data read back as %T (%s), want %s", back.Data, got, want)
			}
			if !back.Time.Equal(c.ev.Time) {
				t.Errorf("time %v, want %v", back.Time, c.ev.Time)
			}
			b2 := back.AppendJSON(nil)
			if !bytes.Equal(b1, b2) {
				t.Errorf("round trip changed the event\nfirst:  %s\nsecond: %s", b1, b2)
			}
		})
	}
}

func TestStreakState(t *testing.T) {
	tests := []struct {
		giftType  int
		repeatEnd bool
		want      string
	}{
		{1, false, StreakProgress},
		{1, true, StreakFinal},
		{2, false, StreakSingle},
		{2, true, StreakSingle},
		{4, false, StreakSingle},
		{0, false, StreakSingle},
	}
	for _, tt := range tests {
		if got := StreakState(tt.giftType, tt.repeatEnd); got != tt.want {
			t.Errorf("StreakState(%d, %v) = %q, want %q", tt.giftType, tt.repeatEnd, got, tt.want)
		}
	}
}

func TestTotalDiamonds(t *testing.T) {
	tests := []struct {
		diamonds, repeat int
		want             int64
	}{
		{1, 5, 5},
		{1000, 1, 1000},
		{1000, 0, 1000}, // repeatCount left out: one gift
		{0, 7, 0},
		{44999, 99999, 44999 * 99999},
	}
	for _, tt := range tests {
		if got := TotalDiamonds(tt.diamonds, tt.repeat); got != tt.want {
			t.Errorf("TotalDiamonds(%d, %d) = %d, want %d", tt.diamonds, tt.repeat, got, tt.want)
		}
	}
}

func TestLifecycle_NilData(t *testing.T) {
	ev := Lifecycle(TypeStalled, testRoom, receivedAt, nil)
	if _, ok := ev.Data.(StalledData); !ok {
		t.Fatalf("data %T, want StalledData", ev.Data)
	}
	want := `{"type":"stalled","username":"streamer","roomId":"7311111111111111111","seq":0,"time":"2026-11-27T16:00:50.123Z","data":{"silentMs":0,"timestamp":"2026-11-27T16:00:50.123Z"}}`
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if ev.Time != receivedAt.Truncate(time.Millisecond) {
		t.Errorf("time %v not truncated to ms", ev.Time)
	}
}

func TestDecodeError(t *testing.T) {
	ev := DecodeError(Room{}, receivedAt, errors.New(`bad "thing"`))
	want := `{"type":"error","username":"","roomId":"","seq":0,"time":"2026-11-27T16:00:50.123Z","data":{"code":"decode","message":"bad \"thing\"","retryable":false,"timestamp":"2026-11-27T16:00:50.123Z"}}`
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAppendString(t *testing.T) {
	tests := []string{
		"", "plain", `quote " and backslash \`, "new\nline\r\ttab", "\x00\x01\x1f\x7f", "\b\f",
		"<script>&amp;</script>", "emoji 🌸 and ünïcödé", "line\u2028sep\u2029para",
		"bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", strings.Repeat("long ", 100),
	}
	for _, s := range tests {
		got := appendString(nil, s)
		// Byte for byte what encoding/json writes without HTML escaping.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestEvent_MarshalJSON(t *testing.T) {
	ev := goldenEvents(t)[0].ev
	want := ev.AppendJSON(nil)
	byValue, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	byPointer, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	inSlice, err := json.Marshal([]Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(byValue, want) || !bytes.Equal(byPointer, want) || !bytes.Equal(inSlice, append(append([]byte("["), want...), ']')) {
		t.Errorf("json.Marshal differs from AppendJSON:\n%s\n%s\n%s\n%s", byValue, byPointer, inSlice, want)
	}
	// AppendJSON appends.
	if got := ev.AppendJSON([]byte("prefix ")); !bytes.Equal(got, append([]byte("prefix "), want...)) {
		t.Errorf("AppendJSON did not append: %s", got)
	}
}

func TestEvent_AppendJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{
			name: "nil data",
			ev:   Event{Type: "x", Time: at},
			want: `{"type":"x","username":"","roomId":"","seq":0,"time":"2026-01-02T02:04:05.006Z","data":{"timestamp":"2026-01-02T02:04:05.006Z"}}`,
		},
		{
			name: "raw data as read",
			ev:   Event{Type: "poll", Time: at, Data: RawData{Type: "poll", JSON: []byte(`{ "a" : [1, 2] }`)}},
			want: `{"type":"poll","username":"","roomId":"","seq":0,"time":"2026-01-02T02:04:05.006Z","data":{"a":[1,2]}}`,
		},
		{
			name: "raw data that is not JSON",
			ev:   Event{Type: "poll", Time: at, Data: &RawData{Type: "poll", JSON: []byte(`{"a":`)}},
			want: `{"type":"poll","username":"","roomId":"","seq":0,"time":"2026-01-02T02:04:05.006Z","data":{}}`,
		},
		{
			name: "flags and escaping",
			ev: Event{Type: TypeChat, Username: "u\"1", RoomID: "1", Seq: 18446744073709551615, Epoch: "e", ID: "9",
				Time: at, History: true, Simulated: true, Data: ChatData{Comment: "<b>hi</b>\n\xff"}},
			want: `{"type":"chat","username":"u\"1","roomId":"1","seq":18446744073709551615,"epoch":"e","id":"9","time":"2026-01-02T02:04:05.006Z","history":true,"simulated":true,"data":{"sender":"","user":{"userId":"","uniqueId":"","nickname":"","avatarUrl":"","followRole":0,"isModerator":false,"isSubscriber":false,"gifterLevel":0,"teamMemberLevel":0,"badges":[]},"comment":"<b>hi</b>\n\ufffd","emotes":[],"timestamp":"2026-01-02T02:04:05.006Z"}}`,
		},
		{
			name: "pointer data",
			ev:   Event{Type: TypeStalled, Time: at, Data: &StalledData{SilentMs: 5}},
			want: `{"type":"stalled","username":"","roomId":"","seq":0,"time":"2026-01-02T02:04:05.006Z","data":{"silentMs":5,"timestamp":"2026-01-02T02:04:05.006Z"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.ev.AppendJSON(nil)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestEvent_UnmarshalJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		check   func(t *testing.T, ev Event)
		wantErr bool
	}{
		{
			name: "original server's gift (no time, seq or id)",
			in: `{"type":"gift","username":"streamer","data":{"sender":"alice","user":{"userId":"1001","uniqueId":"alice","nickname":"Alice A","avatarUrl":"https://p16.example/alice~100x100.webp","followRole":1},` +
				`"giftId":5655,"giftName":"Rose","giftType":1,"diamondCount":1,"repeatCount":3,"repeatEnd":true,"streakId":"1700000000001","timestamp":"2026-11-27T16:00:45.833Z"}}`,
			check: func(t *testing.T, ev Event) {
				d, ok := ev.Data.(GiftData)
				if !ok || d.User.UniqueID != "alice" || d.RepeatCount != 3 || !d.RepeatEnd || d.StreakID != "1700000000001" || d.ToUser != nil {
					t.Errorf("data %#v", ev.Data)
				}
				if want := time.Date(2026, 11, 27, 16, 0, 45, 833_000_000, time.UTC); !ev.Time.Equal(want) {
					t.Errorf("time %v, want %v from data.timestamp", ev.Time, want)
				}
			},
		},
		{
			name: "a type this package does not know",
			in:   "{\"type\":\"pollUpdate\",\"time\":\"2026-11-27T17:00:45.833+01:00\",\"data\":{ \"options\" : [ 1 ,2 ],\n\"timestamp\":\"x\" }}",
			check: func(t *testing.T, ev Event) {
				want := RawData{Type: "pollUpdate", JSON: []byte(`{"options":[1,2],"timestamp":"x"}`)}
				if !reflect.DeepEqual(ev.Data, want) {
					t.Errorf("data %#v, want %#v", ev.Data, want)
				}
				if ev.Time.Location() != time.UTC || ev.Time.Hour() != 16 {
					t.Errorf("time %v, want it in UTC", ev.Time)
				}
			},
		},
		{
			name: "null data gives the zero data of the type",
			in:   `{"type":"stalled","time":"2026-11-27T16:00:45.833Z","data":null}`,
			check: func(t *testing.T, ev Event) {
				if !reflect.DeepEqual(ev.Data, StalledData{}) {
					t.Errorf("data %#v", ev.Data)
				}
			},
		},
		{
			name: "more precision than ms is cut",
			in:   `{"type":"stalled","time":"2026-11-27T16:00:45.833999Z"}`,
			check: func(t *testing.T, ev Event) {
				if ev.Time.Nanosecond() != 833_000_000 {
					t.Errorf("time %v", ev.Time)
				}
			},
		},
		{name: "bad time", in: `{"type":"stalled","time":"yesterday"}`, wantErr: true},
		{name: "bad data", in: `{"type":"gift","time":"2026-11-27T16:00:45.833Z","data":{"giftId":"x"}}`, wantErr: true},
		{name: "not an object", in: `[1]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev Event
			err := json.Unmarshal([]byte(tt.in), &ev)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

// TestData_TagsMatchEncoder: the hand-written encoder writes the json tags' names in the fields'
// order with the same values, so UnmarshalJSON (which uses the tags) reads back what was written.
func TestData_TagsMatchEncoder(t *testing.T) {
	for _, c := range goldenEvents(t) {
		t.Run(c.name, func(t *testing.T) {
			ours := append(c.ev.Data.appendFields([]byte("{")), '}')
			std, err := json.Marshal(c.ev.Data)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := topKeys(t, ours), topKeys(t, std); !reflect.DeepEqual(a, b) {
				t.Errorf("keys %v, tags say %v", a, b)
			}
			var a, b any
			if err := json.Unmarshal(ours, &a); err != nil {
				t.Fatalf("%v: %s", err, ours)
			}
			if err := json.Unmarshal(std, &b); err != nil {
				t.Fatal(err)
			}
			if a, b := normalize(a), normalize(b); !reflect.DeepEqual(a, b) {
				t.Errorf("values differ\n ours: %v\n tags: %v", a, b)
			}
		})
	}
}

// normalize makes encoding/json's output comparable with ours: nil slices (null) as empty lists,
// times at millisecond precision.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x == nil && k != "toUser" {
				v[k] = []any{}
				continue
			}
			v[k] = normalize(x)
		}
	case []any:
		for i, x := range v {
			v[i] = normalize(x)
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.UTC().Format(TimeLayout)
		}
	}
	return v
}

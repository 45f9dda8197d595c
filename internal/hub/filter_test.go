package hub

import (
	"errors"
	"maps"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	roomRE = regexp.MustCompile(`^[a-z0-9_.]{1,64}$`)
	typeRE = regexp.MustCompile(`^[A-Za-z_]{1,32}$`)
)

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func TestFilter_Match(t *testing.T) {
	gift := &Message{Room: "alice", Type: "gift"}
	step := &Message{Room: "alice", Type: "gift", StreakStep: true}
	chat := &Message{Room: "bob", Type: "chat"}
	tests := []struct {
		name string
		f    Filter
		m    *Message
		want bool
	}{
		{"zero matches gift", Filter{}, gift, true},
		{"zero matches streak step", Filter{}, step, true},
		{"zero matches chat", Filter{}, chat, true},
		{"empty maps match all", Filter{Rooms: map[string]bool{}, Types: map[string]bool{}}, chat, true},
		{"room in set", Filter{Rooms: set("alice", "carol")}, gift, true},
		{"room not in set", Filter{Rooms: set("alice", "carol")}, chat, false},
		{"room present but false", Filter{Rooms: map[string]bool{"bob": false}}, chat, false},
		{"type in set", Filter{Types: set("chat")}, chat, true},
		{"type not in set", Filter{Types: set("chat")}, gift, false},
		{"room and type both needed", Filter{Rooms: set("alice"), Types: set("chat")}, gift, false},
		{"room and type both match", Filter{Rooms: set("bob"), Types: set("chat")}, chat, true},
		{"final gifts keeps final gift", Filter{FinalGiftsOnly: true}, gift, true},
		{"final gifts drops streak step", Filter{FinalGiftsOnly: true}, step, false},
		{"final gifts keeps other types", Filter{FinalGiftsOnly: true}, chat, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(tt.m); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseFilter(t *testing.T) {
	long := strings.Repeat("a", 64)
	longType := strings.Repeat("T", 32)
	tests := []struct {
		name  string
		query string
		want  Filter
	}{
		{"empty", "", Filter{}},
		{"unrelated params ignored", "format=ndjson&x=1", Filter{}},
		{"one room", "rooms=alice", Filter{Rooms: set("alice")}},
		{"at and upper case", "rooms=@Alice,BOB", Filter{Rooms: set("alice", "bob")}},
		{"digits dot underscore", "rooms=a.b_c9", Filter{Rooms: set("a.b_c9")}},
		{"64 chars", "rooms=" + long, Filter{Rooms: set(long)}},
		{"64 chars after at", "rooms=@" + long, Filter{Rooms: set(long)}},
		{"empty items skipped", "rooms=a,,b,", Filter{Rooms: set("a", "b")}},
		{"only commas", "rooms=,,&types=,", Filter{}},
		{"empty value", "rooms=&types=&gifts=", Filter{}},
		{"repeated merged", "rooms=a&rooms=b,c&rooms=a", Filter{Rooms: set("a", "b", "c")}},
		{"types", "types=gift,chat,connection_created", Filter{Types: set("gift", "chat", "connection_created")}},
		{"types keep case", "types=Gift", Filter{Types: set("Gift")}},
		{"type 32 chars", "types=" + longType, Filter{Types: set(longType)}},
		{"types repeated", "types=gift&types=like", Filter{Types: set("gift", "like")}},
		{"gifts final", "gifts=final", Filter{FinalGiftsOnly: true}},
		{"gifts all", "gifts=all", Filter{}},
		{"gifts final repeated", "gifts=final&gifts=final", Filter{FinalGiftsOnly: true}},
		{"everything", "rooms=@x&types=gift&gifts=final", Filter{Rooms: set("x"), Types: set("gift"), FinalGiftsOnly: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseFilter(q)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tt.query, err)
			}
			if !maps.Equal(got.Rooms, tt.want.Rooms) || !maps.Equal(got.Types, tt.want.Types) || got.FinalGiftsOnly != tt.want.FinalGiftsOnly {
				t.Errorf("ParseFilter(%q) = %+v, want %+v", tt.query, got, tt.want)
			}
		})
	}
}

func TestParseFilter_Errors(t *testing.T) {
	tests := []struct {
		name      string
		q         url.Values
		wantParam string
		wantValue string
	}{
		{"space in room", url.Values{"rooms": {"x y"}}, "rooms", "x y"},
		{"bad second room", url.Values{"rooms": {"ok,b@d"}}, "rooms", "b@d"},
		{"bare at", url.Values{"rooms": {"@"}}, "rooms", "@"},
		{"double at", url.Values{"rooms": {"@@a"}}, "rooms", "@@a"},
		{"65 chars", url.Values{"rooms": {strings.Repeat("a", 65)}}, "rooms", strings.Repeat("a", 65)},
		{"dash", url.Values{"rooms": {"a-b"}}, "rooms", "a-b"},
		{"non-ASCII", url.Values{"rooms": {"é"}}, "rooms", "é"},
		{"kelvin sign lowers to k", url.Values{"rooms": {"\u212a"}}, "rooms", "\u212a"},
		{"padded with space", url.Values{"rooms": {" a"}}, "rooms", " a"},
		{"bad in repeated", url.Values{"rooms": {"a", "b c"}}, "rooms", "b c"},
		{"type digit", url.Values{"types": {"gift2"}}, "types", "gift2"},
		{"type dot", url.Values{"types": {"gift,a.b"}}, "types", "a.b"},
		{"type 33 chars", url.Values{"types": {strings.Repeat("t", 33)}}, "types", strings.Repeat("t", 33)},
		{"gifts unknown", url.Values{"gifts": {"some"}}, "gifts", "some"},
		{"gifts upper case", url.Values{"gifts": {"FINAL"}}, "gifts", "FINAL"},
		{"gifts conflict", url.Values{"gifts": {"final", "all"}}, "gifts", "all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.q)
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseFilter(%v) = %+v, %v; want a *FilterError", tt.q, f, err)
			}
			if fe.Param != tt.wantParam || fe.Value != tt.wantValue || fe.Reason == "" {
				t.Errorf("error = %+v, want Param %q Value %q and a Reason", fe, tt.wantParam, tt.wantValue)
			}
			if want := "bad " + tt.wantParam + " value "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
			}
		})
	}
}

func TestFilterError_Error(t *testing.T) {
	err := &FilterError{Param: "rooms", Value: "x y", Reason: "why"}
	if got, want := err.Error(), `bad rooms value "x y": why`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSubscription_Filter(t *testing.T) {
	h := New(Options{})
	defer h.Close()
	rooms := set("a")
	s, err := h.Subscribe(Filter{Rooms: rooms, FinalGiftsOnly: true}, ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	rooms["b"] = true // must not race with Publish nor widen the subscription
	if got := s.Filter(); !maps.Equal(got.Rooms, set("a")) || !got.FinalGiftsOnly {
		t.Errorf("Filter() = %+v, want rooms {a}, final gifts", got)
	}
	h.Publish(&Message{Room: "b", JSON: []byte("{}")})
	if n, _ := s.queued(); n != 0 {
		t.Errorf("message for room b queued after the caller changed its map")
	}
}

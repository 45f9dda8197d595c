package hub

import (
	"fmt"
	"maps"
	"net/url"
	"strings"
)

// Filter selects messages. The zero Filter matches everything.
type Filter struct {
	Rooms          map[string]bool // empty = all rooms; keys lower case
	Types          map[string]bool // empty = all types
	FinalGiftsOnly bool            // drop StreakStep messages (gifts=final)
}

// Match reports whether m passes f. It does not allocate: Publish calls it once per subscriber.
func (f Filter) Match(m *Message) bool {
	if len(f.Rooms) > 0 && !f.Rooms[m.Room] {
		return false
	}
	if len(f.Types) > 0 && !f.Types[m.Type] {
		return false
	}
	return !(f.FinalGiftsOnly && m.StreakStep)
}

// clone copies the maps so a caller changing its own maps after Subscribe cannot race with
// Publish reading them.
func (f Filter) clone() Filter {
	c := Filter{FinalGiftsOnly: f.FinalGiftsOnly}
	if len(f.Rooms) > 0 {
		c.Rooms = maps.Clone(f.Rooms)
	}
	if len(f.Types) > 0 {
		c.Types = maps.Clone(f.Types)
	}
	return c
}

// FilterError is a bad query parameter value given to ParseFilter.
type FilterError struct{ Param, Value, Reason string }

func (e *FilterError) Error() string {
	return fmt.Sprintf("bad %s value %q: %s", e.Param, e.Value, e.Reason)
}

const (
	maxRoomLen = 64
	maxTypeLen = 32
)

// ParseFilter reads the query parameters rooms= (comma separated usernames; a leading '@' is
// dropped, names lower-cased; each must match ^[a-z0-9_.]{1,64}$ after that), types= (comma
// separated; each must match ^[A-Za-z_]{1,32}$) and gifts= ("final" or "all"; default all).
// Repeated parameters are merged; empty items are skipped. Other parameters are ignored.
// Any invalid value returns a *FilterError naming the parameter and the bad value.
// gifts=final together with gifts=all is an error, since neither can be honoured silently.
func ParseFilter(q url.Values) (Filter, error) {
	var f Filter
	for _, v := range q["rooms"] {
		for item := range strings.SplitSeq(v, ",") {
			if item == "" {
				continue
			}
			name, ok := normalizeRoom(item)
			if !ok {
				return Filter{}, &FilterError{Param: "rooms", Value: item, Reason: "want a TikTok username: 1-64 of a-z 0-9 _ . (optionally after @)"}
			}
			if f.Rooms == nil {
				f.Rooms = map[string]bool{}
			}
			f.Rooms[name] = true
		}
	}
	for _, v := range q["types"] {
		for item := range strings.SplitSeq(v, ",") {
			if item == "" {
				continue
			}
			if !validType(item) {
				return Filter{}, &FilterError{Param: "types", Value: item, Reason: "want an event type: 1-32 of A-Z a-z _"}
			}
			if f.Types == nil {
				f.Types = map[string]bool{}
			}
			f.Types[item] = true
		}
	}
	var final, all bool
	for _, v := range q["gifts"] {
		for item := range strings.SplitSeq(v, ",") {
			switch item {
			case "":
			case "final":
				final = true
			case "all":
				all = true
			default:
				return Filter{}, &FilterError{Param: "gifts", Value: item, Reason: `want "final" or "all"`}
			}
		}
	}
	if final && all {
		return Filter{}, &FilterError{Param: "gifts", Value: "all", Reason: "conflicts with gifts=final"}
	}
	f.FinalGiftsOnly = final
	return f, nil
}

// normalizeRoom drops one leading '@' and lower-cases ASCII only. A byte-wise check rather than
// strings.ToLower keeps non-ASCII runes that lower-case to ASCII (e.g. U+212A KELVIN SIGN -> 'k')
// from sneaking through as a different name.
//
// It is deliberately looser than webcast.ParseUsername, the rules every room key comes from (the
// hub knows nothing about TikTok, and a filter only selects, it never names a room into being):
// for a name or @name ParseUsername accepts it gives the same key, but it also takes 1 and 25 to
// 64 characters (such a filter matches no room), and it refuses profile URLs and surrounding
// white space. TestUsername_EntryPoints (internal/cli) pins both.
func normalizeRoom(s string) (string, bool) {
	s = strings.TrimPrefix(s, "@")
	if len(s) == 0 || len(s) > maxRoomLen {
		return "", false
	}
	lower := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '.':
		case 'A' <= c && c <= 'Z':
			lower = false
		default:
			return "", false
		}
	}
	if lower {
		return s, true
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b), true
}

func validType(s string) bool {
	if len(s) == 0 || len(s) > maxTypeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

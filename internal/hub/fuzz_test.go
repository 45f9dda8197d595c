package hub

import (
	"errors"
	"net/url"
	"testing"
)

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"", "rooms=alice", "rooms=@Alice,,bob&types=gift,chat&gifts=final", "rooms=x%20y",
		"gifts=all&gifts=final", "types=a.b", "rooms=%E2%84%AA", "rooms=@@a&rooms=@",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // keeps what it could parse; that is enough input for ParseFilter
		got, err := ParseFilter(q)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FilterError", err, err)
			}
			switch fe.Param {
			case "rooms", "types", "gifts":
			default:
				t.Fatalf("error names parameter %q", fe.Param)
			}
			return
		}
		for k, v := range got.Rooms {
			if !roomRE.MatchString(k) || !v {
				t.Fatalf("Rooms key %q (%v) does not match %v", k, v, roomRE)
			}
		}
		for k, v := range got.Types {
			if !typeRE.MatchString(k) || !v {
				t.Fatalf("Types key %q (%v) does not match %v", k, v, typeRE)
			}
		}
	})
}

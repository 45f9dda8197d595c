package webcast

import (
	"errors"
	"strings"
	"testing"
)

func TestParseUsername(t *testing.T) {
	tests := []struct {
		in, want string
		reason   string // for errors: a word of the reason
	}{
		{in: "alice", want: "alice"},
		{in: "@alice", want: "alice"},
		{in: "  @Alice.B_c\t\n", want: "alice.b_c"},
		{in: "ab", want: "ab"},
		{in: strings.Repeat("a", 24), want: strings.Repeat("a", 24)},
		{in: "Streamer_2026", want: "streamer_2026"},
		{in: "https://www.tiktok.com/@alice", want: "alice"},
		{in: "https://www.tiktok.com/@alice/", want: "alice"},
		{in: "https://www.tiktok.com/@alice/live", want: "alice"},
		{in: "https://www.tiktok.com/@alice/live/", want: "alice"},
		{in: "https://www.tiktok.com/@Alice/live?lang=en&is_from_webapp=1#x", want: "alice"},
		{in: "tiktok.com/@alice?lang=en", want: "alice"},
		{in: "www.tiktok.com/@alice/live", want: "alice"},
		{in: "https://m.tiktok.com/@alice/", want: "alice"},
		{in: "http://tiktok.com/@alice", want: "alice"},
		{in: "HTTPS://WWW.TIKTOK.COM/@ALICE", want: "alice"},
		{in: "https://www.tiktok.com/%40alice", want: "alice"},

		{in: "", reason: "empty"},
		{in: "   ", reason: "empty"},
		{in: "@", reason: "empty"},
		{in: "a", reason: "shorter"},
		{in: "@a", reason: "shorter"},
		{in: strings.Repeat("a", 25), reason: "longer"},
		{in: "ali ce", reason: "' '"},
		{in: "ali-ce", reason: "'-'"},
		{in: "@@alice", reason: "'@'"},
		{in: "alice%20", reason: "'%'"},
		{in: "älice", reason: "not allowed"},
		{in: "\u212aelvin", reason: "not allowed"}, // KELVIN SIGN lower-cases to 'k'
		{in: "../etc/passwd", reason: "tiktok.com"},
		{in: "https://evil.example/@alice", reason: "tiktok.com"},
		{in: "https://tiktok.com.evil.example/@alice", reason: "tiktok.com"},
		{in: "https://faketiktok.com/@alice", reason: "tiktok.com"},
		{in: "ftp://www.tiktok.com/@alice", reason: "http"},
		{in: "https://user@www.tiktok.com/@alice", reason: "user info"},
		{in: "https://www.tiktok.com/alice", reason: "profile"},
		{in: "https://www.tiktok.com/@alice/video/123", reason: "profile"},
		{in: "https://www.tiktok.com/", reason: "profile"},
		{in: "https://www.tiktok.com/@", reason: "empty"},
		{in: "https://www.tiktok.com/@a%2Fb", reason: "profile"},
	}
	for _, tt := range tests {
		got, err := ParseUsername(tt.in)
		if tt.reason == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseUsername(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			continue
		}
		var ue *UsernameError
		if !errors.As(err, &ue) {
			t.Errorf("ParseUsername(%q) = %q, %v; want a *UsernameError", tt.in, got, err)
			continue
		}
		if !strings.Contains(ue.Reason, tt.reason) {
			t.Errorf("ParseUsername(%q): reason %q, want it to mention %q", tt.in, ue.Reason, tt.reason)
		}
		if !strings.Contains(err.Error(), "2 to 24") {
			t.Errorf("ParseUsername(%q): message %q does not state the rule", tt.in, err)
		}
	}
}

func TestUsernameError_Kind(t *testing.T) {
	_, err := ParseUsername("no way")
	if !errors.Is(err, ErrUserNotFound) || KindOf(err) != KindUserNotFound {
		t.Errorf("error %v: errors.Is(ErrUserNotFound) = %v, KindOf = %q; want a final user-not-found",
			err, errors.Is(err, ErrUserNotFound), KindOf(err))
	}
	_, err = ParseUsername(strings.Repeat("x", 10_000))
	if n := len(err.Error()); n > 400 {
		t.Errorf("message of a 10 kB input is %d bytes: the input should be cut", n)
	}
}

func FuzzParseUsername(f *testing.F) {
	for _, s := range []string{"alice", "@Alice", " @a.b_c ", "https://www.tiktok.com/@alice/live", "tiktok.com/@alice?lang=en",
		"https://m.tiktok.com/@alice/", "a", "", "\u212aelvin", "http://x:y@tiktok.com/@ab", "https://www.tiktok.com/%40ab/live/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseUsername(s)
		if err != nil {
			var ue *UsernameError
			if !errors.As(err, &ue) {
				t.Fatalf("error %T, want *UsernameError", err)
			}
			return
		}
		if reason := checkUsername(got); reason != "" || got != strings.ToLower(got) {
			t.Fatalf("ParseUsername(%q) = %q, which breaks the rule: %s", s, got, reason)
		}
		for _, form := range []string{got, "@" + got, " " + strings.ToUpper(got) + " ", "https://www.tiktok.com/@" + got + "/live"} {
			if again, err := ParseUsername(form); err != nil || again != got {
				t.Fatalf("ParseUsername(%q) = %q, %v; want %q (from %q)", form, again, err, got, s)
			}
		}
	})
}

package webcast

import (
	"net/url"
	"strconv"
	"strings"
)

// TikTok's username rule: 2 to 24 characters, each an ASCII letter, a digit, '_' or '.'.
const (
	MinUsernameLen = 2
	MaxUsernameLen = 24
	usernameRule   = "a TikTok username is 2 to 24 letters, digits, '_' or '.', given as name, @name or https://www.tiktok.com/@name"
)

// UsernameError says why a string is not a TikTok username. It unwraps to ErrUserNotFound, so code
// that branches on upstream errors (errors.Is, KindOf) treats a bad name like a user that does not
// exist: final, no retry.
type UsernameError struct {
	Input  string // what was given, cut to 64 bytes
	Reason string // what is wrong with it
}

func (e *UsernameError) Error() string {
	return "not a TikTok username " + strconv.Quote(e.Input) + ": " + e.Reason + " (" + usernameRule + ")"
}

// Unwrap makes errors.Is(err, ErrUserNotFound) and KindOf(err) == KindUserNotFound hold.
func (e *UsernameError) Unwrap() error { return ErrUserNotFound }

// ParseUsername turns what a user typed into a TikTok username, lower-cased. It accepts "name",
// "@name", either with surrounding white space, and profile URLs on tiktok.com or a subdomain,
// with or without a scheme: https://www.tiktok.com/@name, https://www.tiktok.com/@name/live,
// tiktok.com/@name?lang=en, https://m.tiktok.com/@name/ (query and fragment are ignored).
//
// It is the one set of rules for a username from outside: the client (Resolve, LiveStatus, so the
// watch subcommand), the room manager's key (room.Key) and the HTTP routes all apply it, so they
// agree on which room a string names.
//
// The result is lower-case because TikTok handles are case-insensitive and everything after this
// (room.Key, hub filters, scoped tokens, the README's "names are lower-cased") keys rooms by the
// lower-case name; lower-casing here makes the function idempotent and "@Name" and "name" one room.
// TikTok also forbids a trailing '.' for new accounts; that is not enforced, so older handles work.
func ParseUsername(s string) (string, error) {
	in := s
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") || strings.HasPrefix(strings.ToLower(s), "http") && strings.Contains(s, ":") {
		name, reason := fromProfileURL(s)
		if reason != "" {
			return "", usernameErr(in, reason)
		}
		s = name
	} else {
		s = strings.TrimPrefix(s, "@")
	}
	if reason := checkUsername(s); reason != "" {
		return "", usernameErr(in, reason)
	}
	return strings.ToLower(s), nil
}

func usernameErr(in, reason string) *UsernameError {
	if len(in) > 64 {
		in = in[:64] + "..."
	}
	return &UsernameError{Input: in, Reason: reason}
}

// checkUsername returns what breaks the rule, "" when nothing does. Byte-wise on purpose: non-ASCII
// letters are not allowed, and none may slip through by case folding (U+212A KELVIN SIGN is 'k'
// to strings.ToLower).
func checkUsername(s string) string {
	switch {
	case s == "":
		return "it is empty"
	case len(s) < MinUsernameLen:
		return "it is shorter than 2 characters"
	case len(s) > MaxUsernameLen:
		return "it is longer than 24 characters"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return "it contains " + strconv.QuoteRuneToASCII(rune(c)) + ", which is not allowed"
		}
	}
	return ""
}

// fromProfileURL reads the username out of a tiktok.com profile or LIVE URL; reason says what is
// wrong when it cannot.
func fromProfileURL(s string) (name, reason string) {
	if !strings.Contains(s, "://") {
		s = "https://" + s // "tiktok.com/@name" as typed into a browser
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "it is not a valid URL"
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "the URL is not http or https"
	case host != "tiktok.com" && !strings.HasSuffix(host, ".tiktok.com"):
		return "", "the URL is not on tiktok.com"
	case u.User != nil:
		return "", "the URL has user info"
	}
	// Path: "/@name", "/@name/", "/@name/live" or "/@name/live/".
	segs := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if segs[len(segs)-1] == "" && len(segs) > 1 {
		segs = segs[:len(segs)-1]
	}
	if len(segs) == 0 || !strings.HasPrefix(segs[0], "@") || len(segs) > 2 || (len(segs) == 2 && segs[1] != "live") {
		return "", "the URL is not a profile (https://www.tiktok.com/@name) or LIVE page (.../@name/live)"
	}
	return segs[0][1:], ""
}

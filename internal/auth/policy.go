package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Policy decides who may do what. The zero Policy is closed for admin routes and open for reads:
// the safe default for a server on loopback that nobody configured.
//
//   - Admin routes (connect, disconnect, shutdown) need AdminToken. With no AdminToken they are
//     refused, unless Open says the operator chose to run without one (e.g. loopback only).
//   - Reads (status, event streams) accept AdminToken, ReadToken, or a scoped token (Mint) for the
//     room being read. Reads are open when neither ReadToken nor TokenSecret is configured: an
//     AdminToken alone protects the routes that change things and leaves watching public.
//
// Tokens are compared in constant time (over their SHA-256, so neither content nor length leaks).
// A Policy is read-only after set-up and safe for concurrent use.
type Policy struct {
	AdminToken  string // shared secret for admin routes; "" = none (see Open)
	ReadToken   string // shared secret for reading every room; "" = none
	TokenSecret []byte // HMAC key of scoped tokens (Mint/Verify); nil = scoped tokens not accepted
	// Open allows admin routes without a token when AdminToken is empty. It must be set on purpose
	// (a flag like --insecure-open-admin), so forgetting to configure a token fails closed.
	Open bool
}

// Level is how much a presented token grants.
type Level int

// Levels, from nothing to everything.
const (
	LevelNone    Level = iota
	LevelRoom          // a scoped token: read one room (Grant.Room)
	LevelReadAll       // ReadToken, or reads are open: read every room
	LevelAdmin         // AdminToken (or Open): everything
)

// Grant is the outcome of checking a presented token.
type Grant struct {
	Level Level
	Room  string // for LevelRoom: the room the token is scoped to (lower-case)
	// Rejected says why a presented token was not accepted (wrong, malformed, expired, or a room
	// token where room tokens are off); "" when none was presented or it was accepted. It never
	// holds the token. A request with a rejected token must fail even where reads are open: an
	// overlay set up with an expired token should fail loudly, not work by accident.
	Rejected string
}

// CanRead reports whether g allows reading room; "" stands for "every room" (an unfiltered
// stream), which a scoped token does not allow.
func (g Grant) CanRead(room string) bool {
	switch g.Level {
	case LevelAdmin, LevelReadAll:
		return true
	case LevelRoom:
		return Claims{Room: g.Room}.Allows(room)
	}
	return false
}

// ReadOpen reports whether reads need no token at all.
func (p *Policy) ReadOpen() bool { return p.ReadToken == "" && len(p.TokenSecret) == 0 }

// Admin reports whether presented grants the admin routes.
func (p *Policy) Admin(presented string) bool {
	if p.AdminToken == "" {
		return p.Open
	}
	return equal(presented, p.AdminToken)
}

// Read reports whether presented allows reading room at now. Callers serving several rooms at once
// check each (or use Access and restrict the stream to Grant.Room).
func (p *Policy) Read(presented, room string, now time.Time) bool {
	return p.Access(presented, now).CanRead(room)
}

// Access returns what presented grants at now. Every configured shared token is compared (no early
// return on the first), so the time taken does not say which one matched.
func (p *Policy) Access(presented string, now time.Time) Grant {
	// Only the admin token grants admin reads: Open opens the admin routes (Admin), not reading
	// when a read token or room tokens are configured.
	admin := p.AdminToken != "" && equal(presented, p.AdminToken)
	read := p.ReadToken != "" && equal(presented, p.ReadToken)
	if p.AdminToken == "" && p.Open && p.ReadOpen() {
		admin = true
	}
	switch {
	case admin:
		return Grant{Level: LevelAdmin}
	case read:
		return Grant{Level: LevelReadAll}
	case presented != "" && strings.HasPrefix(presented, tokenVersion+"."):
		c, err := Verify(p.TokenSecret, presented, now)
		switch {
		case err == nil:
			return Grant{Level: LevelRoom, Room: c.Room}
		case errors.Is(err, ErrNoSecret):
			return Grant{Rejected: "room tokens are not enabled on this server (it has no --token-secret)"}
		}
		return Grant{Rejected: strings.TrimPrefix(err.Error(), "auth: ")}
	case presented != "":
		return Grant{Rejected: "it is neither this server's admin or read token nor a room token"}
	case p.ReadOpen():
		return Grant{Level: LevelReadAll}
	}
	return Grant{Level: LevelNone}
}

// equal compares a presented token with a configured one in constant time. Hashing first makes the
// comparison independent of both lengths; an empty presented token never matches.
func equal(presented, want string) bool {
	if presented == "" || want == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// FromRequest returns the token a request presents, "" if none. Precedence, first found wins:
//
//  1. "Authorization: Bearer <token>" (scheme case-insensitive; other schemes are ignored),
//  2. "X-Api-Key: <token>",
//  3. the "token" query parameter.
//
// Headers come first because they stay out of access logs and browser history; the query
// parameter exists for browsers' EventSource and WebSocket, which cannot set headers (prefer a
// short-lived scoped token there).
func FromRequest(r *http.Request) string {
	if scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if tok = strings.TrimSpace(tok); tok != "" {
			return tok
		}
	}
	if tok := strings.TrimSpace(r.Header.Get("X-Api-Key")); tok != "" {
		return tok
	}
	if r.URL != nil {
		return strings.TrimSpace(r.URL.Query().Get("token"))
	}
	return ""
}

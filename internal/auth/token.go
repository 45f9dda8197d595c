package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Token format: "v1.<payload>.<mac>", both parts unpadded base64url (RFC 4648 §5), so a token is
// safe in a URL query, a header and a shell without quoting. The payload is
// "<expiry unix seconds>|<room, lower-cased>"; the MAC is HMAC-SHA256 over "v1.<payload>" (the
// version is signed too, so a future format cannot be confused with this one).
const (
	tokenVersion = "v1"
	// MaxTokenLen bounds what Verify looks at: a real token is well under 100 bytes, so anything
	// longer is rejected before any decoding work.
	MaxTokenLen = 512
	// MinSecretLen is the shortest secret CheckSecret accepts (128 bits).
	MinSecretLen = 16
	macLen       = sha256.Size
)

// Errors Verify returns; callers branch on them with errors.Is. Their messages never contain the
// token or the secret.
var (
	ErrMalformed    = errors.New("auth: malformed token")
	ErrBadSignature = errors.New("auth: token signature does not match")
	ErrExpired      = errors.New("auth: token expired")
	ErrNoSecret     = errors.New("auth: no token secret configured")
)

// Claims is what a verified token grants: reading one room until Expires.
type Claims struct {
	Room    string // lower-case username
	Expires time.Time
}

// Allows reports whether the claims cover room (usernames are case-insensitive). An empty room
// (e.g. a stream of every room) is never covered by a scoped token.
func (c Claims) Allows(room string) bool {
	return c.Room != "" && room != "" && strings.EqualFold(c.Room, room)
}

// CheckSecret reports whether secret is long enough to sign tokens with.
func CheckSecret(secret []byte) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("auth: token secret is %d bytes, want at least %d (hint: generate one with 'head -c 32 /dev/urandom | base64')",
			len(secret), MinSecretLen)
	}
	return nil
}

// Mint returns a token that lets its holder read room until now+ttl (to the second). room should be
// normalised already; it is lower-cased. A non-positive ttl gives a token that is already expired.
// Mint panics on an empty secret: a token signed with no key could be forged by anyone, and Verify
// refuses such tokens anyway, so it is a programming error (check with CheckSecret first).
func Mint(secret []byte, room string, ttl time.Duration, now time.Time) string {
	if len(secret) == 0 {
		panic("auth.Mint: empty secret")
	}
	exp := now.Add(ttl).Unix()
	payload := strconv.FormatInt(exp, 10) + "|" + strings.ToLower(room)
	signed := tokenVersion + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sign(secret, signed))
}

func sign(secret []byte, signed string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// Verify checks tok against secret and returns its claims. The shape is checked first
// (ErrMalformed), then the MAC in constant time (ErrBadSignature), and only a genuine token's
// expiry is looked at (ErrExpired, with the claims filled in so callers can say when it expired).
func Verify(secret []byte, tok string, now time.Time) (Claims, error) {
	if len(secret) == 0 {
		return Claims{}, fmt.Errorf("%w (hint: set TOKEN_SECRET to accept scoped tokens)", ErrNoSecret)
	}
	if len(tok) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLen)
	}
	// Only the base64url alphabet and the dots: Go's decoder skips '\r' and '\n', so without this
	// check one genuine token would have many spellings that all verify.
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return Claims{}, fmt.Errorf("%w: a character outside base64url", ErrMalformed)
		}
	}
	ver, rest, ok1 := strings.Cut(tok, ".")
	payloadB64, macB64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || ver != tokenVersion {
		return Claims{}, fmt.Errorf("%w: want v1.<payload>.<signature>", ErrMalformed)
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(macB64)
	if err != nil || len(mac) != macLen {
		return Claims{}, fmt.Errorf("%w: bad signature encoding", ErrMalformed)
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(payloadB64)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: bad payload encoding", ErrMalformed)
	}
	if !hmac.Equal(mac, sign(secret, tok[:len(ver)+1+len(payloadB64)])) {
		return Claims{}, fmt.Errorf("%w (hint: the token was minted with another TOKEN_SECRET, or altered)", ErrBadSignature)
	}
	expStr, room, ok := strings.Cut(string(payload), "|")
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if !ok || err != nil || room == "" {
		// Only a holder of the secret can get here; still, never trust a payload blindly.
		return Claims{}, fmt.Errorf("%w: bad payload", ErrMalformed)
	}
	c := Claims{Room: room, Expires: time.Unix(exp, 0).UTC()}
	if !now.Before(c.Expires) {
		return c, fmt.Errorf("%w at %s (hint: mint a new one with 'tiktok-live-server token')", ErrExpired, c.Expires.Format(time.RFC3339))
	}
	return c, nil
}

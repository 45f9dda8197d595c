package webcast

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error so callers (the supervisor) can branch on it with errors.Is.
type Kind string

// Error kinds. Each has a sentinel below for errors.Is.
const (
	KindUserNotFound      Kind = "user_not_found"      // final: no such user
	KindOffline           Kind = "offline"             // the user is not live now (status 4)
	KindAgeRestricted     Kind = "age_restricted"      // login required to watch
	KindBlocked           Kind = "blocked"             // block or captcha page instead of data
	KindNetwork           Kind = "network"             // TCP/TLS/HTTP transport failure or timeout
	KindBadResponse       Kind = "bad_response"        // an upstream answer we could not read
	KindSignRateLimited   Kind = "sign_rate_limited"   // sign server 429; see RetryAt
	KindSignPayment       Kind = "sign_payment"        // sign server 402: the plan does not allow it
	KindSignStatus        Kind = "sign_status"         // sign server answered another non-200 status
	KindSignMissingCookie Kind = "sign_missing_cookie" // sign answer without X-Set-TT-Cookie
	KindSignEmpty         Kind = "sign_empty"          // sign answer with an empty body or no cursor
	KindHandshake         Kind = "handshake_rejected"  // HTTP 200 instead of 101, with Handshake-Msg
	KindStalled           Kind = "stalled"             // no frame within the read deadline
	KindStreamEnded       Kind = "stream_ended"        // WebcastControlMessage action 3 or 4
	KindClosed            Kind = "closed"              // the socket closed or broke
	KindDecode            Kind = "decode"              // bytes that do not decode
)

// Sentinels for errors.Is(err, webcast.ErrOffline) and friends.
var (
	ErrUserNotFound      = &Error{Kind: KindUserNotFound}
	ErrOffline           = &Error{Kind: KindOffline}
	ErrAgeRestricted     = &Error{Kind: KindAgeRestricted}
	ErrBlocked           = &Error{Kind: KindBlocked}
	ErrNetwork           = &Error{Kind: KindNetwork}
	ErrBadResponse       = &Error{Kind: KindBadResponse}
	ErrSignRateLimited   = &Error{Kind: KindSignRateLimited}
	ErrSignPayment       = &Error{Kind: KindSignPayment}
	ErrSignStatus        = &Error{Kind: KindSignStatus}
	ErrSignMissingCookie = &Error{Kind: KindSignMissingCookie}
	ErrSignEmpty         = &Error{Kind: KindSignEmpty}
	ErrHandshake         = &Error{Kind: KindHandshake}
	ErrStalled           = &Error{Kind: KindStalled}
	ErrStreamEnded       = &Error{Kind: KindStreamEnded}
	ErrClosed            = &Error{Kind: KindClosed}
	ErrDecode            = &Error{Kind: KindDecode}
)

// Error is every error this package returns. It never holds a secret (API key, cookies).
type Error struct {
	Kind    Kind
	Op      string    // what we were doing, e.g. "resolve @alice"
	Status  int       // HTTP status, where one was received
	Detail  string    // upstream message (Handshake-Msg, 429 label, short body excerpt)
	RetryAt time.Time // for KindSignRateLimited: when the sign server allows the next call
	Hint    string    // what an operator can do
	Err     error
}

func (e *Error) Error() string {
	msg := string(e.Kind)
	if e.Op != "" {
		msg = e.Op + ": " + msg
	}
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		msg += " (hint: " + e.Hint + ")"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error of the same Kind, so the sentinels above work with errors.Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind
}

// KindOf returns the Kind of the first *Error in err's chain, or "" if there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// RetryAt returns when a rate-limited call may be retried (zero if err is not a rate limit).
func RetryAt(err error) time.Time {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindSignRateLimited {
		return e.RetryAt
	}
	return time.Time{}
}

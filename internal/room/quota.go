package room

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Quota is the one sign budget every room shares: a token bucket (golang.org/x/time/rate) refilled
// at perMinute per minute, holding at most perMinute tokens. Each connect and reconnect takes a
// token, right before its sign call; resolves and live checks of offline hosts ask TikTok's web
// routes, not the sign server, and take none. A token can be reserved ahead of time, so callers queue up in order instead of
// racing.
type Quota struct {
	perMinute int
	lim       *rate.Limiter // nil: unlimited
	now       func() time.Time
}

// NewQuota returns a full bucket; perMinute <= 0 means unlimited.
func NewQuota(perMinute int) *Quota {
	q := &Quota{perMinute: perMinute, now: time.Now}
	if perMinute > 0 {
		q.lim = rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute)
	}
	return q
}

// PerMinute is the configured rate (0 = unlimited).
func (q *Quota) PerMinute() int { return q.perMinute }

// Reserve takes a token and returns how long the caller must wait before using it (0 when one was
// available), and cancel, which gives the token back when it is not used (the room stopped while
// it waited). Only a reservation whose time has not come gives anything back, and not the tokens
// reserved after it by others. cancel may be called more than once; it counts once.
func (q *Quota) Reserve() (wait time.Duration, cancel func()) {
	if q.lim == nil {
		return 0, func() {}
	}
	now := q.now()
	r := q.lim.ReserveN(now, 1) // never refused: one token is within the burst, and the wait unbounded
	var once sync.Once
	return r.DelayFrom(now), func() { once.Do(func() { r.CancelAt(q.now()) }) }
}

// Remaining is the number of whole tokens available now (-1 when unlimited).
func (q *Quota) Remaining() float64 {
	if q.lim == nil {
		return -1
	}
	return float64(int(max(q.lim.TokensAt(q.now()), 0)))
}

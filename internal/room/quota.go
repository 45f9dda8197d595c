package room

import (
	"sync"
	"time"
)

// Quota is the one sign budget every room shares: a token bucket refilled at perMinute per minute,
// holding at most perMinute tokens. Connects, reconnects and live checks each take a token. A
// token can be reserved ahead of time, so callers queue up in order instead of racing.
type Quota struct {
	mu        sync.Mutex
	perMinute int
	tokens    float64
	last      time.Time
	now       func() time.Time
}

// NewQuota returns a full bucket; perMinute <= 0 means unlimited.
func NewQuota(perMinute int) *Quota {
	return &Quota{perMinute: perMinute, tokens: float64(perMinute), now: time.Now}
}

// PerMinute is the configured rate (0 = unlimited).
func (q *Quota) PerMinute() int { return q.perMinute }

func (q *Quota) refillLocked(now time.Time) {
	if !q.last.IsZero() {
		q.tokens += now.Sub(q.last).Minutes() * float64(q.perMinute)
		if q.tokens > float64(q.perMinute) {
			q.tokens = float64(q.perMinute)
		}
	}
	q.last = now
}

// Reserve takes a token and returns how long the caller must wait before using it (0 when one was
// available).
func (q *Quota) Reserve() time.Duration {
	if q.perMinute <= 0 {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	q.refillLocked(now)
	q.tokens--
	if q.tokens >= 0 {
		return 0
	}
	return time.Duration(-q.tokens / float64(q.perMinute) * float64(time.Minute))
}

// Cancel gives back a reserved token that was not used (the room stopped while it waited).
func (q *Quota) Cancel() {
	if q.perMinute <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.tokens++
	if q.tokens > float64(q.perMinute) {
		q.tokens = float64(q.perMinute)
	}
}

// Remaining is the number of whole tokens available now (-1 when unlimited).
func (q *Quota) Remaining() float64 {
	if q.perMinute <= 0 {
		return -1
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refillLocked(q.now())
	if q.tokens < 0 {
		return 0
	}
	return float64(int(q.tokens))
}

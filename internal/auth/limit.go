package auth

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds a Limiter's memory when NewLimiter is given maxKeys <= 0.
const DefaultMaxKeys = 10_000

// Limiter is a token bucket per key (a client IP): up to burst requests at once, refilled at
// ratePerSec (golang.org/x/time/rate, which refills lazily when the key is seen again, so no
// goroutine runs). At most maxKeys buckets are kept; a new key evicts the least recently seen one.
// Eviction forgets a key's debt, which can only make the limiter more lenient for a client that
// was idle longest, never stricter for anyone. A nil *Limiter allows everything. Safe for
// concurrent use.
type Limiter struct {
	rate    float64
	burst   int
	maxKeys int

	mu   sync.Mutex
	keys map[string]*list.Element // of *bucket
	lru  list.List                // front = most recently seen
}

type bucket struct {
	key string
	lim *rate.Limiter
}

// NewLimiter returns a limiter; ratePerSec <= 0 (or NaN) means unlimited, burst < 1 is 1.
func NewLimiter(ratePerSec float64, burst int, maxKeys int) *Limiter {
	if math.IsNaN(ratePerSec) || math.IsInf(ratePerSec, 0) || ratePerSec <= 0 {
		ratePerSec = 0
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Limiter{rate: ratePerSec, burst: max(burst, 1), maxKeys: maxKeys, keys: map[string]*list.Element{}}
}

// Allow takes one request for key at now. When refused, retryAfter is how long until a request
// would be allowed (for a Retry-After header; round it up to whole seconds there).
func (l *Limiter) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil || l.rate == 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if el, found := l.keys[key]; found {
		l.lru.MoveToFront(el)
		b = el.Value.(*bucket)
	} else {
		if len(l.keys) >= l.maxKeys {
			oldest := l.lru.Back()
			l.lru.Remove(oldest)
			delete(l.keys, oldest.Value.(*bucket).key)
		}
		b = &bucket{key: key, lim: rate.NewLimiter(rate.Limit(l.rate), l.burst)} // full
		l.keys[key] = l.lru.PushFront(b)
	}
	// A refused request changes nothing, so a clock going back (now before the last allowed
	// request) refills nothing.
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.lim.TokensAt(now)) / l.rate * float64(time.Second)))
	return false, max(wait, time.Nanosecond)
}

// Len is the number of keys tracked now (for metrics and tests).
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// Errors of ConnCap.Acquire.
var (
	ErrTooManyTotal  = errors.New("auth: too many connections")
	ErrTooManyPerKey = errors.New("auth: too many connections from this client")
)

// ConnCap counts open long-lived connections (WebSockets, SSE streams), in total and per key (a
// client IP), and refuses one past either bound. Keys with no connection are forgotten, so memory
// follows the open connections. A nil *ConnCap allows everything. Safe for concurrent use.
type ConnCap struct {
	total, perKey int

	mu    sync.Mutex
	open  int
	byKey map[string]int
}

// NewConnCap returns a cap; total or perKey <= 0 means no bound of that kind.
func NewConnCap(total, perKey int) *ConnCap {
	return &ConnCap{total: total, perKey: perKey, byKey: map[string]int{}}
}

// Acquire counts one connection for key ("": no per-key bound, the total only). On success the caller must call release exactly once
// when the connection ends (further calls do nothing). The errors wrap ErrTooManyTotal or
// ErrTooManyPerKey.
func (c *ConnCap) Acquire(key string) (release func(), err error) {
	if c == nil {
		return func() {}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total > 0 && c.open >= c.total {
		return nil, fmt.Errorf("%w: %d open, the server's limit (hint: close idle clients or raise the limit)", ErrTooManyTotal, c.open)
	}
	if c.perKey > 0 && key != "" && c.byKey[key] >= c.perKey {
		return nil, fmt.Errorf("%w: %d open, the per-client limit (hint: reuse one connection with a filter for several rooms)", ErrTooManyPerKey, c.byKey[key])
	}
	c.open++
	c.byKey[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.open--
			if c.byKey[key]--; c.byKey[key] <= 0 {
				delete(c.byKey, key)
			}
		})
	}, nil
}

// Open returns the connections counted now, in total and for key.
func (c *ConnCap) Open(key string) (total, forKey int) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.byKey[key]
}

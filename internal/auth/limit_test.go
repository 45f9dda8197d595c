package auth

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestLimiter_Allow(t *testing.T) {
	type step struct {
		key       string
		at        time.Duration // since t0
		ok        bool
		retryMost time.Duration // when refused: retryAfter in (0, retryMost]
	}
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{"burst then refuse", 1, 3, []step{
			{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, false, time.Second},
		}},
		{"refill", 2, 1, []step{
			{"a", 0, true, 0}, {"a", 100 * time.Millisecond, false, 400 * time.Millisecond},
			{"a", 500 * time.Millisecond, true, 0}, {"a", 500 * time.Millisecond, false, 500 * time.Millisecond},
		}},
		{"refill caps at burst", 10, 2, []step{
			{"a", 0, true, 0}, {"a", time.Hour, true, 0}, {"a", time.Hour, true, 0}, {"a", time.Hour, false, 100 * time.Millisecond},
		}},
		{"keys are separate", 1, 1, []step{
			{"a", 0, true, 0}, {"a", 0, false, time.Second}, {"b", 0, true, 0},
		}},
		{"clock going back refills nothing", 1, 1, []step{
			{"a", time.Hour, true, 0}, {"a", 0, false, time.Second}, {"a", time.Hour, false, time.Second},
		}},
		{"rate 0 is unlimited", 0, 1, []step{{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, true, 0}}},
		{"burst 0 is 1", 1, 0, []step{{"a", 0, true, 0}, {"a", 0, false, time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(tt.rate, tt.burst, 100)
			for i, s := range tt.steps {
				ok, retry := l.Allow(s.key, t0.Add(s.at))
				if ok != s.ok {
					t.Fatalf("step %d: Allow(%q, +%v) = %v, want %v", i, s.key, s.at, ok, s.ok)
				}
				if ok && retry != 0 {
					t.Errorf("step %d: allowed with retryAfter %v", i, retry)
				}
				if !ok && (retry <= 0 || retry > s.retryMost) {
					t.Errorf("step %d: retryAfter %v, want in (0, %v]", i, retry, s.retryMost)
				}
			}
		})
	}
}

func TestLimiter_Bounded(t *testing.T) {
	l := NewLimiter(1, 1, 10)
	for i := range 1000 {
		l.Allow(fmt.Sprint("ip", i), t0)
	}
	if n := l.Len(); n != 10 {
		t.Fatalf("Len = %d after 1000 keys, want the bound 10", n)
	}
	// The most recent keys are the ones kept: ip999 is still limited, ip0 was evicted (fresh burst).
	if ok, _ := l.Allow("ip999", t0); ok {
		t.Error("ip999 allowed again at once: its bucket was lost")
	}
	if ok, _ := l.Allow("ip0", t0); !ok {
		t.Error("ip0 refused: it should have been evicted and start with a full burst")
	}
	var nilL *Limiter
	if ok, _ := nilL.Allow("x", t0); !ok || nilL.Len() != 0 {
		t.Error("a nil Limiter must allow everything")
	}
}

// TestLimiter_Concurrent: 16 goroutines hammer one shared key (and one key each) at one instant.
// The burst holds exactly when no key can be evicted (17 keys, room for 32); with room for only 8,
// the key count stays bounded. The two are run apart because an evicted key rightly comes back
// with a full burst, so mixing them makes the burst count depend on the interleaving.
func TestLimiter_Concurrent(t *testing.T) {
	hammer := func(l *Limiter) (allowed int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for g := range 16 {
			wg.Go(func() {
				for range 100 {
					if ok, _ := l.Allow("shared", t0); ok {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
					l.Allow(fmt.Sprint("own", g), t0)
				}
			})
		}
		wg.Wait()
		return allowed
	}
	if allowed := hammer(NewLimiter(1, 50, 32)); allowed != 50 {
		t.Errorf("%d requests allowed at one instant, want the burst 50", allowed)
	}
	l := NewLimiter(1, 50, 8)
	hammer(l)
	if n := l.Len(); n > 8 {
		t.Errorf("Len = %d, above the bound 8", n)
	}
}

func TestConnCap_Acquire(t *testing.T) {
	c := NewConnCap(3, 2)
	r1, err := c.Acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.Acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire("a"); !errors.Is(err, ErrTooManyPerKey) {
		t.Fatalf("third for a: %v, want ErrTooManyPerKey", err)
	}
	r3, err := c.Acquire("b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire("c"); !errors.Is(err, ErrTooManyTotal) {
		t.Fatalf("fourth in total: %v, want ErrTooManyTotal", err)
	}
	r1()
	r1() // twice: counted once
	if total, forA := c.Open("a"); total != 2 || forA != 1 {
		t.Errorf("Open = %d, %d after one release; want 2, 1", total, forA)
	}
	if _, err := c.Acquire("c"); err != nil {
		t.Errorf("after a release: %v", err)
	}
	r2()
	r3()
	if _, forA := c.Open("a"); forA != 0 || len(c.byKey) != 1 {
		t.Errorf("keys kept after release: %v", c.byKey)
	}

	unlimited := NewConnCap(0, 0)
	for range 100 {
		if _, err := unlimited.Acquire("x"); err != nil {
			t.Fatal(err)
		}
	}
	var nilC *ConnCap
	if rel, err := nilC.Acquire("x"); err != nil || rel == nil {
		t.Error("a nil ConnCap must allow everything")
	}
}

func TestConnCap_Concurrent(t *testing.T) {
	c := NewConnCap(10, 0)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 200 {
				if rel, err := c.Acquire("k"); err == nil {
					if total, _ := c.Open("k"); total > 10 {
						t.Errorf("%d open, above the cap", total)
					}
					rel()
				}
			}
		})
	}
	wg.Wait()
	if total, _ := c.Open("k"); total != 0 {
		t.Errorf("%d open after every release", total)
	}
}

// BenchmarkLimiter_Allow: one request from a known key, and from a new key each time (the
// least recently seen one evicted). allocs/op is 0 for a known key.
func BenchmarkLimiter_Allow(b *testing.B) {
	b.Run("known", func(b *testing.B) {
		l := NewLimiter(1e9, 1, 1000)
		now := t0
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(time.Microsecond)
			l.Allow("203.0.113.7", now)
		}
	})
	b.Run("new_key_evicting", func(b *testing.B) {
		const keys = 1000
		names := make([]string, 4*keys)
		for i := range names {
			names[i] = fmt.Sprint("ip", i)
		}
		l := NewLimiter(1, 1, keys)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l.Allow(names[i%len(names)], t0)
			i++
		}
	})
}

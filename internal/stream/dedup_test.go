package stream

import (
	"strconv"
	"testing"
)

func TestRecent_Add(t *testing.T) {
	type step struct {
		add  int
		want bool // add's result
	}
	tests := []struct {
		name    string
		n       int
		steps   []step
		held    []int // held at the end
		forgot  []int // not held at the end
		wantLen int
	}{
		{"new keys are added", 3, []step{{1, true}, {2, true}, {3, true}}, []int{1, 2, 3}, nil, 3},
		{"a held key is not added again", 3, []step{{1, true}, {1, false}, {2, true}, {1, false}}, []int{1, 2}, nil, 2},
		{"the oldest is forgotten first", 2, []step{{1, true}, {2, true}, {3, true}}, []int{2, 3}, []int{1}, 2},
		{"a forgotten key is new again", 2, []step{{1, true}, {2, true}, {3, true}, {1, true}, {2, true}}, []int{1, 2}, []int{3}, 2},
		// Seeing a held key again does not make it younger: order is first seen.
		{"a repeat does not refresh", 2, []step{{1, true}, {2, true}, {1, false}, {3, true}}, []int{2, 3}, []int{1}, 2},
		{"one key", 1, []step{{1, true}, {1, false}, {2, true}, {1, true}}, []int{1}, []int{2}, 1},
		{"many rounds", 3, func() []step {
			var s []step
			for i := range 10 {
				s = append(s, step{i, true})
			}
			return s
		}(), []int{7, 8, 9}, []int{0, 6}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecent[int](tt.n)
			for i, s := range tt.steps {
				if got := r.add(s.add); got != s.want {
					t.Errorf("step %d: add(%d) = %v, want %v", i, s.add, got, s.want)
				}
			}
			for _, k := range tt.held {
				if !r.has(k) {
					t.Errorf("%d not held", k)
				}
			}
			for _, k := range tt.forgot {
				if r.has(k) {
					t.Errorf("%d still held", k)
				}
			}
			if len(r.set) != tt.wantLen || len(r.ring) != tt.wantLen {
				t.Errorf("%d in the set, %d in the ring; want %d", len(r.set), len(r.ring), tt.wantLen)
			}
		})
	}
}

// TestRecent_Grow: the ring grows with the keys added and never past n (a room that saw few
// messages holds little), and a full window forgets exactly as one sized up front would.
func TestRecent_Grow(t *testing.T) {
	tests := []struct {
		name       string
		n, adds    int
		wantLen    int
		wantOldest int // the oldest key still held
	}{
		{"none added", 100, 0, 0, -1},
		{"a few of many", 10000, 5, 5, 0},
		{"just below a growth step", 17, 16, 16, 0},
		{"full at a growth step", 16, 16, 16, 0},
		{"past n, n not a power of two", 17, 100, 17, 83},
		{"the default window, twice over", DefaultDedupWindow, 2 * DefaultDedupWindow, DefaultDedupWindow, DefaultDedupWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecent[int](tt.n)
			for k := range tt.adds {
				if !r.add(k) {
					t.Fatalf("add(%d) = false for a new key", k)
				}
				if cap(r.ring) > tt.n {
					t.Fatalf("after %d adds the ring's capacity is %d, over n = %d", k+1, cap(r.ring), tt.n)
				}
			}
			if len(r.ring) != tt.wantLen || len(r.set) != tt.wantLen {
				t.Errorf("%d in the ring, %d in the set; want %d", len(r.ring), len(r.set), tt.wantLen)
			}
			if tt.wantOldest >= 0 && (!r.has(tt.wantOldest) || (tt.wantOldest > 0 && r.has(tt.wantOldest-1))) {
				t.Errorf("oldest held key is not %d", tt.wantOldest)
			}
		})
	}
}

// BenchmarkRecent_Add adds keys it has never held (each forgets the oldest once full) and keys it
// holds. allocs/op must be 0 once the ring is full.
func BenchmarkRecent_Add(b *testing.B) {
	const n = DefaultDedupWindow
	b.Run("uint64/fresh", func(b *testing.B) {
		r := newRecent[uint64](n)
		b.ReportAllocs()
		var k uint64
		for b.Loop() {
			r.add(k)
			k++
		}
	})
	b.Run("uint64/held", func(b *testing.B) {
		r := newRecent[uint64](n)
		r.add(42)
		b.ReportAllocs()
		for b.Loop() {
			r.add(42)
		}
	})
	b.Run("string/fresh", func(b *testing.B) {
		keys := make([]string, 2*n) // made beforehand: the benchmark measures the set, not Itoa
		for i := range keys {
			keys[i] = "streak-" + strconv.Itoa(i)
		}
		r := newRecent[string](n)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r.add(keys[i%len(keys)])
			i++
		}
	})
}

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

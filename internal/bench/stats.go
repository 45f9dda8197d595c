package bench

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// Histogram records durations (nanoseconds) in log-linear buckets: exact below 128 ns, then 64
// buckets per power of two, so a quantile is within 1/64 (1.6 %) of the true value. Fixed size and
// no allocation per Record: every client keeps one and they are merged at the end.
type Histogram struct {
	counts [histBuckets]uint32
	n      int64
	max    int64
}

const (
	histSubBits = 6                // 64 sub-buckets per power of two
	histSub     = 1 << histSubBits // 64
	histExact   = 2 * histSub      // values below this have their own bucket
	histExps    = 40               // up to 2^46 ns (about 19 h): more than any run
	histBuckets = histExact + histExps*histSub
)

func histIndex(v int64) int {
	if v < histExact {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - (histSubBits + 1) // v>>e is in [64, 128)
	i := histExact + (e-1)*histSub + int(v>>e) - histSub
	return min(i, histBuckets-1)
}

// histUpper is the largest value that falls in bucket i.
func histUpper(i int) int64 {
	if i < histExact {
		return int64(i)
	}
	e := (i-histExact)/histSub + 1
	m := int64((i-histExact)%histSub + histSub)
	return (m+1)<<e - 1
}

// Record adds one value.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	h.counts[histIndex(v)]++
	h.n++
	h.max = max(h.max, v)
}

// Merge adds every value of o.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of values recorded.
func (h *Histogram) Count() int64 { return h.n }

// Max is the largest value recorded (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Quantile returns the q-quantile (0 < q <= 1) by the nearest-rank method: the upper bound of
// the bucket holding the ceil(q*n)-th smallest value, never above the exact maximum. 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := nearestRank(q, int(h.n))
	var seen int64
	for i, c := range h.counts {
		seen += int64(c)
		if seen >= int64(rank) {
			return time.Duration(min(histUpper(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// nearestRank is the 1-based rank of the q-quantile of n values.
func nearestRank(q float64, n int) int {
	r := int(math.Ceil(q * float64(n)))
	return min(max(r, 1), n)
}

// Percentile returns the q-quantile of sorted values (nearest rank); 0 when empty.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[nearestRank(q, len(sorted))-1]
}

// Latency is a latency summary.
type Latency struct {
	P50, P99, Max time.Duration
	N             int64
}

// Summary summarises the histogram.
func (h *Histogram) Summary() Latency {
	return Latency{P50: h.Quantile(0.50), P99: h.Quantile(0.99), Max: h.Max(), N: h.n}
}

// summarize summarises raw values (sorting them in place).
func summarize(v []time.Duration) Latency {
	slices.Sort(v)
	l := Latency{N: int64(len(v))}
	if len(v) > 0 {
		l.P50, l.P99, l.Max = Percentile(v, 0.50), Percentile(v, 0.99), v[len(v)-1]
	}
	return l
}

// Tracker is one client's accounting of the numbered events it received: each event has a
// sequence number 1..n in the order the fake sent it. Only its client's goroutine touches it.
type Tracker struct {
	seen      []uint64 // bitset by sequence number
	last      uint64   // highest sequence number so far
	Received  int64    // deliveries, doubles included
	Doubled   int64    // a sequence number seen again
	Reordered int64    // a first delivery of a number below one already seen
	Unknown   int64    // a number outside 1..n (a server invented or corrupted one)
}

// NewTracker tracks events numbered 1..n.
func NewTracker(n int) *Tracker { return &Tracker{seen: make([]uint64, n/64+1)} }

// Add records the delivery of event seq and reports whether it was the first.
func (t *Tracker) Add(seq uint64) bool {
	t.Received++
	w, b := seq/64, uint64(1)<<(seq%64)
	if seq == 0 || w >= uint64(len(t.seen)) {
		t.Unknown++
		return false
	}
	if t.seen[w]&b != 0 {
		t.Doubled++
		return false
	}
	t.seen[w] |= b
	if seq < t.last {
		t.Reordered++
	} else {
		t.last = seq
	}
	return true
}

// Missed counts the events among 1..sent never received.
func (t *Tracker) Missed(sent uint64) int64 {
	var got int64
	full := sent / 64
	for i := uint64(0); i <= full && i < uint64(len(t.seen)); i++ {
		w := t.seen[i]
		if i == full {
			w &= uint64(1)<<(sent%64+1) - 1 // seqs up to sent inclusive
		}
		if i == 0 {
			w &^= 1 // bit 0 is sequence number 0, never used
		}
		got += int64(bits.OnesCount64(w))
	}
	return int64(sent) - got
}

// Has reports whether event seq was received.
func (t *Tracker) Has(seq uint64) bool {
	w := seq / 64
	return w < uint64(len(t.seen)) && t.seen[w]&(uint64(1)<<(seq%64)) != 0
}

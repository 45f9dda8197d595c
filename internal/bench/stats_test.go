package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestPercentile_NearestRank(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3), 0.5, 2 * time.Millisecond},
		{"median of even takes the lower", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p99 of 100", ms(slices.Collect(func(y func(int) bool) {
			for i := 1; i <= 100; i++ {
				if !y(i) {
					return
				}
			}
		})...), 0.99, 99 * time.Millisecond},
		{"p100 is the max", ms(1, 5, 9), 1, 9 * time.Millisecond},
		{"tiny q is the min", ms(1, 5, 9), 0.0001, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.q); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.sorted, tc.q, got, tc.want)
			}
		})
	}
}

func TestHistogram_Quantile(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
		n    int
	}{
		{"exact range below 128ns", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(128)) }, 1000},
		{"microseconds", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(1_000_000)) }, 20000},
		{"long tail", func(r *rand.Rand) time.Duration {
			return time.Duration(r.ExpFloat64() * float64(5*time.Millisecond))
		}, 50000},
		{"seconds", func(r *rand.Rand) time.Duration { return time.Second + time.Duration(r.IntN(int(10*time.Second))) }, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h Histogram
			vals := make([]time.Duration, tc.n)
			for i := range vals {
				vals[i] = tc.gen(r)
				h.Record(vals[i])
			}
			slices.Sort(vals)
			if h.Count() != int64(tc.n) || h.Max() != vals[len(vals)-1] {
				t.Fatalf("count %d max %v, want %d %v", h.Count(), h.Max(), tc.n, vals[len(vals)-1])
			}
			for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
				exact, got := Percentile(vals, q), h.Quantile(q)
				// The bucket's upper bound: never below the exact value, at most 1/64 above.
				if got < exact || float64(got-exact) > float64(exact)/64+1 {
					t.Errorf("q=%v: %v, exact %v", q, got, exact)
				}
			}
		})
	}
}

func TestHistogram_Merge(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	a.Merge(nil)
	if a != all {
		t.Errorf("merged summary %+v, want %+v", a.Summary(), all.Summary())
	}
	var empty Histogram
	if s := empty.Summary(); s != (Latency{}) {
		t.Errorf("empty summary %+v", s)
	}
}

func TestTracker_Add(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		n                          int
		got                        []uint64
		sent                       uint64
		missed, doubled, reordered int64
		unknown                    int64
	}{
		{name: "all in order", n: 5, got: []uint64{1, 2, 3, 4, 5}, sent: 5},
		{name: "nothing", n: 5, sent: 5, missed: 5},
		{name: "gap", n: 5, got: []uint64{1, 2, 4, 5}, sent: 5, missed: 1},
		{name: "double", n: 5, got: []uint64{1, 2, 2, 3, 4, 5}, sent: 5, doubled: 1},
		{name: "late duplicate of an old one", n: 5, got: []uint64{1, 2, 3, 1}, sent: 3, doubled: 1},
		{name: "swap", n: 5, got: []uint64{1, 3, 2, 4, 5}, sent: 5, reordered: 1},
		{name: "reordered and missing", n: 5, got: []uint64{5, 1}, sent: 5, missed: 3, reordered: 1},
		{name: "only what was sent counts", n: 10, got: []uint64{1, 2, 3}, sent: 3},
		{name: "out of range", n: 3, got: []uint64{0, 1, 2, 3, 99}, sent: 3, unknown: 2},
		{name: "word boundaries", n: 200, got: seqs(1, 200), sent: 200},
		{name: "word boundary missing 64 and 128", n: 200, got: without(seqs(1, 200), 64, 128), sent: 200, missed: 2},
		{name: "sent at 63", n: 200, got: seqs(1, 63), sent: 63},
		{name: "sent at 64", n: 200, got: seqs(1, 63), sent: 64, missed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(tc.n)
			for _, s := range tc.got {
				tr.Add(s)
			}
			if m := tr.Missed(tc.sent); m != tc.missed || tr.Doubled != tc.doubled || tr.Reordered != tc.reordered ||
				tr.Unknown != tc.unknown || tr.Received != int64(len(tc.got)) {
				t.Errorf("missed %d doubled %d reordered %d unknown %d received %d; want %d %d %d %d %d",
					m, tr.Doubled, tr.Reordered, tr.Unknown, tr.Received, tc.missed, tc.doubled, tc.reordered, tc.unknown, len(tc.got))
			}
		})
	}
}

func seqs(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func without(s []uint64, drop ...uint64) []uint64 {
	return slices.DeleteFunc(s, func(v uint64) bool { return slices.Contains(drop, v) })
}

func TestRunner_ParseStamp(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  string
		seq  uint64
		sent int64
		ok   bool
	}{
		{"ours", `{"type":"chat","username":"bench","seq":3,"data":{"sender":"a","comment":"bench:12:1790000000123456789","emotes":[]}}`, 12, 1790000000123456789, true},
		{"seed", `{"type":"chat","username":"bench","data":{"sender":"a","user":{},"comment":"bench:1:5","timestamp":"x"}}`, 1, 5, true},
		{"lifecycle", `{"type":"connection_created","username":"bench","data":{"roomId":"1"}}`, 0, 0, false},
		{"another comment", `{"data":{"comment":"hello"}}`, 0, 0, false},
		{"no send time", `{"data":{"comment":"bench:1"}}`, 0, 0, false},
		{"not numbers", `{"data":{"comment":"bench:x:y"}}`, 0, 0, false},
		{"empty seq", `{"data":{"comment":"bench::5"}}`, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq, sent, ok := parseStamp([]byte(tc.msg))
			if seq != tc.seq || sent != tc.sent || ok != tc.ok {
				t.Errorf("parseStamp = %d, %d, %v; want %d, %d, %v", seq, sent, ok, tc.seq, tc.sent, tc.ok)
			}
		})
	}
}

func TestResult_FellBehind(t *testing.T) {
	ok := Result{ExpectedDeliveries: 1000, Deliveries: 1000, Latency: LatencyMs{P99: 10}}
	for _, tc := range []struct {
		name   string
		change func(r *Result)
		behind bool
	}{
		{"kept up", func(*Result) {}, false},
		{"p99 over a second", func(r *Result) { r.Latency.P99 = 1001 }, true},
		{"p99 of exactly a second", func(r *Result) { r.Latency.P99 = 1000 }, false},
		{"94% delivered", func(r *Result) { r.Deliveries = 940 }, true},
		{"95% delivered", func(r *Result) { r.Deliveries = 950 }, false},
		{"missed one", func(r *Result) { r.Missed = 1 }, true},
		{"client closed", func(r *Result) { r.ClientsClosed = 1 }, true},
		{"client refused", func(r *Result) { r.ClientsRefused = 1 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.change(&r)
			if got, why := fellBehind(&r); got != tc.behind {
				t.Errorf("fellBehind = %v (%s), want %v", got, why, tc.behind)
			}
		})
	}
}

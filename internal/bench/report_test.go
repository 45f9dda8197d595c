package bench

import (
	"strings"
	"testing"
)

func TestWriteTable(t *testing.T) {
	lat := func(p99 float64) LatencyMs { return LatencyMs{P50: 1, P99: Ms(p99), Max: 100} }
	tests := []struct {
		name    string
		results []Result
		want    []string // substrings of the output
		notWant []string
	}{
		{
			name: "with the high-rate latency run",
			results: []Result{
				{Label: LabelP99, Target: TargetOurs, Clients: 1000, Rate: 100, Latency: lat(10)},
				{Label: LabelP99, Target: TargetRaw, Clients: 1000, Rate: 100, Latency: lat(8)},
				{Label: LabelP99High, Target: TargetOurs, Clients: 1000, Rate: 400, Latency: lat(30)},
				{Label: LabelP99High, Target: TargetRaw, Clients: 1000, Rate: 400, Latency: lat(20), Missed: 3},
			},
			want: []string{"(b) 1000 clients × 100 ev/s; (b') 1000 clients × 400 ev/s;", "(b') p99 latency ms", "1.50×", "1.25×",
				"missed+doubled+reordered (b')"},
		},
		{
			name: "without it",
			results: []Result{
				{Label: LabelP99, Target: TargetOurs, Clients: 1000, Rate: 100, Latency: lat(10)},
			},
			want:    []string{"(b) 1000 clients × 100 ev/s;"},
			notWant: []string{"(b')"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			WriteTable(&b, tt.results)
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("%q in\n%s", w, out)
				}
			}
		})
	}
}

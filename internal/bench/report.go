package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// WriteText prints a result for people.
func WriteText(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "target\t%s\t(%d clients, %g ev/s, %gs + %gs warmup)\n", r.Target, r.Clients, r.Rate, r.Duration, r.Warmup)
	fmt.Fprintf(tw, "clients\t%d connected, %d refused, %d closed %v\n", r.Connected, r.ClientsRefused, r.ClientsClosed, r.CloseCodes)
	if r.Rate == 0 {
		fmt.Fprintf(tw, "RSS\t%s with no clients, %s with %d idle clients: %.0f B per client (peak %s)\n",
			mib(r.RSSNoClients), mib(r.RSSWithClients), r.Connected, r.RSSPerIdleClient, mib(r.PeakRSS))
		return
	}
	fmt.Fprintf(tw, "events\t%d sent, %d measured\n", r.EventsSent, r.EventsMeasured)
	fmt.Fprintf(tw, "deliveries\t%d of %d expected, %.0f/s\n", r.Deliveries, r.ExpectedDeliveries, r.DeliveriesPerSec)
	fmt.Fprintf(tw, "latency\tp50 %.3f ms, p99 %.3f ms, max %.3f ms\n", r.Latency.P50, r.Latency.P99, r.Latency.Max)
	fmt.Fprintf(tw, "first client\tp50 %.3f ms, p99 %.3f ms, max %.3f ms\n", r.FirstClient.P50, r.FirstClient.P99, r.FirstClient.Max)
	fmt.Fprintf(tw, "correctness\t%d missed, %d doubled, %d out of order, %d unknown\n", r.Missed, r.Doubled, r.Reordered, r.Unknown)
	fmt.Fprintf(tw, "server\t%.2f CPU s (%.3f per 100k deliveries), peak RSS %s\n", r.CPUSeconds, r.CPUPer100k, mib(r.PeakRSS))
	if r.FellBehind {
		fmt.Fprintf(tw, "verdict\tfell behind: %s\n", r.Why)
	} else {
		fmt.Fprintf(tw, "verdict\tkept up\n")
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// ReadResults reads JSON results, one per line (the -json output appended by the compare script).
func ReadResults(r io.Reader) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var res Result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return nil, fmt.Errorf("results line %d: %w", n, err)
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// Scenario labels the compare script gives its runs.
const (
	LabelStep = "step" // one rate of the max-throughput search
	LabelP99  = "p99"  // the latency run (1,000 clients × 100 ev/s in the full mode)
	// LabelP99High is the latency run at a higher rate (1,000 clients × 400 ev/s in the full mode).
	LabelP99High = "p99-high"
	LabelIdle    = "idle" // RSS per idle client
)

// targets in the table's column order.
var tableTargets = []string{TargetOurs, TargetSeed, TargetRaw}

// WriteTable prints the comparison of the compare script's runs: one row per figure, a column
// per target, and ours' ratio to the others.
func WriteTable(w io.Writer, results []Result) {
	type fig struct {
		name   string
		better string // "higher" or "lower"
		val    map[string]float64
		note   map[string]string
	}
	newFig := func(name, better string) *fig {
		return &fig{name: name, better: better, val: map[string]float64{}, note: map[string]string{}}
	}
	var (
		maxRate = newFig("(a) max sustained deliveries/s", "higher")
		p99     = newFig("(b) p99 latency ms", "lower")
		first50 = newFig("(b) first client p50 ms", "lower")
		first99 = newFig("(b) first client p99 ms", "lower")
		p99h    = newFig("(b') p99 latency ms", "lower")
		first5h = newFig("(b') first client p50 ms", "lower")
		wrongH  = newFig("missed+doubled+reordered (b')", "lower")
		rss     = newFig("(c) RSS per idle client B", "lower")
		cpu     = newFig("(d) CPU s per 100k deliveries", "lower")
		wrong   = newFig("missed+doubled+reordered (b)", "lower")
	)
	scen := map[string]string{}
	behind := map[string]bool{} // a step fell behind: the max is a measured limit, else a lower bound
	for _, r := range results {
		switch r.Label {
		case LabelStep:
			scen["a"] = fmt.Sprintf("%d clients", r.Clients)
			if !r.FellBehind && r.DeliveriesPerSec > maxRate.val[r.Target] {
				maxRate.val[r.Target] = r.DeliveriesPerSec
				maxRate.note[r.Target] = fmt.Sprintf("@%g ev/s", r.Rate)
			}
			if _, ok := maxRate.val[r.Target]; !ok {
				maxRate.val[r.Target] = 0
			}
			behind[r.Target] = behind[r.Target] || r.FellBehind
		case LabelP99:
			scen["b"] = fmt.Sprintf("%d clients × %g ev/s", r.Clients, r.Rate)
			p99.val[r.Target] = float64(r.Latency.P99)
			first50.val[r.Target] = float64(r.FirstClient.P50)
			first99.val[r.Target] = float64(r.FirstClient.P99)
			cpu.val[r.Target] = r.CPUPer100k
			wrong.val[r.Target] = float64(r.Missed + r.Doubled + r.Reordered)
			if r.FellBehind {
				p99.note[r.Target] = " (behind: " + r.Why + ")"
			}
		case LabelP99High:
			scen["b'"] = fmt.Sprintf("; (b') %d clients × %g ev/s", r.Clients, r.Rate)
			p99h.val[r.Target] = float64(r.Latency.P99)
			first5h.val[r.Target] = float64(r.FirstClient.P50)
			wrongH.val[r.Target] = float64(r.Missed + r.Doubled + r.Reordered)
			if r.FellBehind {
				p99h.note[r.Target] = " (behind: " + r.Why + ")"
			}
		case LabelIdle:
			scen["c"] = fmt.Sprintf("%d idle clients", r.Clients)
			rss.val[r.Target] = r.RSSPerIdleClient
		}
	}
	for t, v := range maxRate.val {
		switch {
		case !behind[t]:
			maxRate.note[t] += " (never fell behind: a lower bound)"
		case v == 0:
			maxRate.note[t] = " (behind at every step)"
		}
	}
	fmt.Fprintf(w, "scenarios: (a) one room, %s, rate raised until a server falls behind; (b) %s%s; (c) %s; (d) from (b)\n\n",
		scen["a"], scen["b"], scen["b'"], scen["c"])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tours\tseed\traw\tours/seed\tours/raw\tbetter\t")
	figs := []*fig{maxRate, p99, first50, first99}
	if len(p99h.val) > 0 {
		figs = append(figs, p99h, first5h)
	}
	figs = append(figs, rss, cpu, wrong)
	if len(p99h.val) > 0 {
		figs = append(figs, wrongH)
	}
	for _, f := range figs {
		row := []string{f.name}
		for _, t := range tableTargets {
			v, ok := f.val[t]
			s := "-"
			if ok {
				s = trimFloat(v) + f.note[t]
			}
			row = append(row, s)
		}
		for _, other := range []string{TargetSeed, TargetRaw} {
			o, ok1 := f.val[TargetOurs]
			t, ok2 := f.val[other]
			switch {
			case !ok1 || !ok2:
				row = append(row, "-")
			case t == 0:
				row = append(row, "n/a")
			default:
				row = append(row, fmt.Sprintf("%.2f×", o/t))
			}
		}
		row = append(row, f.better)
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
}

func trimFloat(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Labels scripts/bench-rooms.sh gives its rooms runs.
const (
	LabelRoomsSingle = "single" // one room at the default rate: ours beside the original
	LabelRoomsStep   = "step"   // one room count of the saturation search
)

// ParseSteps reads a comma-separated list of positive, increasing counts ("100,250,500").
func ParseSteps(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("%d after %d: the steps must increase", n, out[len(out)-1])
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no counts")
	}
	return out, nil
}

// WriteRoomsText prints a rooms result for people.
func WriteRoomsText(w io.Writer, r *RoomsResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "target\t%s\t(%d rooms × %g msg/s, %d clients per room + %d all-rooms, %gs + %gs warmup)\n",
		r.Target, r.Rooms, r.RoomRate, r.ClientsPerRoom, r.AllRoomClients, r.Duration, r.Warmup)
	fmt.Fprintf(tw, "rooms\t%d connected in %.2f s; at the end %d not live, %d reconnects\n", r.RoomsConnected, r.StartSeconds, r.RoomsNotLive, r.Reconnects)
	fmt.Fprintf(tw, "clients\t%d connected, %d refused, %d closed %v\n", r.Connected, r.ClientsRefused, r.ClientsClosed, r.CloseCodes)
	fmt.Fprintf(tw, "events\t%d sent (%.0f/s), %d measured; by type %v\n", r.EventsSent, r.eventsPerSec(), r.EventsMeasured, r.SentByType)
	fmt.Fprintf(tw, "deliveries\t%d of %d expected (tracked: %s events); received by type %v\n", r.Deliveries, r.ExpectedDeliveries, r.Tracked, r.ReceivedByType)
	fmt.Fprintf(tw, "correctness\t%d missed (%d on the all-rooms client), %d doubled, %d out of order, %d of another room, %d unknown\n",
		r.Missed, r.AllRoomsMissed, r.Doubled, r.Reordered, r.Foreign, r.Unknown)
	if r.StoreChecked {
		fmt.Fprintf(tw, "event log\t%d of %d stored, %d missing, %d doubled, %d out of order; %d unstored, %d shed, %d commits\n",
			r.Stored, r.EventsSent, r.StoreMissing, r.StoreDoubled, r.StoreReordered, r.StoreUnstored, r.StoreShed, r.StoreBatches)
	} else {
		fmt.Fprintf(tw, "event log\tnone (%s)\n", r.Target)
	}
	fmt.Fprintf(tw, "latency\tp50 %.3f ms, p99 %.3f ms, max %.3f ms\n", r.Latency.P50, r.Latency.P99, r.Latency.Max)
	fmt.Fprintf(tw, "server CPU\t%.2f s, %.1f µs per event; idle with rooms and clients: %.1f %% of a CPU\n", r.CPUSeconds, r.CPUPerEventUs, r.IdleCPUPercent)
	fmt.Fprintf(tw, "server RSS\t%s baseline, %s with the rooms (%.0f B per room), %s with the clients (%.0f B per room), %s at the end, peak %s\n",
		mib(r.RSSBaseline), mib(r.RSSRooms), r.RSSPerRoom, mib(r.RSSClients), r.RSSPerRoomAll, mib(r.RSSEnd), mib(r.PeakRSS))
	if r.FellBehind {
		fmt.Fprintf(tw, "verdict\tfell behind: %s\n", r.Why)
	} else {
		fmt.Fprintf(tw, "verdict\tkept up\n")
	}
}

// eventsPerSec is the rate all rooms sent at.
func (r *RoomsResult) eventsPerSec() float64 { return float64(r.Rooms) * r.RoomRate }

// ReadRoomsResults reads rooms results, one JSON object per line; other lines (results of the
// other modes) are skipped.
func ReadRoomsResults(rd io.Reader) ([]RoomsResult, error) {
	var out []RoomsResult
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var res RoomsResult
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return nil, fmt.Errorf("results line %d: %w", n, err)
		}
		if res.Mode == "rooms" {
			out = append(out, res)
		}
	}
	return out, sc.Err()
}

// Saturation is what a step search found: the largest step that kept up and the first that did not.
type Saturation struct {
	Kept, Behind *RoomsResult
}

// FindSaturation picks, among target's step runs in order, the last one that kept up before the
// first that fell behind.
func FindSaturation(results []RoomsResult, target string) Saturation {
	var s Saturation
	for i := range results {
		r := &results[i]
		if r.Label != LabelRoomsStep || r.Target != target {
			continue
		}
		if r.FellBehind {
			s.Behind = r
			return s
		}
		s.Kept = r
	}
	return s
}

// WriteRoomsTable prints one line per run, the single-room comparison of ours with the original,
// and the saturation figure.
func WriteRoomsTable(w io.Writer, results []RoomsResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\ttarget\trooms\tmsg/s/room\tevents/s\tclients\tdelivered/expected\tmissed+doubled+reordered\tstored/sent\tp50 ms\tp99 ms\tCPU µs/event\tidle CPU %\tRSS/room KiB\tverdict\t")
	for _, r := range results {
		stored := "n/a"
		if r.StoreChecked {
			stored = fmt.Sprintf("%d/%d", r.Stored, r.EventsSent)
		}
		verdict := "kept up"
		if r.FellBehind {
			verdict = "behind: " + r.Why
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%g\t%.0f\t%d\t%d/%d (%s)\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Label, r.Target, r.Rooms, r.RoomRate, r.eventsPerSec(), r.Connected, r.Deliveries, r.ExpectedDeliveries, r.Tracked,
			r.Missed+r.Doubled+r.Reordered+r.Foreign, stored, trimFloat(float64(r.Latency.P50)), trimFloat(float64(r.Latency.P99)),
			trimFloat(r.CPUPerEventUs), trimFloat(r.IdleCPUPercent), trimFloat(r.RSSPerRoomAll/1024), verdict)
	}
	tw.Flush()

	var ours, seed *RoomsResult
	for i := range results {
		r := &results[i]
		if r.Label == LabelRoomsSingle && r.Target == TargetOurs {
			ours = r
		}
		if r.Label == LabelRoomsSingle && r.Target == TargetSeed {
			seed = r
		}
	}
	if ours != nil && seed != nil {
		fmt.Fprintf(w, "\none room × %g msg/s, %d clients (the original can watch no more):\n", ours.RoomRate, ours.ClientsPerRoom)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "figure\tours\tseed\tours/seed\tbetter\t")
		row := func(name string, o, s float64, better string) {
			ratio := "n/a"
			if s != 0 {
				ratio = fmt.Sprintf("%.2f×", o/s)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", name, trimFloat(o), trimFloat(s), ratio, better)
		}
		row("p50 latency ms (ours: every event; seed: chats)", float64(ours.Latency.P50), float64(seed.Latency.P50), "lower")
		row("p99 latency ms (ours: every event; seed: chats)", float64(ours.Latency.P99), float64(seed.Latency.P99), "lower")
		row("CPU µs per event", ours.CPUPerEventUs, seed.CPUPerEventUs, "lower")
		row("RSS for the room and its clients KiB", ours.RSSPerRoomAll/1024, seed.RSSPerRoomAll/1024, "lower")
		row("peak RSS MiB", float64(ours.PeakRSS)/(1<<20), float64(seed.PeakRSS)/(1<<20), "lower")
		row("chats missed+doubled+reordered", float64(ours.Missed+ours.Doubled+ours.Reordered), float64(seed.Missed+seed.Doubled+seed.Reordered), "lower")
		row("event types passed on (of 5)", float64(typesSeen(ours)), float64(typesSeen(seed)), "higher")
		tw.Flush()
	}

	for _, t := range []string{TargetOurs} {
		s := FindSaturation(results, t)
		switch {
		case s.Kept == nil && s.Behind == nil:
			continue
		case s.Kept == nil:
			fmt.Fprintf(w, "\nsaturation (%s): behind at every step, first at %d rooms (%s)\n", t, s.Behind.Rooms, s.Behind.Why)
		case s.Behind == nil:
			fmt.Fprintf(w, "\nsaturation (%s): kept up at every step, up to %d rooms × %g msg/s = %.0f events/s (a lower bound)\n",
				t, s.Kept.Rooms, s.Kept.RoomRate, s.Kept.eventsPerSec())
		default:
			fmt.Fprintf(w, "\nsaturation (%s): kept up at %d rooms × %g msg/s = %.0f events/s (p99 %s ms); fell behind at %d rooms (%s)\n",
				t, s.Kept.Rooms, s.Kept.RoomRate, s.Kept.eventsPerSec(), trimFloat(float64(s.Kept.Latency.P99)), s.Behind.Rooms, s.Behind.Why)
		}
	}
}

// typesSeen is how many of the mix's event types reached the clients.
func typesSeen(r *RoomsResult) int {
	n := 0
	for _, t := range mixTypes {
		if r.ReceivedByType[t] > 0 {
			n++
		}
	}
	return n
}

package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/bench"
)

// runBench implements `tiktok-live-server bench`: the load tool (one run against ours, the
// original Node server or the featureless broadcaster), plus the helpers of the compare and
// decode scripts (-table, -write-frames, -decode-go) and the raw broadcaster itself (-serve-raw,
// which the tool starts as its own child process).
func runBench(ctx context.Context, args []string, sio IO) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(sio.Stderr)
	var (
		cfg       bench.Config
		asJSON    = fs.Bool("json", false, "print the result as one JSON line")
		logLevel  = fs.String("log-level", "warn", "debug, info, warn or error (stderr)")
		serveRaw  = fs.String("serve-raw", "", "run the raw broadcaster on this address (the tool starts it itself)")
		table     = fs.String("table", "", "print the comparison table of a file of -json results (scripts/bench-compare.sh)")
		frames    = fs.String("write-frames", "", "write BenchmarkDecodeFrame's push frames (JSON, base64) to this file")
		decodeGo  = fs.String("decode-go", "", "time Go's decode of the frames in this file (µs/message, one goroutine)")
		decodeFor = fs.Duration("decode-for", 2*time.Second, "how long -decode-go decodes each frame kind")
		roomSteps = fs.String("rooms-steps", "", "the rooms mode's saturation search: run these room counts (comma separated) in turn until one falls behind")
		roomTable = fs.String("rooms-table", "", "print the table of a file of -rooms -json results (scripts/bench-rooms.sh)")
	)
	fs.StringVar(&cfg.Target, "target", bench.TargetOurs, "server under test: ours, seed (the original Node server) or raw (featureless broadcaster)")
	fs.IntVar(&cfg.Clients, "clients", 100, "WebSocket clients on the legacy endpoint /")
	fs.Float64Var(&cfg.Rate, "rate", 100, "events per second from the fake TikTok (0: measure RSS of idle clients instead)")
	fs.IntVar(&cfg.FrameEvents, "frame-events", 0, "at most this many events per push frame (1: a frame per event; 0: the events due at a 1 ms tick together)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time (with -rate 0: settle time with the clients)")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "unmeasured lead-in (with -rate 0: settle time before the clients)")
	fs.DurationVar(&cfg.Drain, "drain", 10*time.Second, "after the last event, wait at most this long for clients to get everything")
	fs.StringVar(&cfg.Exe, "server-bin", "", "binary with the serve and bench commands (default: this program)")
	fs.StringVar(&cfg.SeedDir, "seed-dir", "", "the seed-node peer's folder (default $SEED_NODE_DIR or ../shared/peers/seed-node)")
	fs.StringVar(&cfg.Label, "label", "", "scenario name copied into the result")
	fs.IntVar(&cfg.Rooms, "rooms", 0, "the rooms mode: this many rooms, each sending -room-rate messages/s of a mix (chat, likes, gifts, joins, viewer counts) with -room-clients clients of its own, plus one all-rooms client")
	fs.Float64Var(&cfg.RoomRate, "room-rate", bench.DefaultRoomRate, "the rooms mode: messages per second per room")
	fs.IntVar(&cfg.ClientsPerRoom, "room-clients", bench.DefaultClientsPerRoom, "the rooms mode: WebSocket clients subscribed to each room")
	fs.Usage = func() {
		fmt.Fprintln(sio.Stderr, "usage: tiktok-live-server bench [flags]\n\n"+
			"Starts a fake TikTok whose room sends -rate chat events per second, each stamped with its send time,\n"+
			"starts the -target server as a child process pointed at it, connects -clients WebSocket clients to\n"+
			"its legacy endpoint and reports deliveries/s, latency (p50, p99, max, to the first client), missed,\n"+
			"doubled and reordered events, clients refused or closed, and the server's CPU seconds and peak RSS.\n"+
			"Loopback only. See docs/benchmarks.md.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, 0); !ok {
		return code
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(sio.Stderr, "bench: bad -log-level %q\n", *logLevel)
		return 2
	}
	log := slog.New(slog.NewTextHandler(sio.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log

	switch {
	case *serveRaw != "":
		bench.RaiseFileLimit(log)
		if err := bench.RunRaw(ctx, *serveRaw, sio.Stdout, log); err != nil {
			fmt.Fprintf(sio.Stderr, "bench: %v\n", err)
			return 1
		}
		return 0
	case *table != "":
		f, err := os.Open(*table)
		if err != nil {
			fmt.Fprintf(sio.Stderr, "bench: %v\n", err)
			return 1
		}
		defer f.Close()
		results, err := bench.ReadResults(f)
		if err != nil {
			fmt.Fprintf(sio.Stderr, "bench: %s: %v\n", *table, err)
			return 1
		}
		bench.WriteTable(sio.Stdout, results)
		return 0
	case *frames != "":
		f, err := os.Create(*frames)
		if err == nil {
			err = bench.WriteDecodeFrames(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(sio.Stderr, "bench: write frames: %v\n", err)
			return 1
		}
		return 0
	case *roomTable != "":
		f, err := os.Open(*roomTable)
		if err != nil {
			fmt.Fprintf(sio.Stderr, "bench: %v\n", err)
			return 1
		}
		defer f.Close()
		results, err := bench.ReadRoomsResults(f)
		if err != nil {
			fmt.Fprintf(sio.Stderr, "bench: %s: %v\n", *roomTable, err)
			return 1
		}
		bench.WriteRoomsTable(sio.Stdout, results)
		return 0
	case *roomSteps != "" || cfg.Rooms > 0:
		return runBenchRooms(ctx, cfg, *roomSteps, *asJSON, sio)
	case *decodeGo != "":
		fr, err := bench.ReadDecodeFrames(*decodeGo)
		var timings []bench.DecodeTiming
		if err == nil {
			timings, err = bench.TimeGoDecode(fr, *decodeFor)
		}
		if err != nil {
			fmt.Fprintf(sio.Stderr, "bench: %v\n", err)
			return 1
		}
		for _, t := range timings {
			fmt.Fprintf(sio.Stdout, "go   %-5s %8.3f µs/message (%d frames of %d messages)\n", t.Kind, t.UsPerMessage, t.Frames, fr.Messages)
		}
		return 0
	}

	res, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(sio.Stderr, "bench: %s\n", strings.TrimPrefix(err.Error(), "bench: "))
		return 1
	}
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintf(sio.Stdout, "%s\n", b)
	} else {
		bench.WriteText(sio.Stdout, res)
	}
	return 0
}

// runBenchRooms runs the rooms mode once (-rooms N) or as a saturation search (-rooms-steps):
// each step's result is printed as it ends, and the search stops at the first step that falls behind.
func runBenchRooms(ctx context.Context, cfg bench.Config, steps string, asJSON bool, sio IO) int {
	counts := []int{cfg.Rooms}
	if steps != "" {
		var err error
		if counts, err = bench.ParseSteps(steps); err != nil {
			fmt.Fprintf(sio.Stderr, "bench: -rooms-steps: %v\n", err)
			return 2
		}
	}
	var kept *bench.RoomsResult
	for _, n := range counts {
		c := cfg
		c.Rooms = n
		res, err := bench.RunRooms(ctx, c)
		if err != nil {
			fmt.Fprintf(sio.Stderr, "bench: %s\n", strings.TrimPrefix(err.Error(), "bench: "))
			return 1
		}
		if asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintf(sio.Stdout, "%s\n", b)
		} else {
			bench.WriteRoomsText(sio.Stdout, res)
			fmt.Fprintln(sio.Stdout)
		}
		if res.FellBehind {
			if len(counts) > 1 && !asJSON {
				fmt.Fprintf(sio.Stdout, "saturated at %d rooms × %g msg/s (%s); ", n, res.RoomRate, res.Why)
				if kept != nil {
					fmt.Fprintf(sio.Stdout, "kept up at %d rooms\n", kept.Rooms)
				} else {
					fmt.Fprintln(sio.Stdout, "behind at every step")
				}
			}
			return 0
		}
		kept = res
	}
	if len(counts) > 1 && !asJSON {
		fmt.Fprintf(sio.Stdout, "kept up at every step, up to %d rooms (a lower bound)\n", kept.Rooms)
	}
	return 0
}

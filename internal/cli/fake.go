package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
)

// faultFlags collects repeated --fault USER=KIND[:TIMES] values.
type faultFlags []fakeFault

type fakeFault struct {
	user  string
	fault faketiktok.Fault
}

func (f *faultFlags) String() string { return fmt.Sprint(len(*f), " faults") }

func (f *faultFlags) Set(v string) error {
	user, spec, ok := strings.Cut(v, "=")
	if !ok || user == "" || spec == "" {
		return errors.New("want USER=KIND[:TIMES]")
	}
	kind, times, hasTimes := strings.Cut(spec, ":")
	fl := faketiktok.Fault{Kind: faketiktok.FaultKind(kind)}
	if !fl.Kind.Valid() {
		return fmt.Errorf("unknown fault kind %q", kind)
	}
	if hasTimes {
		n, err := strconv.Atoi(times)
		if err != nil || n < -1 {
			return fmt.Errorf("TIMES must be an integer >= -1, got %q", times)
		}
		fl.Times = n
	}
	*f = append(*f, fakeFault{user: user, fault: fl})
	return nil
}

// runFakeTikTok implements `tiktok-live-server fake-tiktok`: a fake TikTok (web pages, sign server,
// push socket) on one port, until ctx is cancelled.
func runFakeTikTok(ctx context.Context, args []string, io IO) int {
	fs := flag.NewFlagSet("fake-tiktok", flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	var (
		listen   = fs.String("listen", "127.0.0.1:0", "address to listen on: host, host:port or [ipv6]:port (no port, or 0: a free one)")
		rate     = fs.Float64("rate", 5, "synthetic messages per second per room (0: only injected messages)")
		history  = fs.Int("history", 10, "messages in the sign answer's first batch (-1: none)")
		seed     = fs.Int64("seed", 0, "seed of the synthetic stream (0: the fixed default)")
		capFile  = fs.String("capture", "", "replay this capture file (JSON lines) instead of the synthetic stream")
		loop     = fs.Bool("loop", false, "replay the capture forever")
		endAfter = fs.Int("end-after", 0, "end each broadcast after N messages (WebcastControlMessage action 3); 0: never")
		apiKey   = fs.String("api-key", "", "if set, the sign routes require this X-Api-Key")
		logLevel = fs.String("log-level", "info", "debug, info, warn or error")
		faults   faultFlags
	)
	fs.Var(&faults, "fault", "queue a fault: USER=KIND[:TIMES] (repeatable; TIMES -1 = forever)")
	fs.Usage = func() {
		fmt.Fprintln(io.Stderr, "usage: tiktok-live-server fake-tiktok [flags]")
		fmt.Fprintln(io.Stderr, "\nRuns a fake TikTok: every username is live, except names starting with offline, notfound,")
		fmt.Fprintln(io.Stderr, "restricted or blocked. Fault kinds: sign_429 sign_402 sign_5xx sign_no_cookie sign_empty")
		fmt.Fprintln(io.Stderr, "handshake_refused abrupt_close garbage_frame truncated_frame oversized_frame stall stream_end.")
		fmt.Fprintln(io.Stderr, "\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, 0); !ok {
		return code
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(io.Stderr, "fake-tiktok: bad --log-level %q\n", *logLevel)
		return 2
	}
	switch {
	case *rate < 0:
		fmt.Fprintln(io.Stderr, "fake-tiktok: --rate must be >= 0")
		return 2
	case *history < -1:
		fmt.Fprintln(io.Stderr, "fake-tiktok: --history must be >= -1")
		return 2
	case *endAfter < 0:
		fmt.Fprintln(io.Stderr, "fake-tiktok: --end-after must be >= 0")
		return 2
	}
	la, err := parseListen(*listen)
	if err != nil {
		fmt.Fprintf(io.Stderr, "fake-tiktok: %v\n", err)
		return 2
	}
	stream := faketiktok.StreamConfig{Rate: *rate, HistorySize: *history, Seed: *seed, Loop: *loop, EndAfter: *endAfter}
	if *history == 0 {
		stream.HistorySize = -1 // the flag's 0 means none; the config's 0 means the default
	}
	if *capFile != "" {
		lines, err := readCapture(*capFile)
		if err != nil {
			fmt.Fprintf(io.Stderr, "fake-tiktok: %v\n", err)
			return 1
		}
		stream.Capture = lines
	}
	log := slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := faketiktok.Start(ctx, faketiktok.Options{Addr: la.join(0), Default: stream, APIKey: *apiKey, Logger: log})
	if err != nil {
		fmt.Fprintf(io.Stderr, "fake-tiktok: %v\n", err)
		return 1
	}
	for _, f := range faults {
		srv.AddFault(f.user, f.fault)
	}
	u := srv.URLs()
	fmt.Fprintf(io.Stdout, "web=%s\nwebcast=%s\nsign=%s\n", u.Web, u.Webcast, u.Sign)
	fmt.Fprintf(io.Stdout, "# point the Node conformance client here:\n"+
		"#   ../shared/conformance/node-client/run.sh --web %[1]s --webcast %[1]s --sign %[2]s --user streamer\n"+
		"# control API: %[2]s/_fake/users/{name} (PUT, /live, /faults, /inject, /record, /emitted)\n",
		srv.HostPort(), u.Sign)
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(io.Stderr, "fake-tiktok: %v\n", err)
		return 1
	}
	return 0
}

func readCapture(path string) ([]capture.Line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	lines, err := capture.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", path, err)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("capture %s: no lines", path)
	}
	return lines, nil
}

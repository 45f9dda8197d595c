package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/auth"
	"github.com/tiktok-live-server/tiktok-live-server/internal/cluster"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/httpapi"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
	"github.com/tiktok-live-server/tiktok-live-server/internal/web"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webhook"
)

// DefaultPort is the original server's port.
const DefaultPort = 3000

type serveFlags struct {
	up              upstreamFlags
	listen          string
	listenAt        listenAddr // --listen parsed, with the port resolved (resolveListen)
	maxRooms        int
	signQuota       int
	backoffBase     time.Duration
	backoffMax      time.Duration
	livePoll        time.Duration
	stallTimeout    time.Duration
	streakTimeout   time.Duration
	dedupWindow     int
	queueBytes      int
	writeTimeout    time.Duration
	responseTimeout time.Duration
	shutdownTimeout time.Duration
	logFormat       string
	logLevel        string
	dataDir         string
	record          bool
	retention       string
	storeQueue      int
	demo            bool
	open            bool // open the dashboard in a browser once listening
	retentionDur    time.Duration
	adminToken      string
	readToken       string
	tokenSecret     string
	allowedOrigins  string
	trustProxy      bool
	rateLimit       float64
	maxClients      int
	maxClientsPerIP int
	insecure        bool

	webhooksAllowPrivate bool
	webhooksWorkers      int
	webhooksTimeout      time.Duration
	webhooksSchedule     string
	webhooksRetention    string
	webhookSchedule      []time.Duration // --webhooks-schedule parsed
	webhookRetention     time.Duration   // --webhooks-retention parsed; < 0 keeps everything

	cl clusterFlags
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.up.register(fs)
	f.cl.register(fs)
	fs.StringVar(&f.listen, "listen", envOr("LISTEN_ADDR", "127.0.0.1"), "address to listen on; loopback by default (env LISTEN_ADDR)")
	fs.IntVar(&f.maxRooms, "max-rooms", envInt("MAX_ROOMS", 1), "rooms monitored at once; 1 = single-user mode, where a connect replaces the current room (env MAX_ROOMS)")
	fs.IntVar(&f.signQuota, "sign-quota", envInt("SIGN_QUOTA_PER_MIN", 60), "sign calls per minute shared by all rooms (connects and reconnects; live checks of offline hosts take none); 0 = unlimited (env SIGN_QUOTA_PER_MIN)")
	fs.DurationVar(&f.backoffBase, "backoff-base", envDuration("BACKOFF_BASE", room.DefaultBackoffBase), "first reconnect delay bound; doubled per failed attempt, with full jitter (env BACKOFF_BASE)")
	fs.DurationVar(&f.backoffMax, "backoff-max", envDuration("BACKOFF_MAX", room.DefaultBackoffCap), "reconnect delay cap (env BACKOFF_MAX)")
	fs.DurationVar(&f.livePoll, "live-poll", envDuration("LIVE_POLL", room.DefaultLivePoll), "how often an offline host is checked for going live (env LIVE_POLL)")
	fs.DurationVar(&f.stallTimeout, "stall-timeout", envDuration("STALL_TIMEOUT", webcast.DefaultStallTimeout), "reconnect when the upstream socket is silent this long (env STALL_TIMEOUT)")
	fs.DurationVar(&f.streakTimeout, "streak-timeout", envDuration("STREAK_TIMEOUT", stream.DefaultStreakTimeout), "finalise a gift streak whose end never arrives after this long (env STREAK_TIMEOUT)")
	fs.IntVar(&f.dedupWindow, "dedup-window", envInt("DEDUP_MAX", stream.DefaultDedupWindow), "message ids remembered per room to drop duplicates (env DEDUP_MAX)")
	fs.IntVar(&f.queueBytes, "client-queue-bytes", envInt("CLIENT_QUEUE_BYTES", hub.DefaultMaxQueueBytes), "bytes queued per stream client before it is closed as too slow (close code 4001) (env CLIENT_QUEUE_BYTES)")
	fs.DurationVar(&f.writeTimeout, "client-write-timeout", envDuration("CLIENT_WRITE_TIMEOUT", httpapi.DefaultWriteTimeout), "a stream client that takes longer for one write is closed (close code 4002) (env CLIENT_WRITE_TIMEOUT)")
	fs.DurationVar(&f.responseTimeout, "response-write-timeout", envDuration("RESPONSE_WRITE_TIMEOUT", httpapi.DefaultResponseWriteTimeout), "a client that takes longer than this to take an answer (or one chunk of an export) is cut off (env RESPONSE_WRITE_TIMEOUT)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", envDuration("SHUTDOWN_TIMEOUT", 10*time.Second), "bound on a graceful shutdown (env SHUTDOWN_TIMEOUT)")
	fs.StringVar(&f.logFormat, "log-format", envOr("LOG_FORMAT", "text"), "text or json (env LOG_FORMAT)")
	fs.StringVar(&f.logLevel, "log-level", envOr("LOG_LEVEL", "info"), "debug, info, warn or error (env LOG_LEVEL)")
	fs.StringVar(&f.dataDir, "data-dir", envOr("DATA_DIR", "./data"), "directory of the event log (SQLite); \"\" keeps history in memory only, bounded (env DATA_DIR)")
	fs.BoolVar(&f.record, "record", envBool("RECORD"), "also keep the raw upstream messages of each session, exported as a capture the fake replays (env RECORD)")
	fs.StringVar(&f.retention, "retention", envOr("RETENTION", ""), "prune sessions that ended longer ago than this, e.g. 30d or 12h; empty keeps everything (env RETENTION)")
	fs.IntVar(&f.storeQueue, "store-queue", envInt("STORE_QUEUE", store.DefaultQueueLimit), "events that may wait for the disk before new ones are delivered without being stored (env STORE_QUEUE)")
	fs.StringVar(&f.adminToken, "admin-token", os.Getenv("ADMIN_TOKEN"), "token for connect, disconnect, shutdown and simulate (Authorization: Bearer); required to listen beyond loopback (env ADMIN_TOKEN)")
	fs.StringVar(&f.readToken, "read-token", os.Getenv("READ_TOKEN"), "if set, reading (status, streams, history) needs this token, the admin token or a room token (env READ_TOKEN)")
	fs.StringVar(&f.tokenSecret, "token-secret", os.Getenv("TOKEN_SECRET"), "key of room tokens minted by `tiktok-live-server token`; setting it also makes reads need a token (env TOKEN_SECRET)")
	fs.StringVar(&f.allowedOrigins, "allowed-origins", os.Getenv("ALLOWED_ORIGINS"), "browser origins, besides the server's own and local pages, allowed to open streams and call the API, comma separated; * allows all (env ALLOWED_ORIGINS)")
	fs.BoolVar(&f.trustProxy, "trust-proxy", envBool("TRUST_PROXY"), "take the client address from X-Forwarded-For when the peer is a private address (behind a reverse proxy) (env TRUST_PROXY)")
	fs.Float64Var(&f.rateLimit, "rate-limit", envFloat("RATE_LIMIT", 20), "API requests per second per client address (burst twice that; loopback exempt); 0 = unlimited (env RATE_LIMIT)")
	fs.IntVar(&f.maxClients, "max-clients", envInt("MAX_CLIENTS", 20000), "WebSocket and SSE clients at once; 0 = unlimited (env MAX_CLIENTS)")
	fs.IntVar(&f.maxClientsPerIP, "max-clients-per-ip", envInt("MAX_CLIENTS_PER_IP", 100), "WebSocket and SSE clients per client address (loopback exempt); 0 = unlimited (env MAX_CLIENTS_PER_IP)")
	fs.BoolVar(&f.insecure, "insecure", envBool("INSECURE"), "allow listening beyond loopback without an admin token: anyone who reaches the port may connect rooms and shut the server down (env INSECURE)")
	fs.BoolVar(&f.demo, "demo", envBool("DEMO"), "start a built-in fake TikTok with a busy demo room, connect it and print the dashboard URL (no network needed) (env DEMO)")
	fs.BoolVar(&f.open, "open", envBool("OPEN_BROWSER"), "open the dashboard in the default browser once listening; --demo does so by itself when run from a terminal (--open=false stops it) (env OPEN_BROWSER)")
	fs.BoolVar(&f.webhooksAllowPrivate, "webhooks-allow-private", envBool("WEBHOOKS_ALLOW_PRIVATE"), "let webhooks reach loopback, private, link-local and metadata addresses (receivers on this machine or network); refused by default against SSRF (env WEBHOOKS_ALLOW_PRIVATE)")
	fs.IntVar(&f.webhooksWorkers, "webhooks-workers", envInt("WEBHOOKS_WORKERS", webhook.DefaultWorkers), "webhook requests in flight at once, over all endpoints (env WEBHOOKS_WORKERS)")
	fs.DurationVar(&f.webhooksTimeout, "webhooks-timeout", envDuration("WEBHOOKS_TIMEOUT", webhook.DefaultTimeout), "a webhook request not answered within this is a failed attempt (env WEBHOOKS_TIMEOUT)")
	fs.StringVar(&f.webhooksSchedule, "webhooks-schedule", envOr("WEBHOOKS_SCHEDULE", formatSchedule(webhook.DefaultSchedule)), "waits between a webhook's attempts, comma separated (±20% jitter); after the last, it is given up (env WEBHOOKS_SCHEDULE)")
	fs.StringVar(&f.webhooksRetention, "webhooks-retention", envOr("WEBHOOKS_RETENTION", "7d"), "keep delivered and dead webhook deliveries (listable, resendable) this long, e.g. 7d or 12h; 0 keeps them forever (env WEBHOOKS_RETENTION)")
}

// formatSchedule writes a retry schedule as --webhooks-schedule takes it.
func formatSchedule(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		p := d.String() // 5m0s, 2h0m0s: drop the zero tails
		if strings.HasSuffix(p, "m0s") {
			p = strings.TrimSuffix(p, "0s")
		}
		if strings.HasSuffix(p, "h0m") {
			p = strings.TrimSuffix(p, "0m")
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// parseSchedule reads --webhooks-schedule: positive durations, comma separated.
func parseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for p := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("--webhooks-schedule must be positive durations, comma separated, like 5s,5m,30m,2h; %q is not one", strings.TrimSpace(p))
		}
		out = append(out, d)
	}
	return out, nil
}

// checkWebhooks validates and parses the webhook flags.
func (f *serveFlags) checkWebhooks() error {
	if f.webhooksWorkers < 1 {
		return errors.New("--webhooks-workers must be at least 1")
	}
	if f.webhooksTimeout <= 0 {
		return errors.New("--webhooks-timeout must be positive")
	}
	var err error
	if f.webhookSchedule, err = parseSchedule(f.webhooksSchedule); err != nil {
		return err
	}
	if f.webhooksRetention == "0" {
		f.webhookRetention = -1
		return nil
	}
	if f.webhookRetention, err = parseRetention(f.webhooksRetention); err != nil || f.webhookRetention == 0 {
		return fmt.Errorf("--webhooks-retention must be a number of days like 7d, a duration like 12h, or 0, not %q", f.webhooksRetention)
	}
	return nil
}

// flagSet reports whether the command line set the named flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

func envBool(name string) bool {
	v, err := strconv.ParseBool(os.Getenv(name))
	return err == nil && v
}

// minTokenLen is the shortest admin or read token accepted: long enough not to be guessed.
const minTokenLen = 16

// checkSecurity refuses settings that would expose the server: a non-loopback address without an
// admin token (unless --insecure says so on purpose), short tokens, a short token secret.
func (f *serveFlags) checkSecurity() error {
	for _, t := range []struct{ name, v string }{{"--admin-token", f.adminToken}, {"--read-token", f.readToken}} {
		if t.v != "" && len(t.v) < minTokenLen {
			return fmt.Errorf("%s must be at least %d characters (try: openssl rand -hex 32)", t.name, minTokenLen)
		}
	}
	if f.tokenSecret != "" {
		if err := auth.CheckSecret([]byte(f.tokenSecret)); err != nil {
			return fmt.Errorf("--token-secret: %w", err)
		}
	}
	if f.rateLimit < 0 || f.maxClients < 0 || f.maxClientsPerIP < 0 {
		return errors.New("--rate-limit, --max-clients and --max-clients-per-ip must not be negative (0 = unlimited)")
	}
	if f.adminToken == "" && !f.insecure && !loopbackHost(f.listenAt.host) {
		return fmt.Errorf("refusing to listen on %s without an admin token: anyone who can reach the port could connect rooms, "+
			"disconnect them and shut the server down. Set --admin-token (env ADMIN_TOKEN, e.g. $(openssl rand -hex 32)), "+
			"or pass --insecure to accept that", f.listen)
	}
	return nil
}

func (f *serveFlags) security() httpapi.Security {
	var origins []string
	for o := range strings.SplitSeq(f.allowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	sec := httpapi.Security{
		AllowedOrigins: origins, TrustProxy: f.trustProxy, RatePerSec: f.rateLimit, RateBurst: int(2*f.rateLimit) + 1,
		MaxStreams: f.maxClients, MaxStreamsPerIP: f.maxClientsPerIP, Exposed: !loopbackHost(f.listenAt.host),
	}
	if f.adminToken != "" || f.readToken != "" || f.tokenSecret != "" {
		sec.Policy = &auth.Policy{AdminToken: f.adminToken, ReadToken: f.readToken, Open: f.adminToken == ""}
		if f.tokenSecret != "" {
			sec.Policy.TokenSecret = []byte(f.tokenSecret)
		}
	}
	return sec
}

// resolveListen parses --listen and settles the port: the argument (or PORT), else 3000, unless
// --listen names one; a port given both ways is refused rather than one silently winning.
func (f *serveFlags) resolveListen(args []string) (int, error) {
	la, err := parseListen(f.listen)
	if err != nil {
		return 0, err
	}
	f.listenAt = la
	port, from := DefaultPort, ""
	if v := os.Getenv("PORT"); v != "" {
		port, from = -1, "PORT="+v
		if p, err := strconv.Atoi(v); err == nil && p >= 0 && p <= 65535 {
			port = p
		}
	}
	if len(args) == 1 {
		port, from = -1, "the port argument "+args[0]
		if p, err := strconv.Atoi(args[0]); err == nil && p >= 0 && p <= 65535 {
			port = p
		}
	}
	switch {
	case la.hasPort && from != "":
		return 0, fmt.Errorf("the port is given twice: --listen %s and %s; give it once", f.listen, from)
	case port < 0:
		return 0, fmt.Errorf("port must be a number from 0 to 65535, not %s", strings.TrimPrefix(strings.TrimPrefix(from, "the port argument "), "PORT="))
	case la.hasPort:
		port = la.port
	}
	return port, nil
}

// parseRetention reads a retention period: a Go duration, or a whole number of days ("30d").
func parseRetention(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n > 0 && n < 100000 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("--retention must be a number of days like 30d or a duration like 12h, not %q", s)
}

func (f *serveFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", f.logFormat)
}

// runServe runs the server: `tiktok-live-server [flags] [port]`.
func runServe(ctx context.Context, args []string, sio IO) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(sio.Stderr)
	var f serveFlags
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(sio.Stderr, "usage: tiktok-live-server [serve] [flags] [port]\n\nport defaults to 3000 (env PORT). Flags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, 1); !ok {
		return code
	}
	if f.demo && !flagSet(fs, "open") && os.Getenv("OPEN_BROWSER") == "" {
		if out, ok := sio.Stdout.(*os.File); ok && interactive(out) {
			f.open = true // someone is at the console: show them the demo
		}
	}
	if f.demo && !flagSet(fs, "data-dir") && os.Getenv("DATA_DIR") == "" {
		f.dataDir = "" // a demo left running must not fill the disk: history in memory, bounded
	}
	port, err := f.resolveListen(fs.Args())
	if err != nil {
		fmt.Fprintln(sio.Stderr, "tiktok-live-server:", err)
		return 2
	}
	log, err := f.logger(sio.Stderr)
	if err == nil {
		err = f.up.validate()
	}
	if err == nil && f.maxRooms < 1 {
		err = errors.New("--max-rooms must be at least 1")
	}
	if err == nil {
		f.retentionDur, err = parseRetention(f.retention)
	}
	if err == nil {
		err = f.checkSecurity()
	}
	if err == nil {
		err = f.checkWebhooks()
	}
	if err == nil {
		err = f.cl.validate(port)
	}
	if err == nil && f.cl.on() && f.demo {
		err = errors.New("--demo runs a single node: leave out --nats-url and --nats-embedded")
	}
	if err != nil {
		fmt.Fprintln(sio.Stderr, "tiktok-live-server:", err)
		return 2
	}
	if err := serve(ctx, &f, port, sio, log); err != nil {
		fmt.Fprintln(sio.Stderr, "tiktok-live-server:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, f *serveFlags, port int, sio IO, log *slog.Logger) error {
	addr := f.listenAt.join(port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using the port? pass another port as the argument)", addr, err)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var demoRoom string
	if f.demo {
		up, user, stopDemo, err := startDemo(ctx, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopDemo() // after the rooms have closed
		f.up, demoRoom = up, user
	}

	h := hub.New(hub.Options{MaxQueueBytes: f.queueBytes})
	var node *clusterNode
	if f.cl.on() {
		// Joined before the store opens: the store's Deliver feeds the node's archiver. Closed
		// after the store (deferred first).
		var err error
		if node, err = joinCluster(ctx, &f.cl, f.dataDir, log); err != nil {
			ln.Close()
			return err
		}
		defer node.close()
	}
	webhooksHere := node == nil || f.cl.webhooks
	var webhooksRole *cluster.Lease
	if node != nil && f.cl.webhooks {
		// One webhooks node at a time; a second would send every webhook again.
		if webhooksRole, err = node.conn.ClaimRole(ctx, cluster.RoleWebhooks, 2*f.cl.leaseTTL); err != nil {
			ln.Close()
			return fmt.Errorf("--role webhooks: %w", err)
		}
	}
	// The webhooks' queue sits beside the event log (in memory without a data directory). It
	// follows the committed log by a cursor of its own; the store's Deliver only wakes it.
	whPath := ""
	if f.dataDir != "" {
		whPath = filepath.Join(f.dataDir, webhook.FileName)
	}
	wh, err := webhook.Open(ctx, webhook.Options{
		Path: whPath,
		Dispatcher: webhook.DispatcherOptions{
			Guard: webhook.Guard{AllowPrivate: f.webhooksAllowPrivate}, Workers: f.webhooksWorkers, Timeout: f.webhooksTimeout,
			Schedule: f.webhookSchedule, Logger: log, UserAgent: "tiktok-live-server/" + Version() + " (webhooks)",
		},
		Retention: f.webhookRetention,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("open the webhook queue: %w (check --data-dir and its permissions)", err)
	}
	defer wh.Close() // after Run has returned: the shutdown below waits for it
	st, err := store.Open(ctx, store.Options{
		Dir: f.dataDir, Deliver: func(m *event.Encoded) {
			h.Publish(m)
			wh.Notify()
			if node != nil {
				node.delivered(m)
			}
		}, QueueLimit: f.storeQueue,
		Retention: f.retentionDur, Record: f.record, Logger: log,
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer st.Close()
	if webhooksHere {
		if err := wh.Follow(ctx, st); err != nil {
			ln.Close()
			return fmt.Errorf("webhooks: %w", err)
		}
	}
	// The webhook side outlives ctx like the rooms: it is stopped, and waited for, in the
	// shutdown below.
	whCtx, cancelWh := context.WithCancel(context.Background())
	defer cancelWh()
	whDone := make(chan struct{})
	go func() {
		defer close(whDone)
		if webhooksHere {
			wh.Run(whCtx)
		}
	}()
	if webhooksRole != nil {
		roleDone := make(chan struct{})
		go func() {
			defer close(roleDone)
			node.conn.HoldRole(whCtx, webhooksRole, func(string) { cancelWh() })
		}()
		defer func() { cancelWh(); <-roleDone }()
	}
	defer func() { // on an early return; after the shutdown's wait it returns at once
		cancelWh()
		select {
		case <-whDone:
		case <-time.After(f.shutdownTimeout):
		}
	}()
	var recorder room.Recorder
	if f.record {
		recorder = st
	}
	client := webcast.New(webcast.Config{WebURL: f.up.webURL, WebcastURL: f.up.webcastURL, Logger: log})
	signer := &webcast.EulerSigner{BaseURL: f.up.signURL, APIKey: f.up.signAPIKey, Route: webcast.SignRoute(f.up.signRoute)}
	// The rooms outlive ctx: on shutdown they are closed in order, so clients hear why.
	roomsCtx, cancelRooms := context.WithCancel(context.Background())
	defer cancelRooms()
	// The watch list lives in the data directory: with --data-dir "" nothing persists, and a demo
	// (a throwaway fake upstream) keeps none.
	var watched room.WatchList
	if !st.Memory() && !f.demo && node == nil { // in cluster mode the rooms_desired bucket is the list
		watched = watchList{st: st, log: log}
	}
	var roomLog stream.Log = st
	if node != nil {
		roomLog = node.log // an owned room's events go to the cluster's stream; the archiver brings them back
	}
	quota := room.NewQuota(f.signQuota)
	rooms := room.NewManager(roomsCtx, room.Config{
		Upstream: client, Signer: signer, Quota: quota,
		BackoffBase: f.backoffBase, BackoffCap: f.backoffMax, LivePoll: f.livePoll, StallTimeout: f.stallTimeout,
		Logger: log, Recorder: recorder, WatchList: watched,
	}, f.maxRooms, h, stream.Options{DedupWindow: f.dedupWindow, StreakTimeout: f.streakTimeout, Logger: log, Log: roomLog})
	var rep room.ResumeReport
	if node == nil {
		rep, err = rooms.Resume(ctx)
	}
	var apiRooms httpapi.Rooms = rooms
	var apiCluster httpapi.Cluster
	var resumeCatchUp time.Duration
	if node != nil {
		if f.cl.gateway || f.cl.webhooks {
			node.startArchiver(st, func() int { return st.Stats().Pending }, f.dataDir, log)
		}
		if f.cl.ingest {
			node.startCoordinator(rooms, f.maxRooms, quota, log)
		}
		node.rooms, node.stopView = cluster.NewRooms(ctx, node.conn, f.maxRooms, quota)
		apiRooms, apiCluster = node.rooms, node
		resumeCatchUp = clusterResumeCatchUp
	}
	apiWebhooks := wh
	if !webhooksHere {
		apiWebhooks = nil
	}
	switch {
	case err != nil:
		log.Warn("watch list: not resumed", "err", err, "resumed", rep.Started)
	case len(rep.Skipped) > 0:
		log.Warn("watch list: more rooms than --max-rooms; the highest priorities were resumed, the rest are listed as stopped (room_limit)",
			"maxRooms", f.maxRooms, "resumed", rep.Started, "notResumed", rep.Skipped)
	case len(rep.Started) > 0:
		log.Info("watch list resumed", "rooms", len(rep.Started))
	}
	api := httpapi.New(httpapi.Config{
		Rooms: apiRooms, Manager: rooms, Cluster: apiCluster, Hub: h, Store: st, Webhooks: apiWebhooks, Resolver: client, Logger: log, Shutdown: stop, WriteTimeout: f.writeTimeout, ResponseWriteTimeout: f.responseTimeout, Version: Version(),
		ResumeCatchUp: resumeCatchUp, Web: web.Handler(), Demo: f.demo, Security: f.security(),
	})
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(sio.Stdout, "tiktok-live-server listening on %s\n", url)
	log.Info("listening", "url", url, "version", Version(), "maxRooms", f.maxRooms, "signQuotaPerMin", f.signQuota, "signer", signer.String(),
		"dataDir", f.dataDir, "record", f.record, "retention", f.retentionDur,
		"adminToken", f.adminToken != "", "readToken", f.readToken != "", "roomTokens", f.tokenSecret != "",
		"webhooksAllowPrivate", f.webhooksAllowPrivate)
	if f.webhooksAllowPrivate && !loopbackHost(f.listenAt.host) {
		log.Warn("--webhooks-allow-private on a server listening beyond loopback: whoever holds the admin token can make it call any address on its network")
	}
	if demoRoom != "" {
		if _, _, err := rooms.Start(demoRoom, room.StartOptions{}); err != nil {
			log.Warn("demo: connect the demo room", "err", err)
		}
		fmt.Fprintf(sio.Stdout, "demo: open the dashboard at %s/?room=%s\n", url, demoRoom)
	}
	var opened sync.WaitGroup
	defer opened.Wait()
	if f.open {
		page := url + "/"
		if h, p, err := net.SplitHostPort(ln.Addr().String()); err == nil && net.ParseIP(h).IsUnspecified() {
			page = "http://" + net.JoinHostPort("127.0.0.1", p) + "/" // a browser cannot open 0.0.0.0 everywhere
		}
		if demoRoom != "" {
			page += "?room=" + demoRoom
		}
		opened.Go(func() {
			if err := openBrowser(ctx, page); err != nil {
				log.Warn("could not open a browser", "err", err)
			}
		})
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	log.Info("shutting down")
	api.BeginShutdown()
	// One deadline bounds the whole shutdown. The rooms get up to half of it to stop; the event
	// log commits what is queued until four fifths of it (then records what it could not, see
	// store.CloseResult); the stream clients get the rest to receive their queues and close.
	began := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Shutdown(sctx) }() // stops accepting at once, then waits for requests
	if node != nil {
		// Hand the owned rooms over first: their leases are deleted, so other nodes take them at
		// once rather than after the lease time.
		hctx, cancelHand := context.WithTimeout(sctx, f.shutdownTimeout/4)
		node.handOver(hctx)
		cancelHand()
	}
	roomsDone := make(chan struct{})
	go func() { defer close(roomsDone); rooms.Close() }() // clients get connection_closed (reason shutdown)
	roomsTimer := time.NewTimer(f.shutdownTimeout / 2)
	select {
	case <-roomsDone:
	case <-roomsTimer.C:
		// Manager.Close takes no context: leave it running, hurried by its context's end.
		// Its rooms' last events (connection_closed) are then dropped by the closed store.
		cancelRooms()
		log.Warn("shutdown: rooms did not stop in time; clients may not get connection_closed",
			"waited", f.shutdownTimeout/2, "hint", "a room's upstream connection did not close; see the room logs above")
	}
	roomsTimer.Stop()
	// Webhooks stop before the event log closes, so the follower never reads a closed store.
	// Attempts in flight are cancelled and their deliveries released, not failed; what the log
	// commits from here on is queued at the next start (the follower's cursor is persisted).
	cancelWh()
	select {
	case <-whDone:
	case <-sctx.Done():
		log.Warn("shutdown: webhook delivery did not stop in time")
	}
	if node != nil {
		node.stopArchiver() // nothing more into the store once it closes
	}
	storeCtx, cancelStore := context.WithDeadline(sctx, began.Add(f.shutdownTimeout*4/5))
	res, err := st.CloseContext(storeCtx) // commits and delivers what is queued, while time allows
	cancelStore()
	switch {
	case res.Dropped > 0 || res.Captures > 0 || res.WriterBusy:
		log.Warn("shutdown: queued events not committed to the event log; no client received them",
			"dropped", res.Dropped, "committed", res.Committed, "rawMessages", res.Captures, "gaps", res.Gaps,
			"gapRecorded", res.GapRecorded, "writerBusy", res.WriterBusy, "err", err)
	case err != nil:
		log.Warn("store close", "err", err)
	}
	h.Close() // clients get what is queued, then close 1001
	if err := api.WaitStreams(sctx); err != nil {
		clients, msgs := h.Unfinished()
		log.Warn("shutdown: stream clients did not get their close in time", "clients", clients, "undeliveredEvents", msgs,
			"err", err, "hint", "slow clients; --client-write-timeout longer than --shutdown-timeout lets one hold a write that long")
	}
	if err := <-httpDone; err != nil {
		log.Warn("http shutdown", "err", err)
		srv.Close()
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	log.Info("stopped")
	return nil
}

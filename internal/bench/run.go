package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// Room is the fake TikTok user every run watches.
const Room = "bench"

// Config is one bench run.
type Config struct {
	Target   string        // ours, seed or raw
	Clients  int           // WebSocket clients on the legacy endpoint "/"
	Rate     float64       // events per second; 0 = the idle scenario (RSS per idle client)
	Duration time.Duration // measured part of the run (load) or settle time with the clients (idle)
	Warmup   time.Duration // events sent before the measured part (load) or settle time without clients (idle)
	Drain    time.Duration // after the last event, how long to wait at most for the clients to get everything
	// FrameEvents caps the events of one push frame from the fake (raw: of one write to its
	// ingest): 1 sends every event in a frame of its own, as a fake that pushes one message per
	// frame does; 0 sends the events due at a tick together, as TikTok batches them.
	FrameEvents int

	Exe          string        // binary with the serve and bench subcommands (ours, raw); default this program
	SeedDir      string        // seed-node peer folder (seed); default FindSeedDir
	StartTimeout time.Duration // for the server's ready line (a first seed run installs npm packages)
	Label        string        // copied into the result (the compare script's scenario name)

	// The rooms mode (RunRooms): Rooms rooms, each sending RoomRate messages/s of a mix, with
	// ClientsPerRoom clients subscribed to it alone, and one all-rooms client (ours).
	Rooms          int
	RoomRate       float64
	ClientsPerRoom int
	Logger         *slog.Logger
}

func (c *Config) defaults() error {
	if c.Rooms > 0 { // the rooms mode checks its own figures
		c.Clients, c.Rate = 0, 0
	}
	if c.Clients < 0 || c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Duration <= 0 || c.Warmup < 0 {
		return errors.New("bench: -clients and -rate must be >= 0, -duration > 0, -warmup >= 0")
	}
	if c.Rate > 0 && c.Rate*(c.Duration+c.Warmup).Seconds() > 50_000_000 {
		return errors.New("bench: rate × (warmup + duration) is over 50 million events; shorten the run")
	}
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 30 * time.Second
		if c.Target == TargetSeed {
			c.StartTimeout = 5 * time.Minute // npm ci on the first run
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Exe == "" && c.Target != TargetSeed {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find this program to start %s: %w (pass -server-bin)", c.Target, err)
		}
		c.Exe = exe
	}
	if c.SeedDir == "" && c.Target == TargetSeed {
		d, err := FindSeedDir()
		if err != nil {
			return err
		}
		c.SeedDir = d
	}
	return nil
}

// Ms is a duration in milliseconds in JSON.
type Ms float64

func ms(d time.Duration) Ms { return Ms(math.Round(float64(d)/1e3) / 1e3) }

// LatencyMs is a latency summary in milliseconds.
type LatencyMs struct {
	P50 Ms `json:"p50Ms"`
	P99 Ms `json:"p99Ms"`
	Max Ms `json:"maxMs"`
}

func latencyMs(l Latency) LatencyMs { return LatencyMs{P50: ms(l.P50), P99: ms(l.P99), Max: ms(l.Max)} }

// Result is what one run measured.
type Result struct {
	Label    string  `json:"label,omitempty"`
	Target   string  `json:"target"`
	Clients  int     `json:"clients"`
	Rate     float64 `json:"rate"`
	Duration float64 `json:"durationSeconds"`
	Warmup   float64 `json:"warmupSeconds"`
	// FrameEvents is Config.FrameEvents (0: the events due at a tick in one frame).
	FrameEvents int `json:"frameEvents,omitempty"`

	Connected      int            `json:"connected"`      // clients that completed the handshake
	ClientsRefused int            `json:"clientsRefused"` // dials or handshakes that failed
	ClientsClosed  int            `json:"clientsClosed"`  // clients the server closed or dropped during the run
	CloseCodes     map[string]int `json:"closeCodes,omitempty"`

	EventsSent         int64     `json:"eventsSent"`     // all, warmup included
	EventsMeasured     int64     `json:"eventsMeasured"` // sent after the warmup
	ExpectedDeliveries int64     `json:"expectedDeliveries"`
	Deliveries         int64     `json:"deliveries"` // of measured events (first deliveries)
	DeliveriesPerSec   float64   `json:"deliveriesPerSec"`
	Latency            LatencyMs `json:"latency"`            // send stamp to each client's receipt
	FirstClient        LatencyMs `json:"firstClientLatency"` // send stamp to the first client's receipt
	Missed             int64     `json:"missed"`             // over all clients, warmup included
	Doubled            int64     `json:"doubled"`
	Reordered          int64     `json:"reordered"`
	Unknown            int64     `json:"unknown,omitempty"`

	CPUSeconds       float64 `json:"cpuSeconds"` // server process, over the measured part and the drain
	CPUPer100k       float64 `json:"cpuSecondsPer100kDeliveries"`
	PeakRSS          int64   `json:"peakRssBytes"`
	RSSNoClients     int64   `json:"rssNoClientsBytes,omitempty"` // idle scenario
	RSSWithClients   int64   `json:"rssWithClientsBytes,omitempty"`
	RSSPerIdleClient float64 `json:"rssPerIdleClientBytes,omitempty"`

	FellBehind bool   `json:"fellBehind"` // missed, p99 > 1 s or fewer than 95 % of the expected deliveries
	Why        string `json:"why,omitempty"`
}

// Thresholds of "falls behind".
const (
	behindP99      = time.Second
	behindFraction = 0.95
)

// runner is the state of one run.
type runner struct {
	cfg          Config
	log          *slog.Logger
	tg           *target
	fake         *faketiktok.Server
	total        int64        // events the run will send
	measureStart atomic.Int64 // unix ns: events stamped from then on are measured
	clients      []*benchClient
	firstRecv    []atomic.Int64 // by seq: earliest receipt, unix ns (0 = none yet)
	sentAt       []int64        // by seq: send stamp, unix ns (written by the emitter before sending)
	stopping     atomic.Bool
	cpuStart     ProcSample
	cpuStartOK   bool
	mu           sync.Mutex
	closeCodes   map[string]int
	closed       int
}

// benchClient is one WebSocket client: its goroutine owns the tracker and histogram.
type benchClient struct {
	conn     *wsConn
	tr       *Tracker
	hist     *Histogram
	count    atomic.Int64 // deliveries so far (read by the drain poller)
	measured int64        // first deliveries of measured events
	lastRecv int64        // unix ns of the last measured receipt
	done     chan struct{}
}

// Run runs one bench: starts the fake TikTok (except for raw) and the target server, connects
// the clients and the room, sends the events and measures. ctx cancels it.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	RaiseFileLimit(cfg.Logger)
	r := &runner{cfg: cfg, log: cfg.Logger, closeCodes: map[string]int{}}
	if cfg.Rate > 0 {
		r.total = int64(math.Round(cfg.Rate * (cfg.Warmup + cfg.Duration).Seconds()))
	}
	r.firstRecv = make([]atomic.Int64, r.total+1)
	r.sentAt = make([]int64, r.total+1)

	if cfg.Target != TargetRaw {
		fake, err := faketiktok.Start(ctx, faketiktok.Options{Logger: cfg.Logger.With("component", "fake")})
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer fake.Close()
		fake.SetUser(Room, faketiktok.UserConfig{Kind: faketiktok.KindLive, Stream: faketiktok.StreamConfig{HistorySize: -1}})
		r.fake = fake
	}
	tg, err := startTarget(ctx, &r.cfg, r.fake)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r.tg = tg
	defer tg.stop()
	r.log.Info("target ready", "target", cfg.Target, "url", tg.base, "pid", tg.pid())

	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = tg.connectRoom(cctx, Room)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("bench: %w; server stderr:\n%s", err, tg.stderr)
	}
	res := &Result{Label: cfg.Label, Target: cfg.Target, Clients: cfg.Clients, Rate: cfg.Rate,
		Duration: cfg.Duration.Seconds(), Warmup: cfg.Warmup.Seconds(), FrameEvents: max(cfg.FrameEvents, 0)}
	defer r.closeClients()
	if cfg.Rate == 0 {
		err = r.runIdle(ctx, res)
	} else {
		err = r.runLoad(ctx, res)
	}
	if err != nil {
		return nil, err
	}
	if tg.exited() {
		return nil, fmt.Errorf("bench: %s exited during the run (%v); stderr:\n%s", cfg.Target, tg.werr, tg.stderr)
	}
	return res, nil
}

// runIdle measures RSS with no clients, then with cfg.Clients idle clients.
func (r *runner) runIdle(ctx context.Context, res *Result) error {
	if err := sleepCtx(ctx, r.cfg.Warmup); err != nil {
		return err
	}
	before, err := ReadProc(r.tg.pid())
	if err != nil {
		return err
	}
	if err := r.connectClients(ctx, res); err != nil {
		return err
	}
	if err := sleepCtx(ctx, r.cfg.Duration); err != nil { // settle: let lazily allocated buffers appear
		return err
	}
	after, err := ReadProc(r.tg.pid())
	if err != nil {
		return err
	}
	res.RSSNoClients, res.RSSWithClients, res.PeakRSS = before.RSS, after.RSS, after.PeakRSS
	if res.Connected > 0 {
		res.RSSPerIdleClient = float64(after.RSS-before.RSS) / float64(res.Connected)
	}
	r.collect(res)
	return nil
}

func (r *runner) runLoad(ctx context.Context, res *Result) error {
	if err := r.connectClients(ctx, res); err != nil {
		return err
	}
	var ingest net.Conn
	if r.cfg.Target == TargetRaw {
		var err error
		if ingest, err = dialIngest(ctx, r.tg.ingest); err != nil {
			return err
		}
		defer ingest.Close()
	}
	start := time.Now()
	r.measureStart.Store(start.Add(r.cfg.Warmup).UnixNano())
	sent, err := r.emit(ctx, start, ingest)
	if err != nil {
		return err
	}
	r.drain(ctx, sent, int64(res.Connected))
	end, err := ReadProc(r.tg.pid())
	if err != nil {
		return err
	}
	if r.cpuStartOK {
		res.CPUSeconds = (end.CPU - r.cpuStart.CPU).Seconds()
	}
	res.PeakRSS = end.PeakRSS
	res.EventsSent = sent
	r.collect(res)
	if res.Deliveries > 0 {
		res.CPUPer100k = res.CPUSeconds / float64(res.Deliveries) * 100_000
	}
	return nil
}

// connectClients dials cfg.Clients clients (a few at a time) and waits until the server counts them.
func (r *runner) connectClients(ctx context.Context, res *Result) error {
	n := r.cfg.Clients
	r.clients = make([]*benchClient, n)
	var refused atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range min(n, 64) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				c, err := dialWS(dctx, r.tg.hostPort(), "/")
				cancel()
				if err != nil {
					if refused.Add(1) == 1 {
						r.log.Warn("client refused", "err", err)
					}
					continue
				}
				r.clients[i] = r.startClient(c)
			}
		})
	}
	wg.Wait()
	res.ClientsRefused = int(refused.Load())
	res.Connected = n - res.ClientsRefused
	if err := ctx.Err(); err != nil {
		return err
	}
	// Every server counts a client once its handshake is done; wait for all to be counted so no
	// event is published before a client is subscribed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := r.tg.wsClients(ctx)
		if err == nil && got >= res.Connected {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s counts %d WebSocket clients, want %d (%v)", r.cfg.Target, got, res.Connected, err)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

func (r *runner) startClient(c *wsConn) *benchClient {
	bc := &benchClient{conn: c, tr: NewTracker(int(r.total)), done: make(chan struct{})}
	go r.readClient(bc) // owned by the runner: closeClients closes the conn and waits
	return bc
}

// stampPrefix is what precedes the stamp in every server's JSON: data.comment = "bench:SEQ:UNIXNANO".
var stampPrefix = []byte(`"comment":"bench:`)

// parseStamp finds "bench:SEQ:UNIXNANO" in an event's JSON without decoding it.
func parseStamp(msg []byte) (seq uint64, sent int64, ok bool) {
	i := bytes.Index(msg, stampPrefix)
	if i < 0 {
		return 0, 0, false
	}
	p := msg[i+len(stampPrefix):]
	j := bytes.IndexByte(p, ':')
	k := bytes.IndexByte(p, '"')
	if j <= 0 || k <= j+1 {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(string(p[:j]), 10, 64) // string(...) of a slice in a call does not allocate
	t, err2 := strconv.ParseInt(string(p[j+1:k]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return s, t, true
}

func (r *runner) readClient(bc *benchClient) {
	defer close(bc.done)
	for {
		msg, err := bc.conn.next()
		now := time.Now().UnixNano()
		if err != nil {
			if !r.stopping.Load() {
				code := "eof"
				var ce errClosed
				if errors.As(err, &ce) {
					code = strconv.Itoa(ce.Code)
				}
				r.mu.Lock()
				r.closed++
				r.closeCodes[code]++
				r.mu.Unlock()
			}
			return
		}
		seq, sent, ok := parseStamp(msg)
		if !ok {
			continue // lifecycle and other events
		}
		first := bc.tr.Add(seq)
		bc.count.Add(1)
		if !first || sent < r.measureStart.Load() {
			continue
		}
		lat := time.Duration(now - sent)
		if bc.hist == nil {
			bc.hist = new(Histogram)
		}
		bc.hist.Record(lat)
		bc.measured++
		bc.lastRecv = max(bc.lastRecv, now)
		f := &r.firstRecv[seq]
		for {
			old := f.Load()
			if (old != 0 && old <= now) || f.CompareAndSwap(old, now) {
				break
			}
		}
	}
}

// closeClients drops every client connection and waits for the readers.
func (r *runner) closeClients() {
	r.stopping.Store(true)
	for _, c := range r.clients {
		if c != nil {
			c.conn.Close()
		}
	}
	for _, c := range r.clients {
		if c != nil {
			<-c.done
		}
	}
}

// chatTemplate is the chat message every event copies its user from: a realistic sender.
var chatTemplate = func() *pb.ChatMessage {
	m, _ := webcasttest.Find("chat").Msg.(*pb.ChatMessage)
	return m
}()

func stampedChat(seq uint64, sent int64) *pb.ChatMessage {
	return &pb.ChatMessage{
		Common:          &pb.MessageCommon{},
		User:            chatTemplate.GetUser(),
		Comment:         "bench:" + strconv.FormatUint(seq, 10) + ":" + strconv.FormatInt(sent, 10),
		ContentLanguage: "en",
		UserIdentity:    chatTemplate.GetUserIdentity(),
	}
}

// emit sends the run's events at cfg.Rate: the ones due together in one batch (one frame from the
// fake, or lines on the raw broadcaster's ingest), each stamped with the time it is handed over.
func (r *runner) emit(ctx context.Context, start time.Time, ingest net.Conn) (int64, error) {
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	var (
		sent  int64
		batch []faketiktok.Injection
		line  []byte
		bw    *bufio.Writer
		room  = event.Room{Username: Room, RoomID: "7400000000000000001"}
		timer = time.NewTimer(0)
	)
	defer timer.Stop()
	if ingest != nil {
		bw = bufio.NewWriterSize(ingest, 256<<10)
	}
	for sent < r.total {
		select {
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-timer.C:
		}
		now := time.Now()
		if !r.cpuStartOK && now.UnixNano() >= r.measureStart.Load() {
			if s, err := ReadProc(r.tg.pid()); err == nil {
				r.cpuStart, r.cpuStartOK = s, true
			}
			now = time.Now()
		}
		due := min(int64(now.Sub(start)/interval)+1, r.total)
		for sent < due {
			end := due
			if r.cfg.FrameEvents > 0 {
				end = min(due, sent+int64(r.cfg.FrameEvents))
			}
			stamp := time.Now().UnixNano() // right before this frame is built and handed over
			batch = batch[:0]
			for seq := sent + 1; seq <= end; seq++ {
				r.sentAt[seq] = stamp
				m := stampedChat(uint64(seq), stamp)
				if bw == nil {
					batch = append(batch, faketiktok.Injection{Method: webcast.MethodChat, Msg: m})
					continue
				}
				// The raw broadcaster gets the JSON our server would send for the same message.
				m.Common = &pb.MessageCommon{MsgId: 7_500_000_000_000_000_000 + seq, RoomId: 7400000000000000001, CreateTimeMs: now.UnixMilli()}
				ev := webcast.ToEvent(&webcast.Message{Method: webcast.MethodChat, MsgID: m.Common.MsgId, Decoded: m, ReceivedAt: now}, room)
				ev.Seq, ev.Epoch = uint64(seq), "bench"
				line = append(ev.AppendJSON(line[:0]), '\n')
				if _, err := bw.Write(line); err != nil {
					return sent, fmt.Errorf("bench: raw broadcaster ingest: %w", err)
				}
			}
			if bw != nil {
				if err := bw.Flush(); err != nil {
					return sent, fmt.Errorf("bench: raw broadcaster ingest: %w", err)
				}
			} else if len(batch) > 0 {
				r.fake.InjectBatch(Room, batch)
			}
			sent = end
		}
		timer.Reset(max(time.Until(start.Add(time.Duration(sent)*interval)), time.Millisecond))
	}
	return sent, nil
}

// drain waits until every client has every event, no delivery happened for a second, or
// cfg.Drain passed.
func (r *runner) drain(ctx context.Context, sent, clients int64) {
	want := sent * clients
	deadline := time.Now().Add(r.cfg.Drain)
	var last int64
	lastChange := time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var got int64
		for _, c := range r.clients {
			if c != nil {
				got += c.count.Load()
			}
		}
		if got >= want {
			return
		}
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > time.Second {
			return
		}
		_ = sleepCtx(ctx, 20*time.Millisecond)
	}
}

// collect merges the clients' accounting into res.
func (r *runner) collect(res *Result) {
	r.closeClients() // the readers own their trackers until they end
	var hist Histogram
	var lastRecv int64
	for _, c := range r.clients {
		if c == nil {
			continue
		}
		hist.Merge(c.hist)
		res.Deliveries += c.measured
		res.Missed += c.tr.Missed(uint64(res.EventsSent))
		res.Doubled += c.tr.Doubled
		res.Reordered += c.tr.Reordered
		res.Unknown += c.tr.Unknown
		lastRecv = max(lastRecv, c.lastRecv)
	}
	measureStart := r.measureStart.Load()
	var first []time.Duration
	for seq := int64(1); seq <= res.EventsSent; seq++ {
		if r.sentAt[seq] < measureStart {
			continue
		}
		res.EventsMeasured++
		if f := r.firstRecv[seq].Load(); f != 0 {
			first = append(first, time.Duration(f-r.sentAt[seq]))
		}
	}
	res.ExpectedDeliveries = res.EventsMeasured * int64(res.Connected)
	res.Latency, res.FirstClient = latencyMs(hist.Summary()), latencyMs(summarize(first))
	// Over the measured time, or until the last receipt if that came later (a server behind).
	if span := max(lastRecv-measureStart, int64(r.cfg.Duration)); res.Deliveries > 0 {
		res.DeliveriesPerSec = math.Round(float64(res.Deliveries) / (float64(span) / 1e9))
	}
	r.mu.Lock()
	res.ClientsClosed = r.closed
	if len(r.closeCodes) > 0 {
		res.CloseCodes = r.closeCodes
	}
	r.mu.Unlock()
	if r.cfg.Rate > 0 {
		res.FellBehind, res.Why = fellBehind(res)
	}
}

// fellBehind says whether a load run counts as not keeping up, and why.
func fellBehind(res *Result) (bool, string) {
	switch {
	case res.ClientsRefused > 0 || res.ClientsClosed > 0:
		return true, fmt.Sprintf("%d clients refused, %d closed", res.ClientsRefused, res.ClientsClosed)
	case res.Missed > 0:
		return true, fmt.Sprintf("%d deliveries missed", res.Missed)
	case float64(res.Deliveries) < behindFraction*float64(res.ExpectedDeliveries):
		return true, fmt.Sprintf("%d of %d expected deliveries", res.Deliveries, res.ExpectedDeliveries)
	case time.Duration(float64(res.Latency.P99)*1e6) > behindP99:
		return true, fmt.Sprintf("p99 latency %.0f ms > %v", float64(res.Latency.P99), behindP99)
	}
	return false, ""
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

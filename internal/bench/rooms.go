package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
)

// The rooms mode (-rooms N): how many rooms one box can watch. N rooms on the fake TikTok each
// send -room-rate messages per second of a realistic mix (roomsmix.go); every room has
// -room-clients WebSocket clients subscribed to it alone and the server has one all-rooms client
// more. It reports what every client got (missed, doubled, out of order, per room), what the event
// log stored, memory per room, CPU per event and latency.

// RoomsResult is what one rooms run measured.
type RoomsResult struct {
	Mode           string  `json:"mode"` // "rooms"
	Label          string  `json:"label,omitempty"`
	Target         string  `json:"target"`
	Rooms          int     `json:"rooms"`
	RoomRate       float64 `json:"roomRate"` // messages per second per room
	ClientsPerRoom int     `json:"clientsPerRoom"`
	AllRoomClients int     `json:"allRoomsClients"`
	Duration       float64 `json:"durationSeconds"`
	Warmup         float64 `json:"warmupSeconds"`

	RoomsConnected int     `json:"roomsConnected"` // live before the clients connected
	StartSeconds   float64 `json:"startSeconds"`   // from the first start request to every room connected

	Connected      int            `json:"connected"`
	ClientsRefused int            `json:"clientsRefused"`
	ClientsClosed  int            `json:"clientsClosed"`
	CloseCodes     map[string]int `json:"closeCodes,omitempty"`

	EventsSent     int64            `json:"eventsSent"` // all rooms, warmup included
	EventsMeasured int64            `json:"eventsMeasured"`
	SentByType     map[string]int64 `json:"sentByType"`
	// Deliveries are counted on the events each client can be checked on: every event for ours
	// (by its id), chats only for the original, whose events carry no id.
	Tracked            string           `json:"tracked"` // "all" or "chat"
	ExpectedDeliveries int64            `json:"expectedDeliveries"`
	Deliveries         int64            `json:"deliveries"` // first deliveries of tracked events, all clients, whole run
	ReceivedByType     map[string]int64 `json:"receivedByType"`
	Missed             int64            `json:"missed"`
	Doubled            int64            `json:"doubled"`
	Reordered          int64            `json:"reordered"`
	Foreign            int64            `json:"foreign"` // another room's event on a room's client
	Unknown            int64            `json:"unknown,omitempty"`
	AllRoomsMissed     int64            `json:"allRoomsMissed"` // of Missed, on the all-rooms clients
	Latency            LatencyMs        `json:"latency"`        // send stamp to receipt, measured events, every client

	// From the event log after the run (ours): every sent event found once, in order, per room.
	StoreChecked   bool    `json:"storeChecked"`
	Stored         int64   `json:"stored"`
	StoreMissing   int64   `json:"storeMissing"`
	StoreDoubled   int64   `json:"storeDoubled"`
	StoreReordered int64   `json:"storeReordered"`
	StoreUnstored  uint64  `json:"storeUnstored"`
	StoreShed      uint64  `json:"storeShed"`
	StoreBatches   uint64  `json:"storeBatches"`
	Reconnects     int     `json:"reconnects"`    // over all rooms, at the end
	RoomsNotLive   int     `json:"roomsNotLive"`  // rooms not connected at the end
	CPUSeconds     float64 `json:"cpuSeconds"`    // server, from the end of the warmup to the end of the drain
	CPUPerEventUs  float64 `json:"cpuPerEventUs"` // CPUSeconds / measured events, µs
	IdleCPUPercent float64 `json:"idleCpuPercent"`
	RSSBaseline    int64   `json:"rssBaselineBytes"` // no rooms, no clients
	RSSRooms       int64   `json:"rssRoomsBytes"`    // rooms connected, no clients
	RSSClients     int64   `json:"rssClientsBytes"`  // rooms and clients, before the load
	RSSEnd         int64   `json:"rssEndBytes"`
	PeakRSS        int64   `json:"peakRssBytes"`
	RSSPerRoom     float64 `json:"rssPerRoomBytes"`            // (RSSRooms - RSSBaseline) / rooms
	RSSPerRoomAll  float64 `json:"rssPerRoomWithClientsBytes"` // (RSSClients - RSSBaseline) / rooms

	FellBehind bool   `json:"fellBehind"`
	Why        string `json:"why,omitempty"`
}

// Defaults of the rooms mode.
const (
	DefaultRoomRate       = 10
	DefaultClientsPerRoom = 2
	roomsStartInFlight    = 32 // start requests in flight at once
	roomsSettle           = 2 * time.Second
)

// roomsRunner is the state of one rooms run.
type roomsRunner struct {
	cfg          Config
	log          *slog.Logger
	tg           *target
	fake         *faketiktok.Server
	perRoom      uint64         // events each room sends
	sentAt       []atomic.Int64 // room*(perRoom+1)+seq: send stamp, unix ns (0 = not sent yet)
	measureStart atomic.Int64
	trackAll     bool // by id (ours); else chats by their stamp (seed)
	clients      []*roomClient
	stopping     atomic.Bool
	mu           sync.Mutex
	closeCodes   map[string]int
	closed       int
}

// roomClient is one WebSocket client of the rooms mode; its goroutine owns its trackers.
type roomClient struct {
	conn     *wsConn
	room     int        // -1: all rooms
	trs      []*Tracker // by room (one entry for a room client)
	hist     *Histogram
	types    [8]int64 // by mixKind's event type index (mixTypes), other types in the last
	foreign  int64
	unknown  int64
	count    atomic.Int64 // tracked deliveries so far (read by the drain poller)
	measured int64
	done     chan struct{}
}

func (r *roomsRunner) tracked(seq uint64) bool { return r.trackAll || mixKindOf(seq) == mixChat }

// RunRooms runs the rooms mode (cfg.Rooms rooms).
func RunRooms(ctx context.Context, cfg Config) (*RoomsResult, error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	if err := cfg.roomsDefaults(); err != nil {
		return nil, err
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	RaiseFileLimit(cfg.Logger)
	r := &roomsRunner{cfg: cfg, log: cfg.Logger, closeCodes: map[string]int{}, trackAll: cfg.Target == TargetOurs}
	r.perRoom = uint64(math.Round(cfg.RoomRate * (cfg.Warmup + cfg.Duration).Seconds()))
	r.sentAt = make([]atomic.Int64, uint64(cfg.Rooms)*(r.perRoom+1))

	fake, err := faketiktok.Start(ctx, faketiktok.Options{Logger: cfg.Logger.With("component", "fake")})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer fake.Close()
	for i := range cfg.Rooms {
		fake.SetUser(roomName(i), faketiktok.UserConfig{Kind: faketiktok.KindLive, Stream: faketiktok.StreamConfig{HistorySize: -1}})
	}
	r.fake = fake
	tg, err := startTarget(ctx, &r.cfg, fake)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r.tg = tg
	defer tg.stop()
	r.log.Info("target ready", "target", cfg.Target, "url", tg.base, "pid", tg.pid())
	res := &RoomsResult{Mode: "rooms", Label: cfg.Label, Target: cfg.Target, Rooms: cfg.Rooms, RoomRate: cfg.RoomRate,
		ClientsPerRoom: cfg.ClientsPerRoom, Duration: cfg.Duration.Seconds(), Warmup: cfg.Warmup.Seconds(), Tracked: "chat"}
	if r.trackAll {
		res.Tracked = "all"
		res.AllRoomClients = 1
	}
	defer r.closeClients()
	if err := r.run(ctx, res); err != nil {
		return nil, err
	}
	if tg.exited() {
		return nil, fmt.Errorf("bench: %s exited during the run (%v); stderr:\n%s", cfg.Target, tg.werr, tg.stderr)
	}
	return res, nil
}

func (c *Config) roomsDefaults() error {
	if c.RoomRate == 0 {
		c.RoomRate = DefaultRoomRate
	}
	if c.ClientsPerRoom == 0 {
		c.ClientsPerRoom = DefaultClientsPerRoom
	}
	switch {
	case c.Rooms < 1 || c.Rooms > maxBenchRooms:
		return fmt.Errorf("bench: -rooms must be from 1 to %d", maxBenchRooms)
	case c.RoomRate < 0 || math.IsNaN(c.RoomRate) || math.IsInf(c.RoomRate, 0) || c.ClientsPerRoom < 0:
		return errors.New("bench: -room-rate and -room-clients must be > 0")
	case c.Target == TargetRaw:
		return errors.New("bench: -rooms needs a server with rooms: -target ours or seed")
	case c.Target == TargetSeed && c.Rooms != 1:
		return errors.New("bench: the original server (-target seed) watches one room only: use -rooms 1")
	case c.RoomRate*(c.Warmup+c.Duration).Seconds() > maxRoomSeq:
		return fmt.Errorf("bench: -room-rate × (warmup + duration) is over %d messages per room", maxRoomSeq)
	case float64(c.Rooms)*c.RoomRate*(c.Warmup+c.Duration).Seconds() > 50_000_000:
		return errors.New("bench: rooms × room rate × (warmup + duration) is over 50 million events; shorten the run")
	}
	return nil
}

func (r *roomsRunner) run(ctx context.Context, res *RoomsResult) error {
	base, err := ReadProc(r.tg.pid())
	if err != nil {
		return err
	}
	res.RSSBaseline = base.RSS
	start := time.Now()
	if err := r.startRooms(ctx, res); err != nil {
		return err
	}
	res.StartSeconds = math.Round(time.Since(start).Seconds()*1000) / 1000
	if err := sleepCtx(ctx, roomsSettle); err != nil {
		return err
	}
	s, err := ReadProc(r.tg.pid())
	if err != nil {
		return err
	}
	res.RSSRooms = s.RSS
	if err := r.connectClients(ctx, res); err != nil {
		return err
	}
	// Settle with the clients, no events: RSS with everything connected, and what idle rooms cost.
	idle0, err := ReadProc(r.tg.pid())
	if err != nil {
		return err
	}
	if err := sleepCtx(ctx, roomsSettle); err != nil {
		return err
	}
	idle1, err := ReadProc(r.tg.pid())
	if err != nil {
		return err
	}
	res.RSSClients = idle1.RSS
	res.IdleCPUPercent = math.Round((idle1.CPU-idle0.CPU).Seconds()/roomsSettle.Seconds()*1000) / 10
	res.RSSPerRoom = float64(res.RSSRooms-res.RSSBaseline) / float64(r.cfg.Rooms)
	res.RSSPerRoomAll = float64(res.RSSClients-res.RSSBaseline) / float64(r.cfg.Rooms)

	t0 := time.Now()
	r.measureStart.Store(t0.Add(r.cfg.Warmup).UnixNano())
	cpu0, sent, err := r.emit(ctx, t0)
	if err != nil {
		return err
	}
	r.drain(ctx)
	end, err := ReadProc(r.tg.pid())
	if err != nil {
		return err
	}
	res.CPUSeconds = (end.CPU - cpu0.CPU).Seconds()
	res.RSSEnd, res.PeakRSS = end.RSS, end.PeakRSS
	res.EventsSent = sent
	r.collect(res)
	if res.EventsMeasured > 0 {
		res.CPUPerEventUs = math.Round(res.CPUSeconds/float64(res.EventsMeasured)*1e6*100) / 100
	}
	if r.cfg.Target == TargetOurs {
		if err := r.checkStore(ctx, res); err != nil {
			return err
		}
	}
	res.FellBehind, res.Why = roomsFellBehind(res)
	return nil
}

// startRooms starts every room (PUT /v1/rooms/{u}, a bounded number in flight; the original's
// POST /connect/:username for seed) and waits until all are connected.
func (r *roomsRunner) startRooms(ctx context.Context, res *RoomsResult) error {
	if r.cfg.Target == TargetSeed {
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := r.tg.connectRoom(cctx, roomName(0)); err != nil {
			return fmt.Errorf("bench: %w; server stderr:\n%s", err, r.tg.stderr)
		}
		res.RoomsConnected = 1
		return nil
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for range min(r.cfg.Rooms, roomsStartInFlight) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= r.cfg.Rooms || ctx.Err() != nil {
					return
				}
				if err := r.tg.putRoom(ctx, roomName(i)); err != nil {
					errMu.Lock()
					first = cmpErr(first, err)
					errMu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("bench: %w; server stderr:\n%s", first, r.tg.stderr)
	}
	deadline := time.Now().Add(60*time.Second + time.Duration(r.cfg.Rooms)*20*time.Millisecond)
	for {
		st, err := r.tg.roomStates(ctx)
		live := 0
		for _, s := range st {
			if s.State == "connected" {
				live++
			}
		}
		res.RoomsConnected = live
		if err == nil && live >= r.cfg.Rooms {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %d of %d rooms connected after %v (%v)", live, r.cfg.Rooms, time.Since(deadline.Add(-60*time.Second)), err)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// connectClients dials the room clients and the all-rooms client, then waits until the server
// counts them all.
func (r *roomsRunner) connectClients(ctx context.Context, res *RoomsResult) error {
	type spec struct {
		room int
		path string
	}
	var specs []spec
	for i := range r.cfg.Rooms {
		path := "/v1/ws?rooms=" + url.QueryEscape(roomName(i))
		if r.cfg.Target == TargetSeed {
			path = "/" // the original has one room and one stream
		}
		for range r.cfg.ClientsPerRoom {
			specs = append(specs, spec{i, path})
		}
	}
	for range res.AllRoomClients {
		specs = append(specs, spec{-1, "/v1/ws"})
	}
	r.clients = make([]*roomClient, len(specs))
	var refused atomic.Int64
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(len(specs), 64) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(specs) || ctx.Err() != nil {
					return
				}
				dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				c, err := dialWS(dctx, r.tg.hostPort(), specs[i].path)
				cancel()
				if err != nil {
					if refused.Add(1) == 1 {
						r.log.Warn("client refused", "err", err)
					}
					continue
				}
				r.clients[i] = r.startClient(c, specs[i].room)
			}
		})
	}
	wg.Wait()
	res.ClientsRefused = int(refused.Load())
	res.Connected = len(specs) - res.ClientsRefused
	if err := ctx.Err(); err != nil {
		return err
	}
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

func (r *roomsRunner) startClient(c *wsConn, room int) *roomClient {
	rc := &roomClient{conn: c, room: room, done: make(chan struct{})}
	n := 1
	if room < 0 {
		n = r.cfg.Rooms
	}
	rc.trs = make([]*Tracker, n)
	for i := range rc.trs {
		rc.trs[i] = NewTracker(int(r.perRoom))
	}
	go r.readClient(rc) // owned by the runner: closeClients closes the conn and waits
	return rc
}

// typeIndex is the index of an event type in mixTypes, len(mixTypes) for another.
func typeIndex(t []byte) int {
	for i, m := range mixTypes {
		if string(t) == m {
			return i
		}
	}
	return len(mixTypes)
}

// identify says which room's which event msg is: by its id (ours) or its chat stamp (seed).
func (r *roomsRunner) identify(msg []byte) (room int, seq uint64, ok bool) {
	if !r.trackAll {
		s, _, ok := parseStamp(msg)
		return 0, s, ok
	}
	id, ok := parseEventID(msg)
	if !ok {
		return 0, 0, false
	}
	return parseRoomMsgID(id)
}

func (r *roomsRunner) readClient(rc *roomClient) {
	defer close(rc.done)
	for {
		msg, err := rc.conn.next()
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
		rc.types[typeIndex(eventType(msg))]++ // every message, lifecycle events as "other"
		room, seq, ok := r.identify(msg)
		if !ok {
			continue // lifecycle events; for the original, all but chats
		}
		if room >= r.cfg.Rooms || seq > r.perRoom {
			rc.unknown++
			continue
		}
		var tr *Tracker
		switch {
		case rc.room < 0:
			tr = rc.trs[room]
		case room == rc.room:
			tr = rc.trs[0]
		default:
			rc.foreign++
			continue
		}
		if !tr.Add(seq) {
			continue
		}
		rc.count.Add(1)
		sent := r.sentAt[uint64(room)*(r.perRoom+1)+seq].Load()
		if sent == 0 || sent < r.measureStart.Load() {
			continue
		}
		if rc.hist == nil {
			rc.hist = new(Histogram)
		}
		rc.hist.Record(time.Duration(now - sent))
		rc.measured++
	}
}

func (r *roomsRunner) closeClients() {
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

// emit sends every room's messages at cfg.RoomRate, the rooms evenly out of phase: the g-th
// message overall (0-based) is room g mod N's number g/N + 1, due at g / (N × rate). Each tick
// sends what is due, one frame per room. It returns the server's CPU sample at the end of the
// warmup and the number of messages sent.
func (r *roomsRunner) emit(ctx context.Context, start time.Time) (ProcSample, int64, error) {
	n := uint64(r.cfg.Rooms)
	total := n * r.perRoom
	interval := time.Duration(float64(time.Second) / (r.cfg.RoomRate * float64(n)))
	var (
		cpu0   ProcSample
		cpuOK  bool
		sent   uint64
		timer  = time.NewTimer(0)
		byRoom = map[int][]faketiktok.Injection{}
		order  []int
	)
	defer timer.Stop()
	for sent < total {
		select {
		case <-ctx.Done():
			return cpu0, int64(sent), ctx.Err()
		case <-timer.C:
		}
		now := time.Now()
		if !cpuOK && now.UnixNano() >= r.measureStart.Load() {
			s, err := ReadProc(r.tg.pid())
			if err != nil {
				return cpu0, int64(sent), err
			}
			cpu0, cpuOK = s, true
			now = time.Now()
		}
		due := min(uint64(now.Sub(start)/interval)+1, total)
		stamp := now.UnixNano()
		order = order[:0]
		for g := sent; g < due; g++ {
			room, seq := int(g%n), g/n+1
			r.sentAt[uint64(room)*(r.perRoom+1)+seq].Store(stamp)
			method, m := mixMessage(room, seq, stamp)
			if _, ok := byRoom[room]; !ok {
				order = append(order, room)
			}
			byRoom[room] = append(byRoom[room], faketiktok.Injection{Method: method, Msg: m})
		}
		for _, room := range order {
			r.fake.InjectBatch(roomName(room), byRoom[room])
			delete(byRoom, room)
		}
		sent = max(sent, due)
		timer.Reset(max(time.Until(start.Add(time.Duration(sent)*interval)), time.Millisecond))
	}
	if !cpuOK { // no measured part
		s, err := ReadProc(r.tg.pid())
		if err != nil {
			return cpu0, int64(sent), err
		}
		cpu0 = s
	}
	return cpu0, int64(sent), nil
}

// want is the tracked deliveries a client of room (−1: all rooms) should get.
func (r *roomsRunner) want(room int) int64 {
	per := int64(countOfKind(r.perRoom, func(k mixKind) bool { return r.trackAll || k == mixChat }))
	if room < 0 {
		return per * int64(r.cfg.Rooms)
	}
	return per
}

// drain waits until every client has every tracked event, no delivery happened for a second, or
// cfg.Drain passed.
func (r *roomsRunner) drain(ctx context.Context) {
	var want int64
	for _, c := range r.clients {
		if c != nil {
			want += r.want(c.room)
		}
	}
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
			if !r.trackAll { // the untracked types after the last chat: give them a moment
				_ = sleepCtx(ctx, 300*time.Millisecond)
			}
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
func (r *roomsRunner) collect(res *RoomsResult) {
	r.closeClients() // the readers own their trackers until they end
	var hist Histogram
	res.ReceivedByType = map[string]int64{}
	for _, c := range r.clients {
		if c == nil {
			continue
		}
		hist.Merge(c.hist)
		res.ExpectedDeliveries += r.want(c.room)
		for i, v := range c.types {
			if v == 0 {
				continue
			}
			name := "other"
			if i < len(mixTypes) {
				name = mixTypes[i]
			}
			res.ReceivedByType[name] += v
		}
		res.Foreign += c.foreign
		res.Unknown += c.unknown
		for _, tr := range c.trs {
			res.Deliveries += tr.Received - tr.Doubled - tr.Unknown
			res.Doubled += tr.Doubled
			res.Reordered += tr.Reordered
			res.Unknown += tr.Unknown
			m := r.missed(tr)
			res.Missed += m
			if c.room < 0 {
				res.AllRoomsMissed += m
			}
		}
	}
	res.SentByType = map[string]int64{}
	perRoom := uint64(res.EventsSent) / uint64(r.cfg.Rooms)
	for seq := uint64(1); seq <= perRoom; seq++ {
		res.SentByType[mixKindOf(seq).eventType()] += int64(r.cfg.Rooms)
	}
	measureStart := r.measureStart.Load()
	for i := range r.sentAt {
		if s := r.sentAt[i].Load(); s != 0 && s >= measureStart {
			res.EventsMeasured++
		}
	}
	res.Latency = latencyMs(hist.Summary())
	r.mu.Lock()
	res.ClientsClosed = r.closed
	if len(r.closeCodes) > 0 {
		res.CloseCodes = r.closeCodes
	}
	r.mu.Unlock()
}

// missed counts the tracked events of 1..perRoom tr never got.
func (r *roomsRunner) missed(tr *Tracker) int64 {
	var m int64
	for seq := uint64(1); seq <= r.perRoom; seq++ {
		if r.tracked(seq) && !tr.Has(seq) {
			m++
		}
	}
	return m
}

// checkStore reads every room's stored events back (GET /v1/rooms/{u}/events?format=ndjson) and
// checks each sent event is there once, in order; it adds the store's and the rooms' counters.
func (r *roomsRunner) checkStore(ctx context.Context, res *RoomsResult) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs error
	)
	res.StoreChecked = true
	for range min(r.cfg.Rooms, 8) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= r.cfg.Rooms || ctx.Err() != nil {
					return
				}
				tr := NewTracker(int(r.perRoom))
				err := r.tg.readHistory(ctx, roomName(i), func(line []byte) {
					if id, ok := parseEventID(line); ok {
						if room, seq, ok := parseRoomMsgID(id); ok && room == i {
							tr.Add(seq)
						} else if ok {
							tr.Unknown++
						}
					}
				})
				mu.Lock()
				if err != nil {
					errs = cmpErr(errs, err)
				}
				res.Stored += tr.Received - tr.Doubled - tr.Unknown
				res.StoreDoubled += tr.Doubled
				res.StoreReordered += tr.Reordered
				res.StoreMissing += tr.Missed(r.perRoom)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if errs != nil {
		return fmt.Errorf("bench: read the event log back: %w", errs)
	}
	st, err := r.tg.storeStats(ctx)
	if err != nil {
		return err
	}
	res.StoreUnstored, res.StoreShed, res.StoreBatches = st.Unstored, st.Shed, st.Batches
	rooms, err := r.tg.roomStates(ctx)
	if err != nil {
		return err
	}
	live := 0
	for _, s := range rooms {
		res.Reconnects += s.Reconnects
		if s.State == "connected" {
			live++
		}
	}
	res.RoomsNotLive = r.cfg.Rooms - live
	return nil
}

// roomsFellBehind says whether a rooms run counts as not keeping up, and why.
func roomsFellBehind(res *RoomsResult) (bool, string) {
	switch {
	case res.RoomsConnected < res.Rooms || res.RoomsNotLive > 0:
		return true, fmt.Sprintf("%d of %d rooms connected, %d not live at the end", res.RoomsConnected, res.Rooms, res.RoomsNotLive)
	case res.ClientsRefused > 0 || res.ClientsClosed > 0:
		return true, fmt.Sprintf("%d clients refused, %d closed %v", res.ClientsRefused, res.ClientsClosed, res.CloseCodes)
	case res.Missed > 0 || res.Doubled > 0 || res.Reordered > 0 || res.Foreign > 0:
		return true, fmt.Sprintf("%d missed, %d doubled, %d out of order, %d of another room", res.Missed, res.Doubled, res.Reordered, res.Foreign)
	case res.StoreChecked && (res.Stored < res.EventsSent || res.StoreDoubled > 0 || res.StoreReordered > 0 || res.StoreUnstored > 0 || res.StoreShed > 0):
		return true, fmt.Sprintf("stored %d of %d sent (%d doubled, %d out of order, %d unstored, %d shed)",
			res.Stored, res.EventsSent, res.StoreDoubled, res.StoreReordered, res.StoreUnstored, res.StoreShed)
	case time.Duration(float64(res.Latency.P99)*1e6) > behindP99:
		return true, fmt.Sprintf("p99 latency %.0f ms > %v", float64(res.Latency.P99), behindP99)
	}
	return false, ""
}

// putRoom starts a room on our server (PUT /v1/rooms/{u}: 201 started, 200 already monitored).
func (t *target) putRoom(ctx context.Context, user string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, t.base+"/v1/rooms/"+user, nil)
	if err != nil {
		return err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("start room %s: %w", user, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("start room %s: %s %s", user, resp.Status, body)
	}
	return nil
}

// roomState is what the rooms mode reads of GET /v1/rooms.
type roomState struct {
	Username   string `json:"username"`
	State      string `json:"state"`
	Reconnects int    `json:"reconnects"`
}

func (t *target) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", t.name, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s %s", t.name, path, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s %s: %w", t.name, path, err)
	}
	return nil
}

// roomStates lists the rooms' states (GET /v1/rooms).
func (t *target) roomStates(ctx context.Context) ([]roomState, error) {
	var out struct {
		Rooms []roomState `json:"rooms"`
	}
	err := t.getJSON(ctx, "/v1/rooms", &out)
	return out.Rooms, err
}

// storeCounters is what the rooms mode reads of GET /healthz's store.
type storeCounters struct {
	Stored   uint64 `json:"stored"`
	Unstored uint64 `json:"unstored"`
	Shed     uint64 `json:"shed"`
	Batches  uint64 `json:"batches"`
}

func (t *target) storeStats(ctx context.Context) (storeCounters, error) {
	var out struct {
		Store *storeCounters `json:"store"`
	}
	if err := t.getJSON(ctx, "/healthz", &out); err != nil {
		return storeCounters{}, err
	}
	if out.Store == nil {
		return storeCounters{}, fmt.Errorf("%s /healthz: no store", t.name)
	}
	return *out.Store, nil
}

// readHistory streams a room's stored events (ndjson), one line per call of f.
func (t *target) readHistory(ctx context.Context, user string, f func(line []byte)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/v1/rooms/"+user+"/events?format=ndjson", nil)
	if err != nil {
		return err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("history of %s: %w", user, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("history of %s: %s %s", user, resp.Status, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		f(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("history of %s: %w", user, err)
	}
	return nil
}

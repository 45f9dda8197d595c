// Package store is the durable event log: every event of every room, appended with its seq and
// epoch by one writer that commits in batches (group commit) before the events are delivered to
// subscribers; the sessions the log is cut into; raw captures of recorded sessions; and the reads
// built on it (resume, history, exports, summaries, leaderboards) and retention.
//
// It runs on SQLite (modernc.org/sqlite, no cgo) in WAL mode in a directory, or in memory, bounded,
// when no directory is given. Ingest never blocks on disk: Append only queues. A writer that falls
// behind is visible in Stats; past Options.QueueLimit pending events, new events are delivered
// without being stored (counted as Unstored, recorded as a gap so resumes across them report
// recovered: false), and past twice that they are shed (counted as Shed).
//
// CloseContext bounds a shutdown: it commits what it can until shortly before the deadline, then
// records what it could not commit as a gap (see CloseResult) rather than reusing its seqs later.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// Defaults for Options.
const (
	DefaultQueueLimit      = 100_000
	DefaultMemoryMaxEvents = 200_000
	maxBatch               = 4096
	pruneEvery             = 10 * time.Minute
	// maxCloseReserve caps the part of CloseContext's time kept back from committing to record
	// what could not be committed; a fifth of the time left is kept, up to this.
	maxCloseReserve = time.Second
)

// Errors callers branch on.
var (
	ErrNotFound     = errors.New("store: not found")
	ErrClosed       = errors.New("store: closed")
	ErrSchemaTooNew = errors.New("store: schema too new")
)

// Options configures a Store.
type Options struct {
	// Dir holds events.db; "" keeps everything in memory, bounded by MemoryMaxEvents.
	Dir string
	// Deliver is called by the writer, in append order, with each Append's message once its event
	// is committed (or deliberately left unstored). It must not block for long: the hub's Publish.
	Deliver func(m *event.Encoded)
	// QueueLimit is how many events may wait for the writer before new ones are delivered
	// without being stored; 0 = DefaultQueueLimit. Twice as many and new ones are shed.
	QueueLimit int
	// MemoryMaxEvents bounds the in-memory log (Dir ""): older events are pruned. 0 = default.
	MemoryMaxEvents int
	// Retention prunes sessions that ended (and events) longer ago than this; 0 keeps everything.
	Retention time.Duration
	// Record keeps the raw upstream messages of sessions (AppendRaw); otherwise they are ignored.
	Record bool
	Logger *slog.Logger
	Now    func() time.Time

	// beforeCommit, for tests, runs in the writer before each commit.
	beforeCommit func()
	// commitHook is a test hook standing in for a slow or hung disk: it runs in the writer before
	// each commit of a batch, with the writer's context, and an error fails the commit.
	commitHook func(ctx context.Context) error
	// pruneInterval, for tests, replaces the retention interval derived from Retention.
	pruneInterval time.Duration
}

// CloseResult says what CloseContext did with the events still queued.
//
// Dropped events were neither stored nor delivered: no client received them. Their seqs are
// recorded as a gap and each room's position moved past them (GapRecorded), so the next start
// continues after them and a client resuming across them is told recovered: false. Without that
// record (the database refused even that small write in time) the next start continues after the
// last committed event and reuses the dropped seqs: harmless for what clients saw, since none
// saw them, but a resume across them then says recovered: true. Sessions the dropped events would
// have ended stay open in the log, as after a crash; the room's next connection decides.
type CloseResult struct {
	Committed   int   // events committed (and delivered) while closing
	Dropped     int   // queued events neither stored nor delivered: the deadline came first
	Captures    int   // queued raw messages not recorded
	Gaps        []Gap // the dropped events' seqs, per room and epoch
	GapRecorded bool  // the Gaps are in the log, with the rooms' positions past them
	WriterBusy  bool  // the writer was still in a statement the database did not interrupt
}

// Gap is a run of seqs of one room's epoch that the log does not hold.
type Gap struct {
	Room, Epoch string
	From, To    uint64
}

func (g Gap) String() string { return fmt.Sprintf("%s:%d-%d@%s", g.Room, g.From, g.To, g.Epoch) }

// Stats are the writer's counters.
type Stats struct {
	Pending       int           `json:"pending"`      // events waiting for the writer now
	MaxPending    int           `json:"maxPending"`   // the most that ever waited
	Appended      uint64        `json:"appended"`     // events handed to the store
	Stored        uint64        `json:"stored"`       // events committed
	Unstored      uint64        `json:"unstored"`     // delivered without being stored (writer behind, or a failed commit)
	Shed          uint64        `json:"shed"`         // dropped: the writer was far behind
	Batches       uint64        `json:"batches"`      // commits
	Errors        uint64        `json:"errors"`       // failed commits
	Captured      uint64        `json:"captured"`     // raw messages recorded
	LastCommit    time.Duration `json:"lastCommitNs"` // duration of the last commit
	Behind        bool          `json:"behind"`       // over the queue limit now
	Memory        bool          `json:"memory"`       // no data directory
	Pruned        uint64        `json:"pruned"`       // events removed by retention or the memory bound
	SchemaVersion int           `json:"schemaVersion"`
}

// item is one queued append: an event (with its encoded form, stored and then delivered) or a raw
// message.
type item struct {
	ev       *event.Event
	msg      *event.Encoded
	unstored bool // deliver, do not store
	raw      *rawMessage
}

type rawMessage struct {
	room    string
	method  string
	msgID   int64
	payload []byte
	at      time.Time
}

// Store is the event log. Create it with Open; close it with Close.
type Store struct {
	opts   Options
	log    *slog.Logger
	w      *sql.DB // the writer's single connection
	stmts  *stmts  // prepared on w
	r      *sql.DB // readers
	memory bool

	mu        sync.Mutex
	queue     []item
	inFlight  []item // the batch the writer holds (its events are still counted in events)
	events    int    // events queued or in flight
	closed    bool
	closeDone chan struct{}   // closed when the first Close returns
	finalCtx  context.Context // the writer's time to record what it leaves, once closing
	closeRes  CloseResult     // set by the writer when it leaves events behind
	leaving   bool            // the writer has set closeRes and is recording its gaps
	recordErr error           // why the gap of CloseRes was not recorded
	wake      chan struct{}
	stopped   chan struct{}
	cancel    context.CancelFunc // ends the writer's context: commits in progress are interrupted

	// writer state, touched only by the writer goroutine
	sessions   map[string]*openSession
	dirty      []*openSession // the sessions with progress to write in this commit (flushSessions)
	lastID     int64          // the highest event id given (event_ids.last): ids are never reused
	sincePrune int
	pass       *prunePass // a retention pass in progress
	lastTurn   time.Time  // of retention

	appended, stored, unstored, shed, batches, errs, captured, pruned atomic.Uint64
	maxPending, lastCommit                                            atomic.Int64
}

// Open opens (creating and migrating as needed) the log and starts its writer, which stops when
// Close is called.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.QueueLimit <= 0 {
		opts.QueueLimit = DefaultQueueLimit
	}
	if opts.MemoryMaxEvents <= 0 {
		opts.MemoryMaxEvents = DefaultMemoryMaxEvents
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Deliver == nil {
		opts.Deliver = func(*event.Encoded) {}
	}
	var dsn string
	memory := opts.Dir == ""
	if memory {
		// memdb: one in-memory database shared by this process's connections, gone with it.
		var b [8]byte
		_, _ = rand.Read(b[:])
		dsn = "file:/tls-" + hex.EncodeToString(b[:]) + "?vfs=memdb&_pragma=busy_timeout(10000)&_pragma=journal_mode(memory)"
	} else {
		if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory: %w (check --data-dir and its permissions)", err)
		}
		path := filepath.Join(opts.Dir, "events.db")
		// WAL: readers never block the writer. synchronous=NORMAL: a commit survives the process
		// dying (it is in the OS), though not a power cut in the last moments before a checkpoint.
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	}
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store in %q: %w (is the directory writable, and the file a SQLite database?)", opts.Dir, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	st, err := prepareStmts(ctx, w)
	if err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		st.close()
		w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	r.SetMaxOpenConns(4)
	s := &Store{
		opts: opts, log: opts.Logger, w: w, stmts: st, r: r, memory: memory,
		wake: make(chan struct{}, 1), stopped: make(chan struct{}),
		sessions: map[string]*openSession{},
	}
	if err := s.loadOpenSessions(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := w.QueryRowContext(ctx, "SELECT max(last, (SELECT coalesce(max(id), 0) FROM events)) FROM event_ids").Scan(&s.lastID); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("read the last event id: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(wctx)
	return s, nil
}

func (s *Store) closeDBs() {
	s.r.Close()
	s.stmts.close()
	s.w.Close()
}

// Recording reports whether raw upstream messages are kept (Options.Record).
func (s *Store) Recording() bool { return s.opts.Record }

// Memory reports whether the log lives in memory only.
func (s *Store) Memory() bool { return s.memory }

// Position is where the room's stream continues: its epoch and last seq, or the zero Position for
// a room the log has never seen.
func (s *Store) Position(ctx context.Context, room string) (event.Position, error) {
	var p event.Position
	err := s.r.QueryRowContext(ctx, "SELECT epoch, last_seq FROM rooms WHERE username = ?", roomKey(room)).Scan(&p.Epoch, &p.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return event.Position{}, nil
	}
	if err != nil {
		return event.Position{}, fmt.Errorf("read room position: %w", err)
	}
	return p, nil
}

// Append queues e (already sequenced) and m, its encoding, for the log: m.JSON is what is stored,
// and the writer then calls Options.Deliver(m). It never blocks on disk. e and m must not change
// afterwards.
func (s *Store) Append(e *event.Event, m *event.Encoded) {
	s.appended.Add(1)
	s.mu.Lock()
	if s.closed {
		// Shutting down: an event that can no longer be stored or recorded as a gap is not
		// delivered either, or the next start could reuse a seq a client saw.
		s.mu.Unlock()
		s.shed.Add(1)
		return
	}
	it := item{ev: e, msg: m}
	switch {
	case s.events >= 2*s.opts.QueueLimit:
		s.mu.Unlock()
		s.shed.Add(1)
		return
	case s.events >= s.opts.QueueLimit:
		it.unstored = true
	}
	s.queue = append(s.queue, it)
	s.events++
	if int64(s.events) > s.maxPending.Load() {
		s.maxPending.Store(int64(s.events))
	}
	s.mu.Unlock()
	s.signal()
}

// AppendRaw records one raw upstream message of the room's current session, when Record is on.
func (s *Store) AppendRaw(room, method string, msgID int64, payload []byte, at time.Time) {
	if !s.opts.Record {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.events >= s.opts.QueueLimit {
		return // captures are a convenience: never worth memory when behind
	}
	s.queue = append(s.queue, item{raw: &rawMessage{room: room, method: method, msgID: msgID, payload: append([]byte(nil), payload...), at: at}})
	s.signal()
}

func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close writes and delivers everything queued, however long that takes, stops the writer and
// closes the database. Appends after Close are dropped (counted as Shed). CloseContext bounds it.
func (s *Store) Close() error {
	_, err := s.CloseContext(context.Background())
	return err
}

// CloseContext is Close within ctx: the writer commits (and delivers) batches until a fifth of the
// time left (at most maxCloseReserve) remains, interrupting a commit still running then (it rolls
// back whole), and uses half of that reserve to record the seqs it leaves as a gap; see
// CloseResult. It returns by ctx's end even if the database ignores the interruption
// (WriterBusy). The error wraps context.DeadlineExceeded (or ctx's cause) when events were left.
// A ctx without a deadline drains everything, as Close does. Later calls wait for the first.
func (s *Store) CloseContext(ctx context.Context) (CloseResult, error) {
	s.mu.Lock()
	if s.closeDone != nil {
		done := s.closeDone
		s.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		return CloseResult{}, nil
	}
	s.closed = true
	s.closeDone = make(chan struct{})
	defer close(s.closeDone)
	storedBefore := s.stored.Load()
	final, cancelFinal := ctx, context.CancelFunc(func() {})
	if dl, ok := ctx.Deadline(); ok {
		reserve := max(min(time.Until(dl)/5, maxCloseReserve), 0)
		final, cancelFinal = context.WithDeadline(ctx, dl.Add(-reserve/2))
		stopCommits := time.AfterFunc(time.Until(dl.Add(-reserve)), s.cancel)
		defer stopCommits.Stop()
	}
	defer cancelFinal()
	stop := context.AfterFunc(ctx, s.cancel) // a cancelled ctx stops the commits at once
	defer stop()
	s.finalCtx = final
	s.mu.Unlock()
	s.signal()

	busy := false
	select {
	case <-s.stopped:
	case <-ctx.Done():
		select {
		case <-s.stopped:
		default:
			busy = true
		}
	}
	s.cancel()
	s.mu.Lock()
	res, recordErr := s.closeRes, s.recordErr
	if busy {
		// The writer is still in the database: its batch and what waits behind it are left, and
		// not (yet) recorded.
		if !s.leaving {
			res = leftover(append(slices.Clone(s.inFlight), s.queue...))
		}
		res.GapRecorded, res.WriterBusy = false, true
	}
	s.mu.Unlock()
	res.Committed = int(s.stored.Load() - storedBefore)
	err := errors.Join(s.r.Close(), s.stmts.close(), s.w.Close())
	if res.Dropped > 0 || res.Captures > 0 || res.WriterBusy {
		cause := context.Cause(ctx)
		if cause == nil {
			cause = context.DeadlineExceeded // the commits' share of the time ran out first
		}
		what := fmt.Sprintf("%d queued events", res.Dropped)
		if res.Captures > 0 {
			what += fmt.Sprintf(" and %d raw messages", res.Captures)
		}
		lerr := fmt.Errorf("store: %s not committed before the deadline: %w "+
			"(give the shutdown more time, or find what slows or locks the database in --data-dir)", what, cause)
		switch {
		case res.WriterBusy:
			lerr = fmt.Errorf("%w; the writer was still in a database call", lerr)
		case len(res.Gaps) > 0 && !res.GapRecorded:
			lerr = fmt.Errorf("%w; their seqs %v could not be recorded as a gap (%v): the next start reuses them, "+
				"and a client resuming across them is not told", lerr, res.Gaps, recordErr)
		}
		err = errors.Join(lerr, err)
	}
	return res, err
}

// leftover counts what the writer leaves behind and the seqs of the events, per room and epoch.
func leftover(items []item) CloseResult {
	var res CloseResult
	at := map[[2]string]int{}
	for _, it := range items {
		if it.raw != nil {
			res.Captures++
			continue
		}
		res.Dropped++
		e := it.ev
		k := [2]string{roomKey(e.Username), e.Epoch}
		i, ok := at[k]
		if !ok {
			at[k] = len(res.Gaps)
			res.Gaps = append(res.Gaps, Gap{Room: k[0], Epoch: k[1], From: e.Seq, To: e.Seq})
			continue
		}
		g := &res.Gaps[i]
		g.From, g.To = min(g.From, e.Seq), max(g.To, e.Seq)
	}
	return res
}

// leave is the writer's end when the close deadline came with events queued: they are dropped,
// undelivered, and their seqs recorded as a gap, in the time CloseContext kept for that.
func (s *Store) leave(batch []item) {
	s.mu.Lock()
	res := leftover(append(batch, s.queue...))
	s.queue, s.inFlight, s.events = nil, nil, 0
	s.closeRes, s.leaving = res, true
	final := s.finalCtx
	s.mu.Unlock()
	if len(res.Gaps) == 0 {
		return
	}
	err := s.recordLeft(final, res.Gaps)
	s.mu.Lock()
	s.closeRes.GapRecorded, s.recordErr = err == nil, err
	s.mu.Unlock()
}

// recordLeft records, in one small transaction, the gaps of the events the writer leaves, and
// moves each room's position past them.
func (s *Store) recordLeft(ctx context.Context, gaps []Gap) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, g := range gaps {
		if err := insertGap(ctx, tx, g); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Stats returns the writer's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	pending := s.events
	s.mu.Unlock()
	return Stats{
		Pending: pending, MaxPending: int(s.maxPending.Load()), Appended: s.appended.Load(), Stored: s.stored.Load(),
		Unstored: s.unstored.Load(), Shed: s.shed.Load(), Batches: s.batches.Load(), Errors: s.errs.Load(),
		Captured: s.captured.Load(), LastCommit: time.Duration(s.lastCommit.Load()), Behind: pending >= s.opts.QueueLimit,
		Memory: s.memory, Pruned: s.pruned.Load(), SchemaVersion: schemaVersion,
	}
}

// run is the writer: it takes what is queued, commits it in one transaction and then delivers it.
// Retention takes bounded turns in between (see retention.go), also while the writer is behind.
func (s *Store) run(ctx context.Context) {
	defer close(s.stopped)
	var tick <-chan time.Time
	if s.opts.Retention > 0 {
		every := min(pruneEvery, max(s.opts.Retention/10, time.Second))
		if s.opts.pruneInterval > 0 {
			every = s.opts.pruneInterval
		}
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
		s.startPrune(s.opts.Now())
		s.pruneTurn(ctx) // before the first commit: what is already there and old goes first
	}
	var batch []item
	for {
		s.mu.Lock()
		n := min(len(s.queue), maxBatch)
		batch = append(batch[:0], s.queue[:n]...)
		clear(s.queue[:n])
		s.queue = s.queue[n:]
		if len(s.queue) == 0 {
			s.queue = nil // let a burst's backing array go
		}
		s.inFlight = batch
		closed := s.closed
		s.mu.Unlock()
		if len(batch) > 0 {
			if ctx.Err() != nil || !s.writeBatch(ctx, batch) {
				s.leave(batch) // the close deadline came: ctx ends only then
				return
			}
			s.mu.Lock()
			for _, it := range batch {
				if it.raw == nil {
					s.events--
				}
			}
			s.inFlight = nil
			s.mu.Unlock()
			clear(batch)
			if !closed {
				// A writer that never catches up still gives retention a turn now and then.
				select {
				case <-tick:
					s.startPrune(s.opts.Now())
				default:
				}
				if s.pass != nil && time.Since(s.lastTurn) >= pruneSpacing {
					s.pruneTurn(ctx)
				}
			}
			continue
		}
		if closed {
			return
		}
		if s.pass != nil {
			s.pruneTurn(ctx) // idle: turn after turn, looking at the queue in between
			continue
		}
		select {
		case <-s.wake:
		case <-tick:
			s.startPrune(s.opts.Now())
		}
	}
}

// writeBatch stores the batch in one transaction, then delivers its events in order. A failed
// commit still delivers: the events are recorded as a gap instead. It reports false, having
// delivered nothing, when the commit failed because ctx ended (the close deadline).
func (s *Store) writeBatch(ctx context.Context, batch []item) bool {
	start := time.Now()
	err := s.commit(ctx, batch)
	s.lastCommit.Store(int64(time.Since(start)))
	s.batches.Add(1)
	if err != nil && ctx.Err() != nil {
		return false
	}
	if err != nil {
		s.errs.Add(1)
		s.log.Error("store: commit failed; events delivered but not stored", "events", len(batch), "err", err)
		s.sessions = map[string]*openSession{} // the database is the truth; reload it
		clear(s.dirty)
		s.dirty = s.dirty[:0]
		if lerr := s.loadOpenSessions(ctx); lerr != nil {
			s.log.Error("store: reload sessions", "err", lerr)
		}
		s.recordGaps(ctx, batch, true)
	}
	for i := range batch {
		it := &batch[i]
		if it.raw != nil {
			continue
		}
		if it.unstored || err != nil {
			s.unstored.Add(1)
		} else {
			s.stored.Add(1)
		}
		s.opts.Deliver(it.msg)
	}
	if s.memory {
		s.sincePrune += len(batch)
		if s.sincePrune >= 1024 {
			s.sincePrune = 0
			s.pruneMemory(ctx)
		}
	}
	return true
}

func (s *Store) commit(ctx context.Context, batch []item) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Ids are given here, past every id ever given (event_ids), not by SQLite: it would reuse the
	// ids of the newest events once retention deleted them, and cursors that follow the log by id
	// would skip what comes next.
	ins := tx.StmtContext(ctx, s.stmts.insertEvent)
	touched := map[string]event.Position{}
	var gaps []item
	id := s.lastID
	for i := range batch {
		it := &batch[i]
		if it.raw != nil {
			if err := s.insertRaw(ctx, tx, it.raw); err != nil {
				return err
			}
			continue
		}
		e := it.ev
		touched[roomKey(e.Username)] = event.Position{Epoch: e.Epoch, Seq: e.Seq}
		sid, err := s.trackSession(ctx, tx, e)
		if err != nil {
			return err
		}
		if it.unstored {
			gaps = append(gaps, *it)
			continue
		}
		c := columnsOf(e)
		id++
		if _, err := ins.ExecContext(ctx, id, roomKey(e.Username), e.Epoch, int64(e.Seq), sid, e.Type, nullStr(e.ID), e.Time.UnixMilli(),
			nullStr(c.userID), nullStr(c.uniqueID), nullStr(c.nickname), nullStr(c.action), c.giftID, nullStr(c.giftName),
			c.amount, c.diamonds, c.viewers, e.Simulated, it.msg.JSON); err != nil {
			return fmt.Errorf("insert event %s #%d: %w", e.Username, e.Seq, err)
		}
	}
	if len(touched) > 0 {
		up := tx.StmtContext(ctx, s.stmts.upsertRoom)
		for room, p := range touched {
			if _, err := up.ExecContext(ctx, room, p.Epoch, int64(p.Seq)); err != nil {
				return err
			}
		}
	}
	if err := s.flushSessions(ctx, tx); err != nil {
		return err
	}
	if len(gaps) > 0 {
		if err := insertGaps(ctx, tx, gaps); err != nil {
			return err
		}
	}
	if s.opts.beforeCommit != nil {
		s.opts.beforeCommit()
	}
	if id != s.lastID {
		if _, err := tx.StmtContext(ctx, s.stmts.updateIDs).ExecContext(ctx, id); err != nil {
			return err
		}
	}
	if s.opts.commitHook != nil {
		if err := s.opts.commitHook(ctx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.lastID = id
	return nil
}

// recordGaps notes, in a transaction of its own, that the batch's events were delivered unstored.
func (s *Store) recordGaps(ctx context.Context, batch []item, all bool) {
	var gaps []item
	for _, it := range batch {
		if it.raw == nil && (all || it.unstored) {
			gaps = append(gaps, it)
		}
	}
	if len(gaps) == 0 {
		return
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err == nil {
		err = insertGaps(ctx, tx, gaps)
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
	}
	if err != nil {
		s.log.Error("store: cannot record a gap; resumes across it may miss events", "err", err)
	}
}

// insertGaps records runs of consecutive seqs per room and epoch.
func insertGaps(ctx context.Context, tx *sql.Tx, items []item) error {
	type run struct {
		room, epoch string
		from, to    uint64
	}
	var runs []run
	for _, it := range items {
		e := it.ev
		if n := len(runs); n > 0 && runs[n-1].room == roomKey(e.Username) && runs[n-1].epoch == e.Epoch && runs[n-1].to+1 == e.Seq {
			runs[n-1].to = e.Seq
			continue
		}
		runs = append(runs, run{roomKey(e.Username), e.Epoch, e.Seq, e.Seq})
	}
	for _, r := range runs {
		if err := insertGap(ctx, tx, Gap{Room: r.room, Epoch: r.epoch, From: r.from, To: r.to}); err != nil {
			return err
		}
	}
	return nil
}

// insertGap records one run of seqs the log does not hold and keeps the room's position past it.
func insertGap(ctx context.Context, tx *sql.Tx, g Gap) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO gaps (username, epoch, from_seq, to_seq) VALUES (?, ?, ?, ?)",
		g.Room, g.Epoch, int64(g.From), int64(g.To)); err != nil {
		return fmt.Errorf("record gap %v: %w", g, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO rooms (username, epoch, last_seq) VALUES (?, ?, ?)
		ON CONFLICT (username) DO UPDATE SET epoch = excluded.epoch, last_seq = max(last_seq, excluded.last_seq)`,
		g.Room, g.Epoch, int64(g.To)); err != nil {
		return fmt.Errorf("record gap %v: %w", g, err)
	}
	return nil
}

func (s *Store) insertRaw(ctx context.Context, tx *sql.Tx, m *rawMessage) error {
	sess := s.sessions[m.room]
	if sess == nil {
		return nil // not in a live session: nothing to attach it to
	}
	if _, err := tx.StmtContext(ctx, s.stmts.insertCapture).ExecContext(ctx,
		sess.id, m.at.UnixMilli(), m.method, m.msgID, m.payload); err != nil {
		return fmt.Errorf("insert capture: %w", err)
	}
	s.captured.Add(1)
	return nil
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// columns are the parts of an event that summaries and leaderboards group by.
type columns struct {
	userID, uniqueID, nickname, action, giftName string
	giftID                                       any
	amount, diamonds                             int64
	viewers                                      any
}

func columnsOf(e *event.Event) columns {
	var c columns
	user := func(u event.User) { c.userID, c.uniqueID, c.nickname = u.UserID, u.UniqueID, u.Nickname }
	switch d := e.Data.(type) {
	case event.ChatData:
		user(d.User)
	case event.GiftData:
		user(d.User)
		c.action, c.giftID, c.giftName = d.StreakState, d.GiftID, d.GiftName
		if d.StreakState != event.StreakProgress {
			c.amount, c.diamonds = int64(max(d.RepeatCount, 1)), d.TotalDiamonds
		}
	case event.LikeData:
		user(d.User)
		c.amount = d.LikeCount
	case event.MemberData:
		user(d.User)
		c.action = d.Action
	case event.SocialData:
		user(d.User)
		c.action = d.Action
	case event.RoomUserData:
		c.viewers = d.ViewerCount
	case event.SubscribeData:
		user(d.User)
	case event.QuestionData:
		user(d.User)
	case event.EmoteData:
		user(d.User)
	case event.EnvelopeData:
		user(d.User)
	case event.StreamEndData:
		c.action = d.Action
	case event.ConnectionClosedData:
		c.action = d.Reason
	}
	return c
}

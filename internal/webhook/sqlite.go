package webhook

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the queue's file in the data directory.
const FileName = "webhooks.db"

// ErrSchemaTooNew is returned for a webhooks.db written by a newer build.
var ErrSchemaTooNew = errors.New("webhook: database schema too new")

// SQLiteQueue is the Queue and the Endpoints registry on SQLite, in its own file (webhooks.db) and
// not in the event store: its transactions (a claim, an outcome) are small and many, and must not
// queue behind the event writer's batches or depend on that schema; and the event log's retention
// never touches webhook state. One process owns a file at a time (leases make several safe).
type SQLiteQueue struct {
	db *sql.DB
}

// schema is version 1. Times are Unix milliseconds, 0 for none. A message (the signed body) is
// stored once however many endpoints get it.
const schema = `
CREATE TABLE webhook_endpoints (
	id TEXT PRIMARY KEY,
	url TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	secret TEXT NOT NULL,
	previous_secret TEXT NOT NULL DEFAULT '',
	previous_until INTEGER NOT NULL DEFAULT 0,
	filter_json TEXT NOT NULL,
	disabled INTEGER NOT NULL DEFAULT 0,
	disabled_reason TEXT NOT NULL DEFAULT '',
	disabled_at INTEGER NOT NULL DEFAULT 0,
	failing_since INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE TABLE webhook_messages (
	id TEXT PRIMARY KEY,
	type TEXT NOT NULL,
	room TEXT NOT NULL DEFAULT '',
	body BLOB NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
	endpoint_id TEXT NOT NULL,
	msg_id TEXT NOT NULL,
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	step INTEGER NOT NULL DEFAULT 0,
	next_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL DEFAULT 0,
	lease_until INTEGER NOT NULL DEFAULT 0,
	lease_token TEXT NOT NULL DEFAULT '',
	last_status INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	last_attempt_at INTEGER NOT NULL DEFAULT 0,
	delivered_at INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (endpoint_id, msg_id)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (endpoint_id, state, created_at);
CREATE INDEX webhook_deliveries_msg ON webhook_deliveries (msg_id);
`

// schemaV2 adds the follower's cursor in the event log (see Follower) and each endpoint's last
// success, for metrics and the API.
const schemaV2 = `
CREATE TABLE webhook_cursor (
	name TEXT PRIMARY KEY,
	position INTEGER NOT NULL
);
ALTER TABLE webhook_endpoints ADD COLUMN last_delivered_at INTEGER NOT NULL DEFAULT 0;
`

// migrations are the schema's steps; the version is how many have run.
var migrations = []string{schema, schemaV2}

const schemaVersion = 2

// OpenSQLite opens (creating if needed) the queue at path; "" keeps it in memory, for a server
// without a data directory (webhooks then do not survive a restart).
func OpenSQLite(ctx context.Context, path string) (*SQLiteQueue, error) {
	var dsn string
	if path == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		dsn = "file:/webhooks-" + hex.EncodeToString(b[:]) + "?vfs=memdb&_pragma=busy_timeout(10000)&_txlock=immediate"
	} else {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("webhook: create directory: %w", err)
		}
		// The file holds the endpoints' secrets: readable by the owner only. SQLite gives its -wal
		// and -shm files the database file's permissions.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("webhook: open %q: %w", path, err)
		}
		f.Close()
		// WAL and synchronous=NORMAL: a committed outcome survives the process being killed.
		// immediate transactions take the write lock up front, so two processes (a restart
		// overlapping the old one) wait on busy_timeout instead of failing a lock upgrade.
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("webhook: open %q: %w", path, err)
	}
	// One connection: the load is small, it serialises this process's writers without SQLITE_BUSY,
	// and it keeps a memdb database alive for as long as the queue is open.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	q := &SQLiteQueue{db: db}
	if err := q.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return q, nil
}

// Close closes the database.
func (q *SQLiteQueue) Close() error { return q.db.Close() }

func (q *SQLiteQueue) migrate(ctx context.Context) error {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("webhook: open database: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("webhook: read schema version: %w", err)
	}
	switch {
	case v > schemaVersion:
		return fmt.Errorf("%w: version %d, this build knows %d", ErrSchemaTooNew, v, schemaVersion)
	case v == schemaVersion:
		return nil
	}
	for i, step := range migrations[v:] {
		if _, err := tx.ExecContext(ctx, step); err != nil {
			return fmt.Errorf("webhook: schema version %d: %w", v+i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("webhook: set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("webhook: migrate schema: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Enqueue implements Queue.
func (q *SQLiteQueue) Enqueue(ctx context.Context, now time.Time, ds ...Delivery) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	return q.inTx(ctx, "enqueue", func(tx *sql.Tx) (int, error) { return enqueueTx(ctx, tx, now, ds) })
}

// Advance enqueues ds and moves the follower's cursor to position, in one transaction: the cursor
// never passes an event whose deliveries are not queued, and deliveries are never queued without
// the cursor moving past their event (so a restart does not map it again; if it did, Enqueue's
// dedup would still send it once).
func (q *SQLiteQueue) Advance(ctx context.Context, now time.Time, position int64, ds ...Delivery) (int, error) {
	return q.inTx(ctx, "advance", func(tx *sql.Tx) (int, error) {
		n, err := enqueueTx(ctx, tx, now, ds)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_cursor (name, position) VALUES ('events', ?)
			ON CONFLICT (name) DO UPDATE SET position = excluded.position`, position); err != nil {
			return 0, fmt.Errorf("webhook: advance: %w", err)
		}
		return n, nil
	})
}

// Cursor is the follower's position in the event log; false before it ever advanced.
func (q *SQLiteQueue) Cursor(ctx context.Context) (int64, bool, error) {
	var pos int64
	err := q.db.QueryRowContext(ctx, `SELECT position FROM webhook_cursor WHERE name = 'events'`).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("webhook: read cursor: %w", err)
	}
	return pos, true, nil
}

func (q *SQLiteQueue) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) (int, error)) (int, error) {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("webhook: %s: %w", what, err)
	}
	defer tx.Rollback()
	n, err := fn(tx)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("webhook: %s: %w", what, err)
	}
	return n, nil
}

func enqueueTx(ctx context.Context, tx *sql.Tx, now time.Time, ds []Delivery) (int, error) {
	added := 0
	for i := range ds {
		d := &ds[i]
		if d.EndpointID == "" || d.MsgID == "" || strings.Contains(d.MsgID, ".") {
			return 0, fmt.Errorf("webhook: enqueue: bad key (%q, %q)", d.EndpointID, d.MsgID)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO webhook_messages (id, type, room, body, created_at) VALUES (?, ?, ?, ?, ?)`,
			d.MsgID, d.Type, d.Room, d.Body, ms(now)); err != nil {
			return 0, fmt.Errorf("webhook: enqueue: %w", err)
		}
		next := d.NextAt
		if next.IsZero() {
			next = now
		}
		// Only for an endpoint that exists: one deleted since the event was mapped gets nothing.
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO webhook_deliveries (endpoint_id, msg_id, state, next_at, expires_at, created_at)
			SELECT ?, ?, 'pending', ?, ?, ? WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?)`,
			d.EndpointID, d.MsgID, ms(next), ms(d.ExpiresAt), ms(now), d.EndpointID)
		if err != nil {
			return 0, fmt.Errorf("webhook: enqueue: %w", err)
		}
		n, _ := res.RowsAffected()
		added += int(n)
	}
	return added, nil
}

// QueueCounts are an endpoint's deliveries that are not delivered, by state.
type QueueCounts struct {
	Pending int `json:"pending"` // waiting for a first attempt (or a resend)
	Failed  int `json:"failed"`  // failed, another attempt scheduled
	Dead    int `json:"dead"`    // given up: the dead letters
}

// Counts returns every endpoint's QueueCounts, by endpoint id (endpoints with none are absent).
func (q *SQLiteQueue) Counts(ctx context.Context) (map[string]QueueCounts, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT endpoint_id, state, count(*) FROM webhook_deliveries
		WHERE state IN ('pending', 'failed', 'dead') GROUP BY endpoint_id, state`)
	if err != nil {
		return nil, fmt.Errorf("webhook: count deliveries: %w", err)
	}
	defer rows.Close()
	out := map[string]QueueCounts{}
	for rows.Next() {
		var id, state string
		var n int
		if err := rows.Scan(&id, &state, &n); err != nil {
			return nil, fmt.Errorf("webhook: count deliveries: %w", err)
		}
		c := out[id]
		switch State(state) {
		case StatePending:
			c.Pending = n
		case StateFailed:
			c.Failed = n
		case StateDead:
			c.Dead = n
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook: count deliveries: %w", err)
	}
	return out, nil
}

const deliveryCols = `d.endpoint_id, d.msg_id, m.type, m.room, m.body, d.state, d.attempts, d.step, d.next_at, d.expires_at,
	d.created_at, d.last_attempt_at, d.delivered_at, d.last_status, d.last_error`

func scanDelivery(sc interface{ Scan(...any) error }, d *Delivery, extra ...any) error {
	var state string
	var next, exp, created, last, delivered int64
	dest := append([]any{&d.EndpointID, &d.MsgID, &d.Type, &d.Room, &d.Body, &state, &d.Attempts, &d.Step, &next, &exp,
		&created, &last, &delivered, &d.LastStatus, &d.LastError}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	d.State = State(state)
	d.NextAt, d.ExpiresAt, d.CreatedAt, d.LastAttemptAt, d.DeliveredAt = fromMS(next), fromMS(exp), fromMS(created), fromMS(last), fromMS(delivered)
	return nil
}

const endpointCols = `e.id, e.url, e.description, e.secret, e.previous_secret, e.previous_until, e.filter_json, e.disabled,
	e.disabled_reason, e.disabled_at, e.failing_since, e.created_at, e.updated_at, e.last_delivered_at`

// endpointScan holds the columns of an endpoint while a row is scanned.
type endpointScan struct {
	ep                                                      Endpoint
	filter                                                  string
	prevUntil, disabledAt, failing, created, update, lastOK int64
}

func (s *endpointScan) dest() []any {
	return []any{&s.ep.ID, &s.ep.URL, &s.ep.Description, &s.ep.Secret, &s.ep.PreviousSecret, &s.prevUntil, &s.filter,
		&s.ep.Disabled, &s.ep.DisabledReason, &s.disabledAt, &s.failing, &s.created, &s.update, &s.lastOK}
}

func (s *endpointScan) endpoint() (Endpoint, error) {
	ep := s.ep
	if err := json.Unmarshal([]byte(s.filter), &ep.Filter); err != nil {
		return Endpoint{}, fmt.Errorf("webhook: endpoint %s filter: %w", ep.ID, err)
	}
	ep.PreviousUntil, ep.DisabledAt, ep.FailingSince = fromMS(s.prevUntil), fromMS(s.disabledAt), fromMS(s.failing)
	ep.CreatedAt, ep.UpdatedAt, ep.LastDeliveredAt = fromMS(s.created), fromMS(s.update), fromMS(s.lastOK)
	return ep, nil
}

// Claim implements Queue.
func (q *SQLiteQueue) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Claim, error) {
	if limit <= 0 {
		return nil, nil
	}
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("webhook: claim: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+deliveryCols+`, `+endpointCols+`
		FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.msg_id JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE d.state IN ('pending', 'failed') AND d.next_at <= ? AND d.lease_until <= ? AND e.disabled = 0
		ORDER BY d.next_at LIMIT ?`, ms(now), ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("webhook: claim: %w", err)
	}
	var out []Claim
	for rows.Next() {
		var c Claim
		var es endpointScan
		if err := scanDelivery(rows, &c.Delivery, es.dest()...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("webhook: claim: %w", err)
		}
		if c.Endpoint, err = es.endpoint(); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("webhook: claim: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook: claim: %w", err)
	}
	until := ms(now.Add(lease))
	for i := range out {
		tok, err := randomID("")
		if err != nil {
			return nil, err
		}
		out[i].Token = tok
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET lease_until = ?, lease_token = ? WHERE endpoint_id = ? AND msg_id = ?`,
			until, tok, out[i].EndpointID, out[i].MsgID); err != nil {
			return nil, fmt.Errorf("webhook: claim: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("webhook: claim: %w", err)
	}
	return out, nil
}

// Complete implements Queue. An outcome whose lease was lost (it expired and another claim took
// the row) is dropped: the newer claim decides.
func (q *SQLiteQueue) Complete(ctx context.Context, o Outcome) error {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("webhook: complete: %w", err)
	}
	defer tx.Rollback()
	attempted := 0
	if o.Attempted {
		attempted = 1
	}
	step := "step"
	if o.State == StateFailed {
		step = "step + 1"
	}
	delivered := int64(0)
	if o.State == StateDelivered {
		delivered = ms(o.At)
	}
	res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = ?, next_at = ?, attempts = attempts + ?, step = `+step+`,
		lease_until = 0, lease_token = '', last_status = CASE WHEN ? THEN ? ELSE last_status END,
		last_error = CASE WHEN ? THEN ? ELSE last_error END, last_attempt_at = CASE WHEN ? THEN ? ELSE last_attempt_at END,
		delivered_at = CASE WHEN ? > 0 THEN ? ELSE delivered_at END
		WHERE endpoint_id = ? AND msg_id = ? AND lease_token = ?`,
		string(o.State), ms(o.NextAt), attempted, attempted, o.Status, attempted|boolInt(o.Err != ""), o.Err,
		attempted, ms(o.At), delivered, delivered, o.EndpointID, o.MsgID, o.Token)
	if err != nil {
		return fmt.Errorf("webhook: complete: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // lease lost
	}
	switch {
	case o.Disable != "":
		_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET disabled = 1, disabled_reason = ?, disabled_at = ?, updated_at = ? WHERE id = ?`,
			o.Disable, ms(o.At), ms(o.At), o.EndpointID)
	case o.State == StateDelivered:
		_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = 0, last_delivered_at = ? WHERE id = ?`, ms(o.At), o.EndpointID)
	case o.Attempted:
		_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = ? WHERE id = ? AND failing_since = 0`, ms(o.At), o.EndpointID)
	}
	if err != nil {
		return fmt.Errorf("webhook: complete: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("webhook: complete: %w", err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Release implements Queue.
func (q *SQLiteQueue) Release(ctx context.Context, endpointID, msgID, token string) error {
	_, err := q.db.ExecContext(ctx, `UPDATE webhook_deliveries SET lease_until = 0, lease_token = '' WHERE endpoint_id = ? AND msg_id = ? AND lease_token = ?`,
		endpointID, msgID, token)
	if err != nil {
		return fmt.Errorf("webhook: release: %w", err)
	}
	return nil
}

// NextDue implements Queue.
func (q *SQLiteQueue) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := q.db.QueryRowContext(ctx, `SELECT MIN(MAX(d.next_at, d.lease_until)) FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.state IN ('pending', 'failed') AND e.disabled = 0`).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("webhook: next due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next.Int64).UTC(), true, nil
}

// Deliveries implements Queue.
func (q *SQLiteQueue) Deliveries(ctx context.Context, f ListFilter) ([]Delivery, error) {
	if err := validStates(f.States); err != nil {
		return nil, err
	}
	where := []string{"1"}
	var args []any
	if f.EndpointID != "" {
		where, args = append(where, "d.endpoint_id = ?"), append(args, f.EndpointID)
	}
	if len(f.States) > 0 {
		where = append(where, "d.state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, "d.created_at >= ?"), append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "d.created_at < ?"), append(args, ms(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := q.db.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.msg_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY d.created_at DESC, d.msg_id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("webhook: list deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		if err := scanDelivery(rows, &d); err != nil {
			return nil, fmt.Errorf("webhook: list deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook: list deliveries: %w", err)
	}
	return out, nil
}

// Delivery returns one delivery.
func (q *SQLiteQueue) Delivery(ctx context.Context, endpointID, msgID string) (Delivery, error) {
	var d Delivery
	err := scanDelivery(q.db.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.msg_id
		WHERE d.endpoint_id = ? AND d.msg_id = ?`, endpointID, msgID), &d)
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, fmt.Errorf("%w: delivery %s to %s", ErrNotFound, msgID, endpointID)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook: delivery: %w", err)
	}
	return d, nil
}

// Resend implements Queue.
func (q *SQLiteQueue) Resend(ctx context.Context, endpointID, msgID string, now time.Time) error {
	res, err := q.db.ExecContext(ctx, `UPDATE webhook_deliveries SET state = 'pending', step = 0, next_at = ?, expires_at = 0,
		lease_until = 0, lease_token = '' WHERE endpoint_id = ? AND msg_id = ?`, ms(now), endpointID, msgID)
	if err != nil {
		return fmt.Errorf("webhook: resend: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: delivery %s to %s", ErrNotFound, msgID, endpointID)
	}
	return nil
}

// Recover implements Queue. A recovered delivery no longer expires: someone asked for it.
func (q *SQLiteQueue) Recover(ctx context.Context, endpointID string, since, until, now time.Time) (int, error) {
	res, err := q.db.ExecContext(ctx, `UPDATE webhook_deliveries SET state = 'pending', step = 0, next_at = ?, expires_at = 0,
		lease_until = 0, lease_token = '' WHERE endpoint_id = ? AND state = 'dead' AND created_at >= ? AND created_at < ?`,
		ms(now), endpointID, ms(since), ms(until))
	if err != nil {
		return 0, fmt.Errorf("webhook: recover: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Prune deletes delivered and dead deliveries created before before, and the messages no
// delivery needs any more. It returns how many deliveries went.
func (q *SQLiteQueue) Prune(ctx context.Context, before time.Time) (int, error) {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("webhook: prune: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'dead') AND created_at < ?`, ms(before))
	if err != nil {
		return 0, fmt.Errorf("webhook: prune: %w", err)
	}
	n, _ := res.RowsAffected()
	if err := deleteOrphanMessages(ctx, tx); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("webhook: prune: %w", err)
	}
	return int(n), nil
}

func deleteOrphanMessages(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM webhook_messages WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.msg_id = webhook_messages.id)`)
	if err != nil {
		return fmt.Errorf("webhook: delete messages: %w", err)
	}
	return nil
}

// CreateEndpoint implements Endpoints.
func (q *SQLiteQueue) CreateEndpoint(ctx context.Context, ep Endpoint) error {
	if ep.ID == "" || ep.Secret == "" {
		return errors.New("webhook: create endpoint: no id or secret (use NewEndpoint)")
	}
	f, err := json.Marshal(ep.Filter)
	if err != nil {
		return fmt.Errorf("webhook: create endpoint: %w", err)
	}
	_, err = q.db.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, url, description, secret, previous_secret, previous_until, filter_json,
		disabled, disabled_reason, disabled_at, failing_since, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ep.ID, ep.URL, ep.Description, ep.Secret, ep.PreviousSecret, ms(ep.PreviousUntil), string(f), ep.Disabled,
		ep.DisabledReason, ms(ep.DisabledAt), ms(ep.FailingSince), ms(ep.CreatedAt), ms(ep.UpdatedAt))
	if err != nil {
		return fmt.Errorf("webhook: create endpoint: %w", err)
	}
	return nil
}

// Endpoint implements Endpoints.
func (q *SQLiteQueue) Endpoint(ctx context.Context, id string) (Endpoint, error) {
	var es endpointScan
	err := q.db.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints e WHERE e.id = ?`, id).Scan(es.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return Endpoint{}, fmt.Errorf("%w: endpoint %s", ErrNotFound, id)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhook: endpoint: %w", err)
	}
	return es.endpoint()
}

// ListEndpoints implements Endpoints, oldest first.
func (q *SQLiteQueue) ListEndpoints(ctx context.Context) ([]Endpoint, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints e ORDER BY e.created_at, e.id`)
	if err != nil {
		return nil, fmt.Errorf("webhook: list endpoints: %w", err)
	}
	defer rows.Close()
	var out []Endpoint
	for rows.Next() {
		var es endpointScan
		if err := rows.Scan(es.dest()...); err != nil {
			return nil, fmt.Errorf("webhook: list endpoints: %w", err)
		}
		ep, err := es.endpoint()
		if err != nil {
			return nil, err
		}
		out = append(out, ep)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook: list endpoints: %w", err)
	}
	return out, nil
}

func (q *SQLiteQueue) updateOne(ctx context.Context, what, id, query string, args ...any) error {
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("webhook: %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: endpoint %s", ErrNotFound, id)
	}
	return nil
}

// UpdateEndpoint implements Endpoints.
func (q *SQLiteQueue) UpdateEndpoint(ctx context.Context, ep Endpoint, now time.Time) error {
	f, err := json.Marshal(ep.Filter)
	if err != nil {
		return fmt.Errorf("webhook: update endpoint: %w", err)
	}
	return q.updateOne(ctx, "update endpoint", ep.ID, `UPDATE webhook_endpoints SET url = ?, description = ?, filter_json = ?, updated_at = ? WHERE id = ?`,
		ep.URL, ep.Description, string(f), ms(now), ep.ID)
}

// SetEnabled implements Endpoints.
func (q *SQLiteQueue) SetEnabled(ctx context.Context, id string, enabled bool, reason string, now time.Time) error {
	if enabled {
		return q.updateOne(ctx, "enable endpoint", id, `UPDATE webhook_endpoints SET disabled = 0, disabled_reason = '', disabled_at = 0,
			failing_since = 0, updated_at = ? WHERE id = ?`, ms(now), id)
	}
	return q.updateOne(ctx, "disable endpoint", id, `UPDATE webhook_endpoints SET disabled = 1, disabled_reason = ?, disabled_at = ?,
		updated_at = ? WHERE id = ?`, reason, ms(now), ms(now), id)
}

// RotateSecret implements Endpoints.
func (q *SQLiteQueue) RotateSecret(ctx context.Context, id, secret string, now time.Time) error {
	if err := ValidateSecret(secret); err != nil {
		return err
	}
	return q.updateOne(ctx, "rotate secret", id, `UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?, secret = ?,
		updated_at = ? WHERE id = ?`, ms(now.Add(RotationOverlap)), secret, ms(now), id)
}

// DeleteEndpoint implements Endpoints.
func (q *SQLiteQueue) DeleteEndpoint(ctx context.Context, id string) error {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("webhook: delete endpoint: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("webhook: delete endpoint: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: endpoint %s", ErrNotFound, id)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id = ?`, id); err != nil {
		return fmt.Errorf("webhook: delete endpoint: %w", err)
	}
	if err := deleteOrphanMessages(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("webhook: delete endpoint: %w", err)
	}
	return nil
}

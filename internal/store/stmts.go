package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// stmts are the writer's statements, prepared once on its connection and used in every commit
// (Tx.StmtContext reuses a statement already prepared on the transaction's connection): parsing
// them for each commit was a fifth of a small commit's cost.
type stmts struct {
	insertEvent   *sql.Stmt
	upsertRoom    *sql.Stmt
	updateIDs     *sql.Stmt
	updateSession *sql.Stmt
	endSession    *sql.Stmt
	insertCapture *sql.Stmt
}

func prepareStmts(ctx context.Context, db *sql.DB) (*stmts, error) {
	st := &stmts{}
	for _, p := range []struct {
		to  **sql.Stmt
		sql string
	}{
		{&st.insertEvent, `INSERT INTO events
		(id, username, epoch, seq, session_id, type, msg_id, at, user_id, unique_id, nickname, action, gift_id, gift_name, amount, diamonds, viewers, simulated, json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.upsertRoom, `INSERT INTO rooms (username, epoch, last_seq) VALUES (?, ?, ?)
			ON CONFLICT (username) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq`},
		{&st.updateIDs, "UPDATE event_ids SET last = ?"},
		{&st.updateSession, "UPDATE sessions SET last_seq = ?, events = ?, updated_at = ? WHERE id = ?"},
		{&st.endSession, "UPDATE sessions SET last_seq = ?, events = ?, updated_at = ?, ended_at = ?, end_reason = ? WHERE id = ?"},
		{&st.insertCapture, "INSERT INTO captures (session_id, at, method, msg_id, payload) VALUES (?, ?, ?, ?, ?)"},
	} {
		stmt, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("prepare the writer's statements: %w", err)
		}
		*p.to = stmt
	}
	return st, nil
}

func (st *stmts) close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{st.insertEvent, st.upsertRoom, st.updateIDs, st.updateSession, st.endSession, st.insertCapture} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}

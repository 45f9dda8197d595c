package httpapi

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
)

// maxHistoryLimit bounds limit=; an export of everything leaves limit out.
const maxHistoryLimit = 1_000_000

// historyQuery reads since, until, types, limit, cursor and epoch into a store query. since and
// until are seqs when all digits, RFC 3339 times otherwise; since is exclusive, until inclusive
// for seqs and exclusive for times.
func historyQuery(v url.Values) (store.Query, error) {
	var q store.Query
	if s := v.Get("since"); s != "" {
		if n, err := strconv.ParseUint(s, 10, 63); err == nil {
			q.SinceSeq = n
		} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			q.SinceTime = t
		} else {
			return q, fmt.Errorf("since=%q: want a seq (digits) or an RFC 3339 time such as 2026-11-27T20:00:00Z", clip(s))
		}
	}
	if s := v.Get("until"); s != "" {
		if n, err := strconv.ParseUint(s, 10, 63); err == nil && n > 0 {
			q.UntilSeq = n
		} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			q.UntilTime = t
		} else {
			return q, fmt.Errorf("until=%q: want a seq (digits, at least 1) or an RFC 3339 time", clip(s))
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxHistoryLimit {
			return q, fmt.Errorf("limit=%q: want a number from 1 to %d (leave it out for everything)", clip(s), maxHistoryLimit)
		}
		q.Limit = n
	}
	if s := v.Get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return q, fmt.Errorf("cursor=%q: pass back the nextCursor of the previous page", clip(s))
		}
		q.After = n
	}
	if s := v.Get("epoch"); s != "" {
		if !event.ValidEpoch(s) {
			return q, fmt.Errorf("epoch=%q: want the 16 hex digits of an event's epoch", clip(s))
		}
		q.Epoch = s
	}
	f, err := hub.ParseFilter(url.Values{"types": v["types"]})
	if err != nil {
		return q, err
	}
	for t := range f.Types {
		q.Types = append(q.Types, t)
	}
	return q, nil
}

// clip keeps echoed input short in error messages.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func (s *Server) roomEvents(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	q, err := historyQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_query", err.Error())
		return
	}
	q.Room = name
	s.writeEvents(w, r, q, name+"-events")
}

func (s *Server) sessionEvents(w http.ResponseWriter, r *http.Request) {
	x, ok := s.session(w, r)
	if !ok {
		return
	}
	id := x.ID
	q, err := historyQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_query", err.Error())
		return
	}
	q.Session = id
	s.writeEvents(w, r, q, fmt.Sprintf("session-%d-events", id))
}

// session reads {id} and loads the session, checking that the request may read its room; it
// answers 400, 403 or 404 and returns false when not.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "bad_session", "session ids are positive numbers, as listed by GET /v1/rooms/{username}/sessions")
		return store.Session{}, false
	}
	x, err := s.cfg.Store.Session(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return store.Session{}, false
	}
	if !grantOf(r).CanRead(x.Username) {
		writeError(w, http.StatusForbidden, "forbidden", "this token is for another room")
		return store.Session{}, false
	}
	return x, true
}

func (s *Server) storeError(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such session; it may have been pruned by --retention")
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	s.log.Error("history read failed", "err", err)
	writeError(w, http.StatusInternalServerError, "store_error", "reading the event log failed; see the server log")
}

// writeEvents streams the events of q as json ({nextCursor, events: [...]}), ndjson or csv, in
// constant memory. The next page's cursor is also in the X-Next-Cursor header and a Link header.
func (s *Server) writeEvents(w http.ResponseWriter, r *http.Request, q store.Query, filename string) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "ndjson" && format != "csv" {
		writeError(w, http.StatusBadRequest, "bad_query", fmt.Sprintf("format=%q: want json, ndjson or csv", clip(format)))
		return
	}
	ctx := r.Context()
	next, err := s.cfg.Store.NextCursor(ctx, q)
	if err != nil {
		s.storeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	nextJSON := "null"
	if next > 0 {
		c := strconv.FormatInt(next, 10)
		nextJSON = `"` + c + `"`
		h.Set("X-Next-Cursor", c)
		u := *r.URL
		v := u.Query()
		v.Del("token") // never echo a credential
		v.Set("cursor", c)
		u.RawQuery = v.Encode()
		h.Set("Link", "<"+u.RequestURI()+`>; rel="next"`)
	}
	rc := http.NewResponseController(w)
	var werr error
	n := 0
	// Each chunk the store reads gets a write deadline of its own, set once it is read and ending
	// with it flushed: a client that keeps reading may take as long as the export needs, one that
	// stops is cut off, and the store's reading is not counted against the client.
	chunked := func(write func(*store.Row) error, finish func()) func([]store.Row) error {
		return func(rows []store.Row) error {
			s.extendWrite(rc)
			for i := range rows {
				if err := write(&rows[i]); err != nil {
					return err
				}
				n++
			}
			if finish != nil {
				finish() // the csv writer's buffer
			}
			return flush(rc)
		}
	}
	switch format {
	case "json":
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, werr = fmt.Fprintf(w, `{"nextCursor":%s,"events":[`, nextJSON)
		_, err = s.cfg.Store.EventChunks(ctx, q, chunked(func(row *store.Row) error {
			if n > 0 {
				w.Write([]byte{','})
			}
			_, err := w.Write(row.JSON)
			return err
		}, nil))
		if err == nil {
			s.extendWrite(rc)
			_, werr = w.Write([]byte("]}\n"))
		}
	case "ndjson":
		h.Set("Content-Type", "application/x-ndjson")
		h.Set("Content-Disposition", `attachment; filename="`+filename+`.ndjson"`)
		w.WriteHeader(http.StatusOK)
		_, err = s.cfg.Store.EventChunks(ctx, q, chunked(func(row *store.Row) error {
			if _, err := w.Write(row.JSON); err != nil {
				return err
			}
			_, err := w.Write([]byte{'\n'})
			return err
		}, nil))
	case "csv":
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+filename+`.csv"`)
		w.WriteHeader(http.StatusOK)
		cw := csv.NewWriter(w)
		cw.Write(csvHeader)
		rec := make([]string, len(csvHeader))
		_, err = s.cfg.Store.EventChunks(ctx, q, chunked(func(row *store.Row) error {
			csvRecord(rec, row)
			return cw.Write(rec)
		}, cw.Flush))
		s.extendWrite(rc)
		cw.Flush()
		werr = cw.Error()
	}
	if err == nil {
		err = werr
	}
	if err != nil && ctx.Err() == nil {
		// The status is sent; a truncated body is how the client learns. Say why in the log.
		s.log.Warn("history export ended early", "err", err, "events", n)
	}
}

// flush sends what is buffered; a writer that cannot flush is not an error (it sends it later).
func flush(rc *http.ResponseController) error {
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// extendWrite gives the answer ResponseWriteTimeout from now for its next writes.
func (s *Server) extendWrite(rc *http.ResponseController) {
	rc.SetWriteDeadline(time.Now().Add(s.cfg.ResponseWriteTimeout))
}

// csvHeader names the export's columns: the fields people sort and filter by, then the whole event.
var csvHeader = []string{"seq", "epoch", "time", "type", "id", "userId", "uniqueId", "nickname", "action", "giftName", "amount", "diamonds", "viewers", "json"}

func csvRecord(rec []string, r *store.Row) {
	rec[0] = strconv.FormatUint(r.Seq, 10)
	rec[1] = r.Epoch
	rec[2] = r.At.Format(event.TimeLayout)
	rec[3] = r.Type
	rec[4] = r.MsgID
	rec[5] = r.UserID
	rec[6] = csvSafe(r.UniqueID)
	rec[7] = csvSafe(r.Nickname)
	rec[8] = r.Action
	rec[9] = csvSafe(r.GiftName)
	rec[10] = strconv.FormatInt(r.Amount, 10)
	rec[11] = strconv.FormatInt(r.Diamonds, 10)
	rec[12] = strconv.FormatInt(r.Viewers, 10)
	rec[13] = string(r.JSON)
}

// csvSafe defuses text a spreadsheet would run as a formula (nicknames are chosen by strangers).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (s *Server) roomSessions(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	v := r.URL.Query()
	var before int64
	if b := v.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad_query", "before= wants a session id")
			return
		}
		before = n
	}
	limit, ok := listLimit(w, v, 100)
	if !ok {
		return
	}
	list, err := s.cfg.Store.Sessions(r.Context(), name, before, limit)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"username": name, "sessions": list})
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	x, ok := s.session(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func (s *Server) sessionSummary(w http.ResponseWriter, r *http.Request) {
	x, ok := s.session(w, r)
	if !ok {
		return
	}
	sum, err := s.cfg.Store.Summary(r.Context(), x, time.Now())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sum)
}

func (s *Server) roomLeaderboard(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	s.leaderboard(w, r, store.Scope{Room: name})
}

func (s *Server) sessionLeaderboard(w http.ResponseWriter, r *http.Request) {
	x, ok := s.session(w, r)
	if !ok {
		return
	}
	s.leaderboard(w, r, store.Scope{Session: x.ID})
}

// leaderboard answers ?by=diamonds|likes|chats&limit=N (default diamonds, 10).
func (s *Server) leaderboard(w http.ResponseWriter, r *http.Request, sc store.Scope) {
	v := r.URL.Query()
	by := v.Get("by")
	if by == "" {
		by = store.ByDiamonds
	}
	if by != store.ByDiamonds && by != store.ByLikes && by != store.ByChats {
		writeError(w, http.StatusBadRequest, "bad_query", fmt.Sprintf("by=%q: want diamonds (top gifters), likes (top likers) or chats (top chatters)", clip(by)))
		return
	}
	limit, ok := listLimit(w, v, 10)
	if !ok {
		return
	}
	list, err := s.cfg.Store.Leaderboard(r.Context(), sc, by, limit)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"by": by, "entries": list})
}

// listLimit reads limit= of a list (1 to 1000, def when absent), answering 400 when bad.
func listLimit(w http.ResponseWriter, v url.Values, def int) (int, bool) {
	l := v.Get("limit")
	if l == "" {
		return def, true
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > 1000 {
		writeError(w, http.StatusBadRequest, "bad_query", "limit= wants a number from 1 to 1000")
		return 0, false
	}
	return n, true
}

// sessionCapture exports the raw messages of a recorded session as capture lines (NDJSON), the
// format `fake-tiktok --capture` replays back.
func (s *Server) sessionCapture(w http.ResponseWriter, r *http.Request) {
	x, ok := s.session(w, r)
	if !ok {
		return
	}
	id := x.ID
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="session-%d-capture.ndjson"`, id))
	h.Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	n := 0
	err := s.cfg.Store.CaptureChunks(r.Context(), id, func(lines []capture.Line) error {
		s.extendWrite(rc) // as in writeEvents: a deadline per chunk
		for _, l := range lines {
			if _, err := w.Write(append(l.Marshal(), '\n')); err != nil {
				return err
			}
			n++
		}
		return flush(rc)
	})
	if err != nil && r.Context().Err() == nil {
		s.log.Warn("capture export ended early", "session", id, "err", err, "lines", n)
	}
	if n == 0 && err == nil && !s.cfg.Store.Recording() {
		// An empty body is a valid capture; the header says why it is empty.
		h.Set("X-Capture-Note", "the server runs without --record")
	}
}

package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// The original server's routes. Bodies keep its keys (and add some); see the seed-node README.

type legacyStatus struct {
	Success           bool             `json:"success"`
	Username          string           `json:"username"`
	State             string           `json:"state"`           // the original's words: connecting, retrying, connected
	SupervisorState   string           `json:"supervisorState"` // ours, finer
	Connected         bool             `json:"connected"`
	RoomID            *string          `json:"roomId"`
	ConnectedAt       jsTime           `json:"connectedAt"`
	Attempts          int              `json:"attempts"`
	NextRetryAt       jsTime           `json:"nextRetryAt"`
	LastError         *errorInfo       `json:"lastError"`
	EventCounts       map[string]int64 `json:"eventCounts"`
	DuplicatesDropped int64            `json:"duplicatesDropped"`
	AlreadyConnected  bool             `json:"alreadyConnected,omitempty"`
}

// legacyState maps our states to the original's vocabulary.
func legacyState(s room.State) string {
	switch s {
	case room.StateConnected:
		return "connected"
	case room.StateConnecting:
		return "connecting"
	case room.StateStopped:
		return "closed"
	}
	return "retrying"
}

func toLegacy(st room.Status) legacyStatus {
	counts := st.Stream.EventCounts
	if counts == nil {
		counts = map[string]int64{}
	}
	return legacyStatus{
		Success: true, Username: st.Username, State: legacyState(st.State), SupervisorState: string(st.State),
		Connected: st.State == room.StateConnected, RoomID: nullString(st.RoomID), ConnectedAt: jsTime(st.ConnectedAt),
		Attempts: st.Attempts, NextRetryAt: jsTime(st.NextRetryAt), LastError: lastError(st),
		EventCounts: counts, DuplicatesDropped: st.Stream.Counters.DuplicatesDropped,
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.cfg.Rooms.Current()
	body := struct {
		Status        string  `json:"status"`
		CurrentUser   *string `json:"currentUser"`
		State         string  `json:"state"`
		Connected     bool    `json:"connected"`
		WSClients     int     `json:"wsClients"`
		SSEClients    int     `json:"sseClients"`
		Rooms         int     `json:"rooms"`
		Version       string  `json:"version"`
		UptimeSeconds int64   `json:"uptimeSeconds"`
		Timestamp     jsTime  `json:"timestamp"`
	}{
		Status: "ok", State: "idle", Version: s.cfg.Version,
		WSClients:     s.cfg.Hub.Count(transportLegacy) + s.cfg.Hub.Count(transportWS),
		SSEClients:    s.cfg.Hub.Count(transportSSE),
		UptimeSeconds: int64(time.Since(s.started).Round(time.Second) / time.Second),
		Timestamp:     jsTime(time.Now()),
	}
	if ok {
		body.CurrentUser, body.State, body.Connected = &cur.Username, legacyState(cur.State), cur.State == room.StateConnected
	}
	for _, st := range s.cfg.Rooms.List() {
		if st.State != room.StateStopped {
			body.Rooms++
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// testUser resolves the room id and live status; it opens no socket and spends no sign quota.
func (s *Server) testUser(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ConnectWait)
	defer cancel()
	info, err := s.cfg.Resolver.Resolve(ctx, name)
	body := struct {
		Success    bool    `json:"success"`
		Username   string  `json:"username"`
		RoomID     string  `json:"roomId"`
		IsLive     *bool   `json:"isLive"`
		Status     int     `json:"status,omitempty"`
		Title      string  `json:"title,omitempty"`
		Restricted bool    `json:"ageRestricted,omitempty"`
		Source     *string `json:"source,omitempty"`
	}{Success: true, Username: name, RoomID: info.RoomID, Status: info.Status, Title: info.Title, Source: nullString(info.Source)}
	live := info.Live
	switch {
	case err == nil:
		body.IsLive = &live
	case errors.Is(err, webcast.ErrOffline) && info.RoomID != "":
		live = false
		body.IsLive = &live
	case errors.Is(err, webcast.ErrAgeRestricted) && info.RoomID != "":
		body.IsLive, body.Restricted = &live, true
	case errors.Is(err, webcast.ErrUserNotFound), errors.Is(err, webcast.ErrOffline):
		writeUserError(w, http.StatusNotFound, "room_not_found", "room id not found: "+err.Error(), name)
		return
	default:
		writeUserError(w, http.StatusBadGateway, "upstream_error", err.Error(), name)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// connect is the original's POST /connect: start the room (replacing the current one in single-user
// mode) and answer with the first outcome.
func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	if s.cfg.Rooms.Running(name) {
		if st, ok := s.cfg.Rooms.Status(name); ok && st.State != room.StateStopped {
			body := toLegacy(st)
			body.AlreadyConnected = true
			writeJSON(w, http.StatusOK, body)
			return
		}
	}
	if _, _, err := s.cfg.Rooms.Start(name, room.StartOptions{GiveUpOffline: true}); err != nil {
		s.startError(w, name, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ConnectWait)
	defer cancel()
	st, err := s.cfg.Rooms.Settled(ctx, name)
	if errors.Is(err, room.ErrNotFound) {
		writeUserError(w, http.StatusConflict, "cancelled", "connection was closed while connecting", name)
		return
	}
	switch st.State {
	case room.StateConnected:
		writeJSON(w, http.StatusOK, toLegacy(st))
	case room.StateConnecting, room.StateReconnecting, room.StateRateLimited:
		writeJSON(w, http.StatusAccepted, toLegacy(st)) // a retry is scheduled
	case room.StateWaitingForLive:
		// Only after a stream end in a room started by PUT /v1/rooms: it waits for the host.
		writeJSON(w, http.StatusAccepted, toLegacy(st))
	default: // stopped
		switch {
		case st.StopReason == room.ReasonRequested || st.StopReason == room.ReasonReplaced || st.StopReason == room.ReasonShutdown:
			writeUserError(w, http.StatusConflict, "cancelled", "connection was closed while connecting", name)
		case st.LastError != nil && st.LastError.Code == "user_offline":
			writeUserError(w, http.StatusNotFound, "user_offline", st.LastError.Message, name)
		case st.LastError != nil && st.LastError.Code == "room_not_found":
			writeUserError(w, http.StatusNotFound, "room_not_found", "room id not found: "+st.LastError.Message, name)
		default:
			code := "connect_failed"
			if st.LastError != nil && st.LastError.Code != "" {
				code = st.LastError.Code
			}
			writeUserError(w, http.StatusBadGateway, code, messageOf(st, "connect failed"), name)
		}
	}
}

func messageOf(st room.Status, def string) string {
	if st.LastError != nil && st.LastError.Message != "" {
		return st.LastError.Message
	}
	return def
}

func (s *Server) startError(w http.ResponseWriter, name string, err error) {
	switch {
	case errors.Is(err, room.ErrRoomLimit):
		writeUserError(w, http.StatusConflict, "room_limit", err.Error(), name)
	case errors.Is(err, room.ErrShuttingDown):
		writeUserError(w, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down", name)
	default:
		writeUserError(w, http.StatusInternalServerError, "internal", err.Error(), name)
	}
}

func (s *Server) notCurrent(w http.ResponseWriter, name string) {
	writeUserError(w, http.StatusNotFound, "not_current_user", name+" is not the current user", name)
}

func (s *Server) disconnect(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	if !s.cfg.Rooms.Running(name) {
		s.cfg.Rooms.Unwatch(name) // the original's answer; but a disconnect means: do not resume it
		s.notCurrent(w, name)
		return
	}
	if _, err := s.cfg.Rooms.Stop(name, room.ReasonRequested); err != nil {
		s.notCurrent(w, name)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Success  bool   `json:"success"`
		Username string `json:"username"`
		State    string `json:"state"`
	}{true, name, "closed"})
}

func (s *Server) userStatus(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	st, ok := s.cfg.Rooms.Status(name)
	if !ok || st.State == room.StateStopped {
		s.notCurrent(w, name)
		return
	}
	writeJSON(w, http.StatusOK, toLegacy(st))
}

func (s *Server) currentStatus(w http.ResponseWriter, r *http.Request) {
	st, ok := s.cfg.Rooms.Current()
	if !ok {
		writeJSON(w, http.StatusOK, struct {
			Success   bool    `json:"success"`
			Username  *string `json:"username"`
			State     string  `json:"state"`
			Connected bool    `json:"connected"`
		}{true, nil, "idle", false})
		return
	}
	writeJSON(w, http.StatusOK, toLegacy(st))
}

func (s *Server) shutdown(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}{true, "shutting down"})
	s.triggerShutdown()
}

// root is the original's WebSocket endpoint; a plain browser visit gets a small index page.
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		// The original's stream takes no parameters: every event (a room token's room's only).
		if req, ok := streamRequest(w, r, nil, ""); ok {
			s.feed.WebSocket(w, r, transportLegacy, req)
		}
		return
	}
	if s.cfg.Web != nil {
		s.cfg.Web.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(indexPage))
}

const indexPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tiktok-live-server</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 2em auto">
<h1>tiktok-live-server</h1>
<p>The server is running. Events stream over WebSocket at <code>ws://HOST/</code> (every room) and
<code>/v1/ws</code>, and as Server-Sent Events at <a href="/v1/events">/v1/events</a>.</p>
<ul>
<li><a href="/v1/rooms">/v1/rooms</a>: monitored rooms</li>
<li><a href="/health">/health</a>: server status</li>
<li><a href="/openapi.json">/openapi.json</a>: every route</li>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
</ul>
</body></html>
`

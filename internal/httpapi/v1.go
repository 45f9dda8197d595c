package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
	"github.com/tiktok-live-server/tiktok-live-server/internal/stream"
)

// roomStatus is the /v1 view of a room.
type roomStatus struct {
	Username       string           `json:"username"`
	State          room.State       `json:"state"`
	RoomID         *string          `json:"roomId"`
	Epoch          string           `json:"epoch"`
	Seq            uint64           `json:"seq"`
	ConnectedSince jsTime           `json:"connectedSince"`
	LastEventAt    jsTime           `json:"lastEventAt"`
	Reconnects     int              `json:"reconnects"`
	Attempt        int              `json:"attempt"`
	Attempts       int              `json:"attempts"`
	NextRetryAt    jsTime           `json:"nextRetryAt"`
	LastError      *errorInfo       `json:"lastError"`
	StopReason     string           `json:"stopReason,omitempty"`
	Priority       int              `json:"priority"`
	Proxy          string           `json:"proxy,omitempty"`
	Upstream       string           `json:"upstream,omitempty"`
	OfflineSince   jsTime           `json:"offlineSince"`
	NextCheckAt    jsTime           `json:"nextCheckAt"`
	LastLiveAt     jsTime           `json:"lastLiveAt"`
	SignQuota      signQuota        `json:"signQuota"`
	Counters       stream.Counters  `json:"counters"`
	EventCounts    map[string]int64 `json:"eventCounts"`
	Node           string           `json:"node,omitempty"` // cluster mode: the node that owns the room
}

type signQuota struct {
	Remaining float64 `json:"remaining"` // whole sign calls available now; -1 = unlimited
	PerMinute int     `json:"perMinute"` // 0 = unlimited
}

func (s *Server) toRoomStatus(st room.Status) roomStatus {
	counts := st.Stream.EventCounts
	if counts == nil {
		counts = map[string]int64{}
	}
	q := s.cfg.Rooms.Quota()
	return roomStatus{
		Username: st.Username, State: st.State, RoomID: nullString(st.RoomID), Epoch: st.Stream.Epoch, Seq: st.Stream.Seq,
		ConnectedSince: jsTime(st.ConnectedSince), LastEventAt: jsTime(st.Stream.LastEventAt), Reconnects: st.Reconnects,
		Attempt: st.Attempt, Attempts: st.Attempts, NextRetryAt: jsTime(st.NextRetryAt), LastError: lastError(st),
		StopReason: st.StopReason, Priority: st.Options.Priority, Proxy: redactProxy(st.Options.Proxy), Upstream: st.Options.Upstream,
		OfflineSince: jsTime(st.OfflineSince), NextCheckAt: jsTime(st.NextCheckAt), LastLiveAt: jsTime(st.LastLiveAt),
		SignQuota: signQuota{Remaining: q.Remaining(), PerMinute: q.PerMinute()},
		Counters:  st.Stream.Counters, EventCounts: counts, Node: st.Owner,
	}
}

// roomStates are the states ?state= takes: the status's own words, and live and offline, which
// name the two a watch list is about.
var roomStates = map[string][]room.State{
	string(room.StateConnecting): {room.StateConnecting}, string(room.StateConnected): {room.StateConnected},
	string(room.StateReconnecting): {room.StateReconnecting}, string(room.StateWaitingForLive): {room.StateWaitingForLive},
	string(room.StateRateLimited): {room.StateRateLimited}, string(room.StateStopped): {room.StateStopped},
	"live": {room.StateConnected}, "offline": {room.StateWaitingForLive},
}

// parseStates reads ?state= (repeated or comma separated); nil = every state.
func parseStates(r *http.Request) ([]room.State, error) {
	var out []room.State
	for _, v := range r.URL.Query()["state"] {
		for item := range strings.SplitSeq(v, ",") {
			if item == "" {
				continue
			}
			states, ok := roomStates[item]
			if !ok {
				return nil, fmt.Errorf("state %q: want connecting, connected, reconnecting, waiting_for_live, rate_limited, stopped, live (connected) or offline (waiting_for_live)", clip(item))
			}
			out = append(out, states...)
		}
	}
	return out, nil
}

func (s *Server) listRooms(w http.ResponseWriter, r *http.Request) {
	states, err := parseStates(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_state", err.Error())
		return
	}
	list := s.cfg.Rooms.List()
	out := make([]roomStatus, 0, len(list))
	for _, st := range list {
		if states == nil || slices.Contains(states, st.State) {
			out = append(out, s.toRoomStatus(st))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": out})
}

// roomOptions is the body PUT /v1/rooms/{username} takes (optional): the room's options, kept in
// the watch list. proxy and upstream are stored and returned as given, checked only for being
// strings: what they select is not built yet.
type roomOptions struct {
	Priority *int    `json:"priority"`
	Proxy    *string `json:"proxy"`
	Upstream *string `json:"upstream"`
}

// Bounds of the room options.
const (
	maxPriority    = 1000
	maxOptionBytes = 2048
)

// parseRoomOptions reads a PUT body; an empty one gives nil (keep the room's options).
func parseRoomOptions(b []byte) (*room.WatchOptions, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	var in roomOptions
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("the body must be a JSON object like {\"priority\":10,\"proxy\":\"...\",\"upstream\":\"...\"}: %v", err)
	}
	if rest := bytes.TrimSpace(b[dec.InputOffset():]); len(rest) > 0 {
		return nil, errors.New("the body must be one JSON object, with nothing after it")
	}
	var out room.WatchOptions
	if in.Priority != nil {
		if *in.Priority < -maxPriority || *in.Priority > maxPriority {
			return nil, fmt.Errorf("priority must be an integer from %d to %d", -maxPriority, maxPriority)
		}
		out.Priority = *in.Priority
	}
	if in.Proxy != nil {
		out.Proxy = *in.Proxy
	}
	if in.Upstream != nil {
		out.Upstream = *in.Upstream
	}
	if len(out.Proxy) > maxOptionBytes || len(out.Upstream) > maxOptionBytes {
		return nil, fmt.Errorf("proxy and upstream are at most %d bytes", maxOptionBytes)
	}
	return &out, nil
}

// putRoom is the idempotent connect: 201 when the room starts now, 200 when it already runs. It
// answers at once; the state says how far the supervisor is. A body sets the room's options (a
// running room's too); without one a room keeps those it has.
func (s *Server) putRoom(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	b, ok := requestBody(w, r)
	if !ok {
		return
	}
	opts, err := parseRoomOptions(b)
	if err != nil {
		writeUserError(w, http.StatusBadRequest, "bad_body", err.Error(), name)
		return
	}
	st, created, err := s.cfg.Rooms.Start(name, room.StartOptions{Watch: opts})
	if err != nil {
		s.startError(w, name, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/v1/rooms/"+name)
	writeJSON(w, status, s.toRoomStatus(st))
}

func (s *Server) getRoom(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	st, ok := s.cfg.Rooms.Status(name)
	if !ok {
		writeUserError(w, http.StatusNotFound, "not_found", name+" is not monitored; PUT /v1/rooms/"+name+" starts it", name)
		return
	}
	writeJSON(w, http.StatusOK, s.toRoomStatus(st))
}

func (s *Server) deleteRoom(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	st, err := s.cfg.Rooms.Stop(name, room.ReasonRequested)
	if err != nil {
		writeUserError(w, http.StatusNotFound, "not_found", name+" is not monitored", name)
		return
	}
	writeJSON(w, http.StatusOK, s.toRoomStatus(st))
}

// redactProxy hides a proxy URL's credentials (user and password alike: providers put tokens in
// either) so that status, readable by overlays and read tokens, never shows them.
func redactProxy(p string) string {
	at := strings.LastIndex(p, "@")
	if at < 0 {
		return p
	}
	if u, err := url.Parse(p); err == nil && u.User != nil && u.Host != "" {
		u.User = url.User("redacted")
		return u.String()
	}
	scheme := ""
	if i := strings.Index(p, "://"); i >= 0 && i < at {
		scheme = p[:i+3]
	}
	return scheme + "redacted@" + p[at+1:]
}

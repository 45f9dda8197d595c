package httpapi

import (
	"net/http"

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
	SignQuota      signQuota        `json:"signQuota"`
	Counters       stream.Counters  `json:"counters"`
	EventCounts    map[string]int64 `json:"eventCounts"`
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
		StopReason: st.StopReason, SignQuota: signQuota{Remaining: q.Remaining(), PerMinute: q.PerMinute()},
		Counters: st.Stream.Counters, EventCounts: counts,
	}
}

func (s *Server) listRooms(w http.ResponseWriter, r *http.Request) {
	list := s.cfg.Rooms.List()
	out := make([]roomStatus, 0, len(list))
	for _, st := range list {
		out = append(out, s.toRoomStatus(st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": out})
}

// putRoom is the idempotent connect: 201 when the room starts now, 200 when it already runs. It
// answers at once; the state says how far the supervisor is.
func (s *Server) putRoom(w http.ResponseWriter, r *http.Request) {
	name, ok := username(w, r)
	if !ok {
		return
	}
	st, created, err := s.cfg.Rooms.Start(name, room.StartOptions{})
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

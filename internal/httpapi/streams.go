package httpapi

import (
	"net/http"
	"net/url"

	"github.com/tiktok-live-server/tiktok-live-server/internal/feed"
	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
)

// Transports, as the hub counts them.
const (
	transportLegacy = "ws-legacy" // WebSocket at /: the original server's
	transportWS     = "ws"        // /v1/ws
	transportSSE    = "sse"       // /v1/events
)

func (s *Server) v1WebSocket(w http.ResponseWriter, r *http.Request) {
	if req, ok := streamRequest(w, r, r.URL.Query(), ""); ok {
		s.feed.WebSocket(w, r, transportWS, req)
	}
}

// sse streams events as Server-Sent Events; a browser that reconnects resumes with the
// Last-Event-ID it sends back.
func (s *Server) sse(w http.ResponseWriter, r *http.Request) {
	if req, ok := streamRequest(w, r, r.URL.Query(), r.Header.Get("Last-Event-ID")); ok {
		s.feed.SSE(w, r, transportSSE, req)
	}
}

// streamRequest reads what a stream client asks for (the filter of q, where it resumes) and
// narrows it to what the request's grant may read, or answers why not (ok false).
func streamRequest(w http.ResponseWriter, r *http.Request, q url.Values, lastEventID string) (_ feed.Request, ok bool) {
	f, err := hub.ParseFilter(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_filter", err.Error())
		return feed.Request{}, false
	}
	if f.Rooms, err = scopeRooms(r, f.Rooms); err != nil {
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
		return feed.Request{}, false
	}
	points, err := feed.ParseResume(q, lastEventID, f)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_resume", err.Error())
		return feed.Request{}, false
	}
	return feed.Request{Filter: f, Resume: points}, true
}

// admitStream lets a stream client in, or answers 503 while shutting down (or when its address has
// no free slot, 503/429). release frees the slot and tells WaitStreams the handler has finished.
func (s *Server) admitStream(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if s.shuttingDown.Load() {
		writeError(w, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
		return nil, false
	}
	free, ok := s.acquireStream(w, r)
	if !ok {
		return nil, false
	}
	s.streams.Add(1)
	return func() { free(); s.streams.Done() }, true
}

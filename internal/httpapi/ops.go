package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
)

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	var st *store.Stats
	if s.cfg.Store != nil {
		x := s.cfg.Store.Stats()
		st = &x
	}
	writeJSON(w, http.StatusOK, struct {
		Status  string       `json:"status"`
		Version string       `json:"version"`
		Store   *store.Stats `json:"store"`
	}{"ok", s.cfg.Version, st})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.shuttingDown.Load() {
		writeError(w, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
		return
	}
	if s.cfg.Cluster != nil {
		if ok, why := s.cfg.Cluster.Ready(); !ok {
			writeError(w, http.StatusServiceUnavailable, "not_ready", why)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) needCluster(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Cluster == nil {
			writeError(w, http.StatusServiceUnavailable, "not_clustered", "this server is a single node (hint: start it with --nats-url or --nats-embedded)")
			return
		}
		h(w, r)
	}
}

func (s *Server) clusterInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Cluster.Info(r.Context()))
}

func (s *Server) clusterDrain(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Cluster.Drain(r.Context()); err != nil {
		writeError(w, http.StatusInternalServerError, "drain_failed", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"draining": true})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiDoc)
}

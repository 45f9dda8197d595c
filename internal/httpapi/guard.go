package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/auth"
)

// Security is the server's access control and limits. The zero value is the original server's
// behaviour: everything open to whoever can reach the port, no limits beyond the defaults here.
type Security struct {
	// Policy decides who may do what. Nil: everything is open (admin included).
	Policy *auth.Policy
	// AllowedOrigins are the browser origins, besides the server's own, that may open streams,
	// call the API with CORS and send mutating requests: exact origins, "scheme://host:*", "null"
	// (file: pages and sandboxed frames) or "*". Requests without an Origin (non-browsers) pass.
	AllowedOrigins []string
	// TrustProxy takes the client's address from X-Forwarded-For when the peer is a private or
	// loopback address (a reverse proxy in front).
	TrustProxy bool
	// RatePerSec and RateBurst limit requests per client address (IPv6 by /64); 0 = no limit.
	// Loopback clients are not limited: they are this machine (OBS, tools, tests).
	RatePerSec float64
	RateBurst  int
	// MaxStreams bounds WebSocket and SSE clients in all, MaxStreamsPerIP per client address
	// (loopback exempt); 0 = no bound.
	MaxStreams, MaxStreamsPerIP int
	// MaxBodyBytes bounds a request body; 0 = DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Exposed says the server listens beyond loopback on purpose. Otherwise, while anyone may
	// change things (no admin token), only requests naming this machine (localhost, 127.0.0.0/8,
	// [::1]) or an allowed origin's host in Host are answered: a web page whose name is re-pointed
	// at 127.0.0.1 (DNS rebinding) is its own "same origin" and must not drive the server.
	Exposed bool
}

// Defaults of the limits.
const (
	DefaultMaxBodyBytes = 64 << 10
	maxLimiterKeys      = 100_000 // client addresses the rate limiter remembers
)

// DefaultAllowedOrigins are the browser origins allowed besides the server's own: local pages
// (another port on this machine, file: pages). Drive-by websites are refused.
var DefaultAllowedOrigins = []string{"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*", "null"}

// access is what a route needs.
type access int

const (
	accessPublic access = iota // static pages, liveness, the API description
	accessRead                 // room data: status, streams, history (a scoped token: its room only)
	accessAdmin                // anything that changes state
)

type grantKey struct{}

// grantOf is what the request's token was found to grant (set by guard).
func grantOf(r *http.Request) auth.Grant {
	if g, ok := r.Context().Value(grantKey{}).(auth.Grant); ok {
		return g
	}
	return auth.Grant{Level: auth.LevelAdmin}
}

// routeAccess classifies a route.
func routeAccess(method, pattern string) access {
	switch {
	case pattern == "/healthz" || pattern == "/readyz" || pattern == "/openapi.json":
		return accessPublic
	case method == http.MethodGet || method == http.MethodHead:
		return accessRead // for "/", the WebSocket; guard lets the dashboard page itself through
	}
	return accessAdmin
}

func isLoopback(ip string) bool {
	a := net.ParseIP(ip)
	return a != nil && a.IsLoopback()
}

// originOK applies the allow-list to a browser request (one with an Origin header).
func (s *Server) originOK(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	for _, a := range s.origins {
		if a == "null" && o == "null" {
			return true
		}
	}
	return auth.OriginAllowed(o, s.origins, r.Host)
}

// cors answers preflights and marks answers to allowed cross-origin browsers.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) (done bool) {
	o := r.Header.Get("Origin")
	if o == "" || !s.originOK(r) {
		if r.Method == http.MethodOptions && o != "" {
			writeError(w, http.StatusForbidden, "origin_not_allowed", "this origin may not call the API; add it with --allowed-origins")
			return true
		}
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", o)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "X-Next-Cursor, Link, Retry-After")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, X-Api-Key, Content-Type, Last-Event-ID")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// guard applies the limits and the access rules of one route before its handler.
func (s *Server) guard(a access, pattern string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sec := &s.cfg.Security
		ip := auth.ClientIP(r, sec.TrustProxy)
		if s.limiter != nil && !isLoopback(ip) {
			if ok, after := s.limiter.Allow(auth.LimitKey(ip), time.Now()); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int(after.Round(time.Second)/time.Second))))
				writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests from this address; retry after the Retry-After header's seconds")
				return
			}
		}
		if !sec.Exposed && (sec.Policy == nil || sec.Policy.AdminToken == "") && !s.hostAllowed(r.Host) {
			writeError(w, http.StatusForbidden, "host_not_allowed",
				"this server answers only to localhost names (DNS rebinding protection); use http://127.0.0.1:PORT, or list the origin with --allowed-origins")
			return
		}
		if r.ContentLength > s.maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "the body is over "+strconv.FormatInt(s.maxBody, 10)+" bytes")
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		}
		// A browser on another site may not change anything here (CSRF), nor open a stream.
		if (a == accessAdmin || isUpgrade(r) || pattern == "/v1/events") && !s.originOK(r) {
			writeError(w, http.StatusForbidden, "origin_not_allowed", "requests from this origin are refused; add it with --allowed-origins")
			return
		}
		if pattern == "/" && !isUpgrade(r) {
			a = accessPublic // the dashboard page: static, its data comes through the guarded API
		}
		if a == accessPublic || sec.Policy == nil {
			h(w, r)
			return
		}
		tok := auth.FromRequest(r)
		g := sec.Policy.Access(tok, time.Now())
		if g.Rejected != "" {
			// Even where the route is open: a client configured with a stale token must hear it.
			w.Header().Set("WWW-Authenticate", `Bearer realm="tiktok-live-server", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid_token", "the token was not accepted: "+g.Rejected+
				"; send a valid token (or none where reads are open)")
			return
		}
		if a == accessAdmin && (sec.Policy.Admin(tok) || pattern == "/v1/rooms/{username}/simulate" && s.cfg.Demo) {
			// The admin routes may be open (no admin token on loopback), and the demo's simulator
			// needs no token; reads still follow the read token.
			h(w, r.WithContext(context.WithValue(r.Context(), grantKey{}, auth.Grant{Level: auth.LevelAdmin})))
			return
		}
		switch {
		case g.Level == auth.LevelNone, a == accessAdmin && tok == "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="tiktok-live-server"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a token is required: send Authorization: Bearer <token> (or X-Api-Key, or token= for browsers)")
			return
		case a == accessAdmin:
			writeError(w, http.StatusForbidden, "forbidden", "this needs the admin token")
			return
		}
		if name := r.PathValue("username"); name != "" && g.Level == auth.LevelRoom {
			if key, err := parseUsername(name); err == nil && !g.CanRead(key) {
				writeError(w, http.StatusForbidden, "forbidden", "this token is for another room")
				return
			}
		}
		if g.Level == auth.LevelRoom && (pattern == "/v1/rooms" || pattern == "/status" || pattern == "/metrics" || pattern == "/health") {
			writeError(w, http.StatusForbidden, "forbidden", "a room token reads its own room only; this route covers every room")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), grantKey{}, g)))
	}
}

// hostAllowed reports whether a Host header names this machine or an allowed origin's host.
func (s *Server) hostAllowed(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.ToLower(strings.Trim(h, "[]"))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || isLoopback(h) {
		return true
	}
	for _, o := range s.origins {
		if o == "*" {
			return true
		}
		if _, rest, ok := strings.Cut(o, "://"); ok {
			oh := rest
			if x, _, err := net.SplitHostPort(strings.TrimSuffix(rest, ":*")); err == nil {
				oh = x
			} else {
				oh = strings.TrimSuffix(rest, ":*")
			}
			if strings.EqualFold(strings.Trim(oh, "[]/"), h) {
				return true
			}
		}
	}
	return false
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// scopeFilterRooms restricts a stream to what the request's grant may read: a room token's own
// room when no room is named; an error when another room is named.
func scopeRooms(r *http.Request, rooms map[string]bool) (map[string]bool, error) {
	g := grantOf(r)
	if g.Level != auth.LevelRoom {
		return rooms, nil
	}
	if len(rooms) == 0 {
		return map[string]bool{g.Room: true}, nil
	}
	for room := range rooms {
		if !g.CanRead(room) {
			return nil, errForbiddenRoom
		}
	}
	return rooms, nil
}

var errForbiddenRoom = errors.New("this token is for another room")

// acquireStream takes a stream slot for the client's address, or answers 503/429.
func (s *Server) acquireStream(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if s.conns == nil {
		return func() {}, true
	}
	ip := auth.ClientIP(r, s.cfg.Security.TrustProxy)
	key := auth.LimitKey(ip)
	if isLoopback(ip) {
		key = "" // loopback clients share only the total bound
	}
	release, err := s.conns.Acquire(key)
	switch {
	case errors.Is(err, auth.ErrTooManyTotal):
		writeError(w, http.StatusServiceUnavailable, "too_many_clients", "the server has as many stream clients as --max-clients allows; try again later")
		return nil, false
	case errors.Is(err, auth.ErrTooManyPerKey):
		writeError(w, http.StatusTooManyRequests, "too_many_clients", "this address has as many stream clients as --max-clients-per-ip allows")
		return nil, false
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "too_many_clients", "no stream slot available")
		return nil, false
	}
	return release, true
}

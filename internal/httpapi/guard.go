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

// access is what a route needs. Every route declares it where it is registered (public, read,
// admin); the zero value is a route that declared nothing, which the guard refuses.
type access int

const (
	accessUndeclared access = iota // registered without an access level: refused
	accessPublic                   // static pages, liveness, the API description
	accessRead                     // room data: status, streams, history (a scoped token: its room only)
	accessAdmin                    // anything that changes state
)

// routeFlag refines a route's declared access.
type routeFlag uint8

const (
	// everyRoom: the route covers every room, so a room token is refused.
	everyRoom routeFlag = 1 << iota
	// pageUnlessUpgrade: without a WebSocket upgrade the route is the dashboard page, public (its
	// data comes through the guarded API); the upgrade keeps the declared access.
	pageUnlessUpgrade
	// sameOriginStream: a stream other sites' browsers may not open, as they may not change
	// anything (SSE; a WebSocket upgrade is checked so on every route).
	sameOriginStream
	// openInDemo: on a --demo server the route needs no admin token (the simulator).
	openInDemo
)

// public, read and admin declare a route: "METHOD /pattern" (net/http syntax), its handler and
// what refines its access.
func public(route string, h http.HandlerFunc, flags ...routeFlag) Route {
	return declare(accessPublic, route, h, flags)
}

func read(route string, h http.HandlerFunc, flags ...routeFlag) Route {
	return declare(accessRead, route, h, flags)
}

func admin(route string, h http.HandlerFunc, flags ...routeFlag) Route {
	return declare(accessAdmin, route, h, flags)
}

func declare(a access, route string, h http.HandlerFunc, flags []routeFlag) Route {
	method, pattern, ok := strings.Cut(route, " ")
	if !ok || method == "" || !strings.HasPrefix(pattern, "/") {
		panic("httpapi: route " + strconv.Quote(route) + ` is not "METHOD /pattern"`)
	}
	rt := Route{Method: method, Pattern: pattern, access: a, handler: h}
	for _, f := range flags {
		rt.flags |= f
	}
	return rt
}

func (rt Route) has(f routeFlag) bool { return rt.flags&f != 0 }

type grantKey struct{}

// grantOf is what the request's token was found to grant (set by guard).
func grantOf(r *http.Request) auth.Grant {
	if g, ok := r.Context().Value(grantKey{}).(auth.Grant); ok {
		return g
	}
	return auth.Grant{Level: auth.LevelAdmin}
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
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, X-Api-Key, Content-Type, Last-Event-ID")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// guard applies the limits and the access rules of one route before its handler.
func (s *Server) guard(rt Route) http.HandlerFunc {
	h := rt.handler
	return func(w http.ResponseWriter, r *http.Request) {
		if rt.access == accessUndeclared {
			writeError(w, http.StatusInternalServerError, "access_undeclared",
				rt.Method+" "+rt.Pattern+" declares no access level, so it answers nothing (a bug in the server)")
			return
		}
		// A copy per request: lowering it for the dashboard page must not open the WebSocket on the
		// same route to the requests after it.
		a := rt.access
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
		if (a == accessAdmin || isUpgrade(r) || rt.has(sameOriginStream)) && !s.originOK(r) {
			writeError(w, http.StatusForbidden, "origin_not_allowed", "requests from this origin are refused; add it with --allowed-origins")
			return
		}
		if rt.has(pageUnlessUpgrade) && !isUpgrade(r) {
			a = accessPublic
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
		if a == accessAdmin && (sec.Policy.Admin(tok) || rt.has(openInDemo) && s.cfg.Demo) {
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
		if g.Level == auth.LevelRoom && rt.has(everyRoom) {
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

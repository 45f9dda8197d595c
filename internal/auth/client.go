package auth

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// ClientIP returns the address of the client a request comes from, for rate limits and caps.
//
// Without trustProxy it is the host of r.RemoteAddr: the peer of the TCP connection, which a
// client cannot forge. With trustProxy (the server is reachable only through a reverse proxy) it
// walks X-Forwarded-For from the right, the end the proxies appended to, skipping addresses of
// proxies (loopback, private and link-local ones, starting with the peer itself), and returns the
// first public address: entries to its left were written by the client and may be forged. When
// every entry is a proxy-range address (a LAN client), it returns the left-most of them. A malformed
// entry stops the walk there. A peer outside those ranges is not a proxy we trust, so its
// X-Forwarded-For is ignored: run the proxy on the same host or network. The Forwarded header
// (RFC 7239) is not read.
func ClientIP(r *http.Request, trustProxy bool) string {
	peer := hostOf(r.RemoteAddr)
	if !trustProxy {
		return peer
	}
	pa, err := netip.ParseAddr(peer)
	if err != nil || !proxyRange(pa) {
		return peer // the peer is not a proxy: nothing it forwards can be trusted
	}
	best := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		parts := strings.Split(values[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(hostOf(strings.TrimSpace(parts[j])))
			if err != nil {
				return best
			}
			best = a.Unmap().String()
			if !proxyRange(a) {
				return best
			}
		}
	}
	return best
}

// hostOf strips a port and brackets: "1.2.3.4:80" and "[::1]:80" give the address alone.
func hostOf(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return s
}

// proxyRange: addresses a reverse proxy in front of us would have.
func proxyRange(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified()
}

// LimitKey is the key to rate-limit an address by: the address itself, except IPv6, which is cut
// to its /64 (one host usually owns a whole /64 and can hop within it at will).
func LimitKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Unmap().Is6() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// OriginAllowed decides whether a browser page from origin may open a stream (WebSocket, SSE) on a
// server reached as host (the request's Host header). In order:
//
//   - An empty Origin is allowed: only browsers send one, and other clients are not what the check
//     protects against (a hostile page using a visitor's browser).
//   - "*" in allow allows every origin.
//   - Same origin is allowed: the Origin's host[:port] equals host, both compared case-insensitively
//     with a default port (80, 443) dropped, so "https://x" matches Host "x" and "x:443".
//   - An entry "scheme://host[:port]" allows exactly that origin (case-insensitive, default ports
//     ignored, a trailing "/" tolerated).
//   - An entry "scheme://host:*" allows that scheme and host on any port, e.g. "http://localhost:*"
//     for overlay tools on a developer machine.
//
// Subdomain wildcards ("https://*.example.com") are not supported: list each origin. Anything that
// does not parse as an origin (including "null", sent by sandboxed frames and file: pages) is
// refused unless "*" is listed.
func OriginAllowed(origin string, allow []string, host string) bool {
	if origin == "" {
		return true
	}
	for _, a := range allow {
		if strings.TrimSpace(a) == "*" {
			return true
		}
	}
	o, ok := parseOrigin(origin)
	if !ok {
		return false
	}
	if host != "" && o.sameHost(host) {
		return true
	}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if anyPort, found := strings.CutSuffix(a, ":*"); found {
			p, ok := parseOrigin(anyPort)
			if ok && p.port == "" && p.scheme == o.scheme && p.host == o.host {
				return true
			}
			continue
		}
		if p, ok := parseOrigin(a); ok && p == o {
			return true
		}
	}
	return false
}

type originParts struct{ scheme, host, port string } // lower-case; port "" = the scheme's default

func (o originParts) hostPort() string {
	if o.port == "" {
		if strings.Contains(o.host, ":") {
			return "[" + o.host + "]" // IPv6, as a Host header writes it
		}
		return o.host
	}
	return net.JoinHostPort(o.host, o.port)
}

// parseOrigin reads "scheme://host[:port]" (a trailing "/" tolerated), nothing else: no user info,
// path, query or fragment.
func parseOrigin(s string) (originParts, bool) {
	s = strings.TrimSuffix(s, "/")
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" ||
		u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return originParts{}, false
	}
	o := originParts{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.host == "" || (strings.Contains(u.Host, ":") && o.port == "" && !strings.HasSuffix(u.Host, "]")) {
		return originParts{}, false // "http://host:" has an empty port
	}
	if !validHost(o.host, strings.HasPrefix(u.Host, "[")) {
		return originParts{}, false
	}
	if o.port == defaultPort(o.scheme) {
		o.port = ""
	}
	return o, true
}

// validHost accepts what a browser can put in an Origin: an IP literal (in brackets for IPv6) or
// a registered name of RFC 3986 characters. Anything else could not be the Host of a request,
// and letting it through would make same-origin checks compare garbage.
func validHost(h string, bracketed bool) bool {
	if bracketed {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is6()
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~%!$&'()*+,;=", c) >= 0) {
			return false
		}
	}
	return true
}

// defaultPort is the port a scheme implies when an origin or URL names none ("" for schemes
// without one).
func defaultPort(scheme string) string {
	switch scheme {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

// sameHost reports whether a Host header names the origin's host and port. The Host carries no
// scheme, so its port is compared under the origin's: "x:80" is "x" for http only, and for a
// scheme without a default port an explicit port must match as written.
func (o originParts) sameHost(host string) bool {
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h, p = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ""
	}
	if p == defaultPort(o.scheme) {
		p = ""
	}
	return strings.EqualFold(h, o.host) && p == o.port
}

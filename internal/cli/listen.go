package cli

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// listenAddr is a parsed --listen value: a host (empty: every address) and maybe a port.
type listenAddr struct {
	host    string // without brackets
	port    int
	hasPort bool
}

// parseListen reads an address the way both serve and fake-tiktok take it: "host", "host:port",
// "[v6]" or "[v6]:port", and a bare IPv6 address ("::1"), which has no room for a port.
func parseListen(s string) (listenAddr, error) {
	bad := func(why string) (listenAddr, error) {
		return listenAddr{}, fmt.Errorf("--listen %q: %s (give a host, host:port or [ipv6]:port, e.g. 127.0.0.1:3000)", s, why)
	}
	switch {
	case s == "":
		return listenAddr{}, nil
	case strings.Contains(s, "://"):
		return bad("an address, not a URL")
	case strings.ContainsAny(s, " \t/?#@"):
		return bad("not a host or host:port")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return listenAddr{host: a.String()}, nil // a bare IPv4 or IPv6 address
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		h := s[1 : len(s)-1]
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
			return bad("brackets hold an IPv6 address")
		}
		return listenAddr{host: h}, nil
	}
	if !strings.Contains(s, ":") {
		return listenAddr{host: s}, nil
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return bad("an IPv6 address with a port needs brackets, e.g. [::1]:3000")
	}
	if strings.HasPrefix(s, "[") {
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
			return bad("brackets hold an IPv6 address")
		}
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 || strings.HasPrefix(p, "+") {
		return bad("the port must be a number from 0 to 65535")
	}
	return listenAddr{host: h, port: port, hasPort: true}, nil
}

// String is the address to hand to net.Listen, with port when the value had none.
func (l listenAddr) join(port int) string {
	if l.hasPort {
		port = l.port
	}
	return net.JoinHostPort(l.host, strconv.Itoa(port))
}

// loopbackHost reports whether a listen host only accepts connections from this machine. The
// empty host (every address) is not loopback.
func loopbackHost(h string) bool {
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

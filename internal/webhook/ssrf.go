package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrForbiddenAddress is returned for an endpoint address the SSRF guard refuses.
var ErrForbiddenAddress = errors.New("webhook: forbidden address")

// Guard keeps webhook requests off the server's own network: loopback, private, link-local,
// CGNAT, cloud metadata and other non-public addresses. Its Control runs on the address actually
// dialled, after DNS, so a name that resolves (or re-resolves) to such an address cannot pass.
type Guard struct {
	// AllowPrivate lets every address through (--webhooks-allow-private): tests, and receivers on
	// the same box or LAN.
	AllowPrivate bool
}

// Ranges refused besides what netip classifies (loopback, private, link-local, multicast,
// unspecified).
var blockedPrefixes = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // includes 255.255.255.255
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Cloud metadata services, named for a clearer error (both are also in refused ranges).
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true,
	netip.MustParseAddr("fd00:ec2::254"):   true,
}

// CheckIP says why an address is refused, or nil.
func (g Guard) CheckIP(ip netip.Addr) error {
	if g.AllowPrivate {
		return nil
	}
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if ip.Is6() {
		// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address: judge that one.
		if b := ip.As16(); nat64.Contains(ip) {
			ip = netip.AddrFrom4([4]byte(b[12:16]))
		} else if sixToFour.Contains(ip) {
			ip = netip.AddrFrom4([4]byte(b[2:6]))
		}
	}
	why := ""
	switch {
	case !ip.IsValid():
		why = "invalid"
	case metadataAddrs[ip]:
		why = "cloud metadata"
	case ip.IsLoopback():
		why = "loopback"
	case ip.IsPrivate():
		why = "private"
	case ip.IsLinkLocalUnicast():
		why = "link-local"
	case ip.IsUnspecified():
		why = "unspecified"
	case ip.IsMulticast():
		why = "multicast"
	default:
		for _, b := range blockedPrefixes {
			if b.prefix.Contains(ip) {
				why = b.why
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, ip, why)
}

// Control is a net.Dialer Control: it refuses the connection before it is made when the address
// being dialled is not allowed. It sees the resolved IP, never a name.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrForbiddenAddress, address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address", ErrForbiddenAddress, host)
	}
	return g.CheckIP(ip)
}

// CheckURL validates an endpoint URL when it is created or changed: absolute http or https, a
// host, no user info (credentials in URLs end up in logs), and, when the host is an IP literal, an
// allowed one. Names are checked when dialled (Control), where the check cannot be raced.
func (g Guard) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook: url: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("webhook: url scheme %q: want http or https", u.Scheme)
	case u.User != nil:
		return nil, errors.New("webhook: url must not contain user info")
	case u.Hostname() == "":
		return nil, errors.New("webhook: url has no host")
	case u.Fragment != "":
		return nil, errors.New("webhook: url must not have a fragment")
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(strings.TrimSuffix(host, ".")); err == nil {
		if err := g.CheckIP(ip); err != nil {
			return nil, err
		}
	} else if !g.AllowPrivate && isLocalName(host) {
		return nil, fmt.Errorf("%w: %s is a local name", ErrForbiddenAddress, host)
	}
	return u, nil
}

// isLocalName catches the obvious names of this machine early, for a clear error at create time;
// Control would refuse them anyway when they resolve to loopback.
func isLocalName(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

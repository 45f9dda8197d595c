package auth

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xff    []string
		trust  bool
		want   string
	}{
		{"remote addr", "203.0.113.7:5123", nil, false, "203.0.113.7"},
		{"xff ignored without trust", "127.0.0.1:5123", []string{"198.51.100.1"}, false, "127.0.0.1"},
		{"ipv6 remote", "[2001:db8::1]:443", nil, false, "2001:db8::1"},
		{"mapped ipv4", "[::ffff:203.0.113.7]:1", nil, false, "203.0.113.7"},
		{"proxy on loopback", "127.0.0.1:1", []string{"198.51.100.1"}, true, "198.51.100.1"},
		{"spoofed left entry", "127.0.0.1:1", []string{"1.2.3.4, 198.51.100.1"}, true, "198.51.100.1"},
		{"chain of private proxies", "10.0.0.2:1", []string{"1.2.3.4, 198.51.100.1, 10.0.0.9, 127.0.0.1"}, true, "198.51.100.1"},
		{"several header lines", "127.0.0.1:1", []string{"1.2.3.4", "198.51.100.1"}, true, "198.51.100.1"},
		{"lan client", "127.0.0.1:1", []string{"192.168.1.5"}, true, "192.168.1.5"},
		{"entry with port", "127.0.0.1:1", []string{"198.51.100.1:4444"}, true, "198.51.100.1"},
		{"garbage stops the walk", "127.0.0.1:1", []string{"198.51.100.1, garbage"}, true, "127.0.0.1"},
		{"no header", "127.0.0.1:1", nil, true, "127.0.0.1"},
		{"public peer is no proxy", "203.0.113.7:1", []string{"198.51.100.1"}, true, "203.0.113.7"},
		{"remote without port", "203.0.113.7", nil, false, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, tt.trust); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLimitKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::ffff", "2001:db8:1:2::/64"},
		{"not an ip", "not an ip"},
	}
	for _, tt := range tests {
		if got := LimitKey(tt.in); got != tt.want {
			t.Errorf("LimitKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	overlay := []string{"https://overlay.example.com", "http://localhost:*"}
	tests := []struct {
		name   string
		origin string
		allow  []string
		host   string
		want   bool
	}{
		{"no origin", "", nil, "127.0.0.1:3000", true},
		{"same origin", "http://127.0.0.1:3000", nil, "127.0.0.1:3000", true},
		{"same origin, case", "http://MyHost:3000", nil, "myhost:3000", true},
		{"same host, other port", "http://127.0.0.1:8080", nil, "127.0.0.1:3000", false},
		{"same origin, default port", "https://example.com", nil, "example.com", true},
		{"same origin, explicit default port in Host", "https://example.com", nil, "example.com:443", true},
		{"same origin, ipv6", "http://[::1]:3000", nil, "[::1]:3000", true},
		{"same origin, ipv6 default port", "http://[::1]", nil, "[::1]", true},
		{"cross origin, nothing allowed", "https://evil.example", nil, "127.0.0.1:3000", false},
		{"exact entry", "https://overlay.example.com", overlay, "127.0.0.1:3000", true},
		{"exact entry, case and slash", "HTTPS://Overlay.Example.com/", overlay, "x", true},
		{"exact entry, default port", "https://overlay.example.com:443", overlay, "x", true},
		{"exact entry, other scheme", "http://overlay.example.com", overlay, "x", false},
		{"exact entry, other port", "https://overlay.example.com:8443", overlay, "x", false},
		{"subdomain is not the entry", "https://a.overlay.example.com", overlay, "x", false},
		{"suffix trick", "https://overlay.example.com.evil.io", overlay, "x", false},
		{"port wildcard", "http://localhost:5173", overlay, "x", true},
		{"port wildcard, no port", "http://localhost", overlay, "x", true},
		{"port wildcard, other scheme", "https://localhost:5173", overlay, "x", false},
		{"port wildcard, other host", "http://localhost.evil.io:5173", overlay, "x", false},
		{"star", "https://anything.example", []string{"*"}, "x", true},
		{"star allows null", "null", []string{"*"}, "x", true},
		{"null", "null", overlay, "null", false},
		{"path in origin", "https://overlay.example.com/x", overlay, "x", false},
		{"userinfo in origin", "https://a@overlay.example.com", overlay, "x", false},
		{"empty port", "http://localhost:", overlay, "localhost", false},
		{"no scheme", "overlay.example.com", overlay, "overlay.example.com", false},
		{"empty host header", "http://x", nil, "", false},
		// The Host's port is read under the origin's scheme (found by FuzzOriginAllowed).
		{"no default port for the scheme", "a://[::]:80", nil, "[::]:80", true},
		{"no default port, bare host", "a://[::]:80", nil, "[::]", false},
		{"https port on http", "http://x:443", nil, "x:443", true},
		{"https port on http, bare host", "http://x:443", nil, "x", false},
		{"http default port in Host for https", "https://x", nil, "x:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OriginAllowed(tt.origin, tt.allow, tt.host); got != tt.want {
				t.Errorf("OriginAllowed(%q, %q, %q) = %v, want %v", tt.origin, tt.allow, tt.host, got, tt.want)
			}
		})
	}
}

func FuzzOriginAllowed(f *testing.F) {
	f.Add("", "", "")
	f.Add("http://127.0.0.1:3000", "", "127.0.0.1:3000")
	f.Add("https://overlay.example.com", "https://overlay.example.com", "x")
	f.Add("http://localhost:5173", "http://localhost:*", "x")
	f.Add("null", "*", "")
	f.Add("http://[::1]:80", "http://[::1]", "[::1]")
	f.Add("http://a:b:c", "http://a:*", "a")
	f.Fuzz(func(t *testing.T, origin, entry, host string) {
		got := OriginAllowed(origin, []string{entry}, host)
		if origin == "" && !got {
			t.Fatal("an empty origin must be allowed")
		}
		if strings.TrimSpace(entry) == "*" && !got {
			t.Fatal("* must allow every origin")
		}
		// Nothing listed and no host: only the empty origin passes.
		if OriginAllowed(origin, nil, "") != (origin == "") {
			t.Fatalf("OriginAllowed(%q, nil, \"\") allowed a non-empty origin", origin)
		}
		// An origin that passes as an exact entry passes as same-origin for its own host[:port].
		if o, ok := parseOrigin(origin); ok && !OriginAllowed(origin, nil, o.hostPort()) {
			t.Fatalf("%q refused as same-origin for Host %q", origin, o.hostPort())
		}
	})
}

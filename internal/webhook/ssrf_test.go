package webhook

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
)

func TestGuard_CheckIP(t *testing.T) {
	tests := []struct {
		ip      string
		allowed bool
		why     string
	}{
		{"127.0.0.1", false, "loopback"},
		{"127.255.0.9", false, "loopback"},
		{"::1", false, "loopback"},
		{"::ffff:127.0.0.1", false, "loopback"},
		{"10.1.2.3", false, "private"},
		{"172.16.0.1", false, "private"},
		{"172.31.255.255", false, "private"},
		{"192.168.1.1", false, "private"},
		{"fc00::1", false, "private"},
		{"fd12:3456::1", false, "private"},
		{"169.254.169.254", false, "cloud metadata"},
		{"fd00:ec2::254", false, "cloud metadata"},
		{"169.254.1.1", false, "link-local"},
		{"fe80::1", false, "link-local"},
		{"fe80::1%eth0", false, "link-local"},
		{"0.0.0.0", false, "unspecified"},
		{"::", false, "unspecified"},
		{"0.1.2.3", false, "this network"},
		{"224.0.0.1", false, "multicast"},
		{"239.255.255.250", false, "multicast"},
		{"ff02::1", false, "multicast"},
		{"100.64.0.1", false, "carrier-grade NAT"},
		{"100.127.255.254", false, "carrier-grade NAT"},
		{"198.18.0.1", false, "benchmarking"},
		{"255.255.255.255", false, "reserved"},
		{"64:ff9b::a00:1", false, "private"},    // NAT64 of 10.0.0.1
		{"2002:7f00:1::1", false, "loopback"},   // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::", false, "metadata"}, // 6to4 of 169.254.169.254
		{"2001:db8::1", false, "documentation"},
		{"100.63.255.255", true, ""},
		{"100.128.0.0", true, ""},
		{"172.32.0.1", true, ""},
		{"8.8.8.8", true, ""},
		{"93.184.215.14", true, ""},
		{"2606:4700:4700::1111", true, ""},
		{"64:ff9b::808:808", true, ""}, // NAT64 of 8.8.8.8
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			err := Guard{}.CheckIP(netip.MustParseAddr(tt.ip))
			if tt.allowed {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else if !errors.Is(err, ErrForbiddenAddress) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("CheckIP = %v, want refused as %s", err, tt.why)
			}
			if err := (Guard{AllowPrivate: true}).CheckIP(netip.MustParseAddr(tt.ip)); err != nil {
				t.Fatalf("AllowPrivate still refuses: %v", err)
			}
		})
	}
}

func TestGuard_CheckURL(t *testing.T) {
	tests := []struct {
		url          string
		ok           bool
		okWithPrivat bool
	}{
		{"https://hooks.example.com/tiktok?token=abc", true, true},
		{"http://hooks.example.com:8080/", true, true},
		{"https://93.184.215.14/hook", true, true},
		{"https://[2606:4700:4700::1111]/hook", true, true},
		{"http://127.0.0.1:9000/hook", false, true},
		{"http://[::1]/hook", false, true},
		{"http://169.254.169.254/latest/meta-data/", false, true},
		{"http://[fd00:ec2::254]/", false, true},
		{"http://10.0.0.5/", false, true},
		{"http://100.64.1.1/", false, true},
		{"http://localhost:8080/", false, true},
		{"http://api.localhost/", false, true},
		{"ftp://hooks.example.com/", false, false},
		{"file:///etc/passwd", false, false},
		{"hooks.example.com/path", false, false},
		{"https://user:pass@hooks.example.com/", false, false},
		{"https://user@hooks.example.com/", false, false},
		{"https:///path", false, false},
		{"https://hooks.example.com/#frag", false, false},
		{"http://[::1", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if _, err := (Guard{}).CheckURL(tt.url); (err == nil) != tt.ok {
				t.Fatalf("CheckURL = %v, want ok %v", err, tt.ok)
			}
			if _, err := (Guard{AllowPrivate: true}).CheckURL(tt.url); (err == nil) != tt.okWithPrivat {
				t.Fatalf("CheckURL allowing private = %v, want ok %v", err, tt.okWithPrivat)
			}
		})
	}
}

// The guard sits in the dialer, after name resolution: a name that passes the create-time check
// (or re-resolves later, DNS rebinding) is refused on the address it would connect to.
func TestGuard_Control(t *testing.T) {
	leakcheck.Check(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	dialer := &net.Dialer{Timeout: 2 * time.Second, Control: Guard{}.Control}
	ctx := t.Context()
	for _, addr := range []string{srv.Listener.Addr().String(), net.JoinHostPort("localhost", port)} {
		c, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			t.Fatalf("dialled %s", addr)
		}
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Fatalf("dial %s: %v, want ErrForbiddenAddress", addr, err)
		}
	}

	// The webhook client refuses too, and allows with AllowPrivate.
	for _, allow := range []bool{false, true} {
		client := NewClient(Guard{AllowPrivate: allow}, 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+net.JoinHostPort("localhost", port)+"/", nil)
		resp, err := client.Do(req)
		if allow {
			if err != nil {
				t.Fatalf("AllowPrivate: %v", err)
			}
			resp.Body.Close()
		} else if !errors.Is(err, ErrForbiddenAddress) {
			t.Fatalf("client: %v, want ErrForbiddenAddress", err)
		}
		client.CloseIdleConnections()
	}
	if err := (Guard{}).Control("tcp", "not-an-address", nil); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("Control(bad address) = %v", err)
	}
}

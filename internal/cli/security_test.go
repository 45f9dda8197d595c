package cli

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// clearSecurityEnv makes sure no setting comes from the environment the tests run in.
func clearSecurityEnv(t *testing.T) {
	for _, k := range []string{"ADMIN_TOKEN", "READ_TOKEN", "TOKEN_SECRET", "INSECURE", "LISTEN_ADDR", "RATE_LIMIT", "MAX_CLIENTS", "MAX_CLIENTS_PER_IP"} {
		t.Setenv(k, "")
	}
}

// runRefused runs the server with args and returns its exit code and stderr; it must return by
// itself (a refusal), not start.
func runRefused(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runRefusedExactly(t, append(args, "0")...)
}

// runRefusedExactly is runRefused without the port argument "0" added.
func runRefusedExactly(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"--data-dir", t.TempDir(), "--log-level", "warn"}, args...), strings.NewReader(""), &stdout, &stderr)
	}()
	select {
	case code := <-done:
		return code, stdout.String(), stderr.String()
	case <-time.After(10 * time.Second):
		cancel()
		<-done
		t.Fatalf("%v: the server started (stdout %q); it should have refused", args, stdout.String())
	}
	return 0, "", ""
}

// runStarts runs the server with args, waits for its listening line, checks that /healthz answers
// on loopback, then stops it and expects exit 0.
func runStarts(t *testing.T, args ...string) string {
	t.Helper()
	return runStartsExactly(t, append(args, "0")...)
}

// runStartsExactly is runStarts without the port argument "0" added.
func runStartsExactly(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"--data-dir", t.TempDir(), "--log-level", "warn"}, args...), strings.NewReader(""), &stdout, &stderr)
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("%v: Run = %d after the signal; stderr %s", args, code, stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%v: Run did not return after the signal", args)
		}
	}()
	var base string
	ok := testutil.Poll(10*time.Second, func() bool {
		if m := listenLine.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		return base != ""
	})
	if !ok {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("%v: refused to start (exit %d): %s", args, code, stderr.String())
		default:
		}
		t.Fatalf("%v: no listening line; stderr %s", args, stderr.String())
	}
	// Reach it on loopback whatever address it listens on.
	host, port, err := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatalf("listening line %q: %v", base, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		host = "127.0.0.1" // every address, or a LAN one: loopback reaches it
	}
	resp, err := http.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		t.Fatalf("%v: /healthz: %v", args, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("%v: /healthz = %d", args, resp.StatusCode)
	}
	return base
}

// TestServe_RefusesExposedWithoutToken: listening beyond loopback without an admin token is
// refused (exit 2, naming --admin-token and --insecure) however the address is given.
func TestServe_RefusesExposedWithoutToken(t *testing.T) {
	clearSecurityEnv(t)
	for _, tc := range []struct {
		name string
		args []string
		env  string // LISTEN_ADDR
	}{
		{"every IPv4 address", []string{"--listen", "0.0.0.0"}, ""},
		{"every IPv6 address", []string{"--listen", "::"}, ""},
		{"every IPv6 address in brackets", []string{"--listen", "[::]"}, ""},
		{"a LAN address", []string{"--listen", "192.168.1.20"}, ""},
		{"a host name", []string{"--listen", "streambox.lan"}, ""},
		{"empty: every address", []string{"--listen", ""}, ""},
		{"from the environment", nil, "0.0.0.0"},
		{"a read token is not an admin token", []string{"--listen", "0.0.0.0", "--read-token", "read-token-0123456789abcdef"}, ""},
		{"a token secret is not an admin token", []string{"--listen", "0.0.0.0", "--token-secret", "room-token-secret-0123456789"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LISTEN_ADDR", tc.env)
			code, stdout, stderr := runRefused(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, stderr)
			}
			if !strings.Contains(stderr, "--admin-token") || !strings.Contains(stderr, "--insecure") {
				t.Errorf("the refusal does not name --admin-token and --insecure: %s", stderr)
			}
			if strings.Contains(stdout, "listening") {
				t.Errorf("printed a listening line: %s", stdout)
			}
		})
	}
}

// TestServe_StartsWhenExposureIsChosen: loopback needs nothing; beyond it, --insecure (or
// INSECURE=1) or an admin token lets the server start.
func TestServe_StartsWhenExposureIsChosen(t *testing.T) {
	clearSecurityEnv(t)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"loopback by default", nil, nil},
		{"localhost", []string{"--listen", "localhost"}, nil},
		{"IPv4 loopback", []string{"--listen", "127.0.0.1"}, nil},
		{"--insecure", []string{"--listen", "0.0.0.0", "--insecure"}, nil},
		{"INSECURE=1", []string{"--listen", "0.0.0.0"}, map[string]string{"INSECURE": "1"}},
		{"an admin token", []string{"--listen", "0.0.0.0", "--admin-token", "admin-token-0123456789abcdef"}, nil},
		{"ADMIN_TOKEN", []string{"--listen", "0.0.0.0"}, map[string]string{"ADMIN_TOKEN": "admin-token-0123456789abcdef"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			runStarts(t, tc.args...)
		})
	}
}

// TestServe_RefusesShortTokens: tokens and the token secret shorter than 16 characters, and
// negative limits, are refused (exit 2) without the refused value being printed.
func TestServe_RefusesShortTokens(t *testing.T) {
	clearSecurityEnv(t)
	for _, tc := range []struct {
		name, flag, value, want string
	}{
		{"admin token", "--admin-token", "shortAdm9Q", "--admin-token must be at least 16"},
		{"admin token, one short", "--admin-token", "adminQ0123456789", ""}, // 16: accepted (checked below)
		{"read token", "--read-token", "shortRd7Kx", "--read-token must be at least 16"},
		{"token secret", "--token-secret", "shortSec5Zp", "--token-secret"},
		{"negative rate limit", "--rate-limit", "-1", "must not be negative"},
		{"negative client cap", "--max-clients", "-5", "must not be negative"},
		{"negative per-address cap", "--max-clients-per-ip", "-2", "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" {
				runStarts(t, tc.flag, tc.value)
				return
			}
			code, _, stderr := runRefused(t, tc.flag, tc.value)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not say %q", stderr, tc.want)
			}
			if strings.HasPrefix(tc.flag, "--admin") || strings.HasPrefix(tc.flag, "--read") || strings.HasPrefix(tc.flag, "--token") {
				if strings.Contains(stderr, tc.value) {
					t.Errorf("the refused secret is printed: %s", stderr)
				}
			}
		})
	}
	// From the environment too.
	t.Setenv("ADMIN_TOKEN", "envShort1")
	if code, _, stderr := runRefused(t); code != 2 || strings.Contains(stderr, "envShort1") {
		t.Errorf("a short ADMIN_TOKEN: exit %d, stderr %s", code, stderr)
	}
}

// TestServe_ReadTokenWithoutAdminToken: --read-token (or --token-secret) alone, on loopback, makes
// reads need a token, as its help says; the admin routes stay open to this machine.
func TestServe_ReadTokenWithoutAdminToken(t *testing.T) {
	clearSecurityEnv(t)
	for _, flag := range []string{"--read-token", "--token-secret"} {
		t.Run(flag, func(t *testing.T) {
			srv := startServer(t, 0, flag, "read-token-0123456789abcdef")
			resp, err := http.Get(srv.base + "/v1/rooms")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /v1/rooms without a token: %d, want 401", resp.StatusCode)
			}
		})
	}
}

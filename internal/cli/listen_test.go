package cli

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

func TestParseListen(t *testing.T) {
	tests := []struct {
		in      string
		want    listenAddr
		wantErr string
	}{
		{"", listenAddr{}, ""},
		{"127.0.0.1", listenAddr{host: "127.0.0.1"}, ""},
		{"127.0.0.1:8080", listenAddr{host: "127.0.0.1", port: 8080, hasPort: true}, ""},
		{"localhost:0", listenAddr{host: "localhost", port: 0, hasPort: true}, ""},
		{"streambox.lan", listenAddr{host: "streambox.lan"}, ""},
		{":3001", listenAddr{host: "", port: 3001, hasPort: true}, ""},
		{"::", listenAddr{host: "::"}, ""},
		{"::1", listenAddr{host: "::1"}, ""},
		{"[::1]", listenAddr{host: "::1"}, ""},
		{"[::1]:3000", listenAddr{host: "::1", port: 3000, hasPort: true}, ""},
		{"[::]:0", listenAddr{host: "::", port: 0, hasPort: true}, ""},
		{"127.0.0.1:", listenAddr{}, "port must be a number"},
		{"127.0.0.1:65536", listenAddr{}, "port must be a number"},
		{"127.0.0.1:-1", listenAddr{}, "port must be a number"},
		{"127.0.0.1:+80", listenAddr{}, "port must be a number"},
		{"127.0.0.1:http", listenAddr{}, "port must be a number"},
		{"[127.0.0.1]:80", listenAddr{}, "brackets hold an IPv6"},
		{"[nonsense]", listenAddr{}, "brackets hold an IPv6"},
		{"fe80::1:3000:zz", listenAddr{}, "needs brackets"},
		{"http://127.0.0.1:3000", listenAddr{}, "not a URL"},
		{"127.0.0.1/8", listenAddr{}, "not a host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseListen(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseListen(%q) = %+v, %v; want an error saying %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseListen(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true, "localhost": true, "LocalHost": true,
		"::ffff:127.0.0.1": true, "": false, "0.0.0.0": false, "::": false, "192.168.1.20": false, "streambox.lan": false,
	} {
		if got := loopbackHost(h); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestServe_ListenHostPort: --listen takes host:port as fake-tiktok does, and loopback is judged on
// the host part (127.0.0.1:PORT used to be refused as if exposed).
func TestServe_ListenHostPort(t *testing.T) {
	clearSecurityEnv(t)
	t.Setenv("PORT", "")
	forms := []string{"127.0.0.1:0", "localhost:0"}
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		forms = append(forms, "[::1]:0")
	}
	for _, form := range forms {
		t.Run(form, func(t *testing.T) {
			base := runStartsExactly(t, "--listen", form)
			host, _, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
			if a := net.ParseIP(host); a == nil || !a.IsLoopback() {
				t.Errorf("listening on %s, want a loopback address", base)
			}
		})
	}
	t.Run("LISTEN_ADDR with a port", func(t *testing.T) {
		t.Setenv("LISTEN_ADDR", "127.0.0.1:0")
		runStartsExactly(t)
	})
}

// TestServe_ListenPortTwice: a port in --listen and as the argument (or PORT) is refused, naming
// both, rather than one silently winning.
func TestServe_ListenPortTwice(t *testing.T) {
	clearSecurityEnv(t)
	for _, tc := range []struct {
		name string
		args []string
		port string // PORT
		want string
	}{
		{"argument", []string{"--listen", "127.0.0.1:0", "0"}, "", "the port argument 0"},
		{"PORT", []string{"--listen", "127.0.0.1:0"}, "3999", "PORT=3999"},
		{"bad port in --listen", []string{"--listen", "127.0.0.1:99999"}, "", "port must be a number"},
		{"bad PORT", []string{"--listen", "127.0.0.1"}, "nope", "port must be a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PORT", tc.port)
			code, stdout, stderr := runRefusedExactly(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 saying %q", code, stderr, tc.want)
			}
			if tc.name == "argument" && !strings.Contains(stderr, "given twice") {
				t.Errorf("stderr %q does not say the port is given twice", stderr)
			}
			if strings.Contains(stdout, "listening") {
				t.Errorf("printed a listening line: %s", stdout)
			}
		})
	}
}

// TestRunFakeTikTok_ListenForms: fake-tiktok takes the same forms; a bare host picks a free port.
func TestRunFakeTikTok_ListenForms(t *testing.T) {
	for _, tc := range []struct {
		listen, wantHost string
		ok               bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1:0", "127.0.0.1", true},
		{"localhost", "127.0.0.1", true},
		{"127.0.0.1:99999", "", false},
		{"http://127.0.0.1:0", "", false},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errOut testutil.SyncBuffer
			done := make(chan int, 1)
			go func() {
				done <- Run(ctx, []string{"fake-tiktok", "--listen", tc.listen, "--rate", "0", "--log-level", "warn"}, strings.NewReader(""), &out, &errOut)
			}()
			if !tc.ok {
				select {
				case code := <-done:
					if code != 2 || !strings.Contains(errOut.String(), "--listen") {
						t.Errorf("exit %d, stderr %q; want 2 naming --listen", code, errOut.String())
					}
				case <-time.After(10 * time.Second):
					t.Fatal("fake-tiktok started with a bad --listen")
				}
				return
			}
			var web string
			if !testutil.Poll(10*time.Second, func() bool {
				for _, line := range strings.Split(out.String(), "\n") {
					if v, ok := strings.CutPrefix(line, "web="); ok {
						web = v
					}
				}
				return web != ""
			}) {
				t.Fatalf("no web= line; stderr %s", errOut.String())
			}
			if !strings.HasPrefix(web, "http://"+tc.wantHost+":") || strings.HasSuffix(web, ":0") {
				t.Errorf("web=%s, want http://%s:<free port>", web, tc.wantHost)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("exit %d: %s", code, errOut.String())
			}
		})
	}
}

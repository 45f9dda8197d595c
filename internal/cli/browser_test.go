package cli

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// TestServe_OpenBrowser: --open hands the dashboard URL to the desktop's launcher (xdg-open here,
// replaced on PATH by a script that writes down what it was given), with the demo's room.
func TestServe_OpenBrowser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the launcher stand-in is a shell script for xdg-open")
	}
	bin := t.TempDir()
	got := filepath.Join(t.TempDir(), "opened")
	script := "#!/bin/sh\nprintf '%s\\n' \"$1\" >> " + got + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("OPEN_BROWSER", "")
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		name string
		args []string
		want string // what the URL must end with; "" = not opened
	}{
		{"demo with --open", []string{"--demo", "--open"}, "/?room=demo"},
		{"--open without the demo", []string{"--open"}, "/"},
		{"demo off a terminal", []string{"--demo"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(got)
			ctx, cancel := context.WithCancel(context.Background())
			var stdout, stderr testutil.SyncBuffer
			exit := make(chan int, 1)
			go func() {
				exit <- Run(ctx, append(tc.args, "--listen", "127.0.0.1", "--log-level", "warn", "--data-dir", "", "0"),
					strings.NewReader(""), &stdout, &stderr)
			}()
			var base string
			testutil.Eventually(t, 15*time.Second, func() bool {
				if m := listenLine.FindStringSubmatch(stdout.String()); m != nil {
					base = m[1]
				}
				return base != ""
			}, "no listening line; stderr %s", stderr.String())
			if tc.want != "" {
				var opened string
				testutil.Eventually(t, 15*time.Second, func() bool {
					b, _ := os.ReadFile(got)
					opened = strings.TrimSpace(string(b))
					return opened != ""
				}, "the launcher was not run; stderr %s", stderr.String())
				if opened != base+tc.want {
					t.Errorf("opened %q, want %q", opened, base+tc.want)
				}
			}
			cancel()
			if code := <-exit; code != 0 {
				t.Errorf("exit %d: %s", code, stderr.String())
			}
			if tc.want == "" {
				if b, err := os.ReadFile(got); err == nil {
					t.Errorf("opened %q without --open, off a terminal", b)
				}
			}
		})
	}
}

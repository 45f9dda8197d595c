package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
)

// Targets.
const (
	TargetOurs = "ours" // this program's serve, as a child process
	TargetSeed = "seed" // the original Node server (../shared/peers/seed-node), as a child process
	TargetRaw  = "raw"  // the featureless broadcaster (bench -serve-raw), as a child process
)

// target is one running server under test: a child process in its own process group.
type target struct {
	name   string
	base   string // http://127.0.0.1:PORT
	ingest string // raw only: the ingest socket's address
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process was waited for
	werr   error         // cmd.Wait's result, set before done is closed
	stderr *tailBuffer
	hc     *http.Client
	tmp    string // ours: its data directory, removed by stop
}

var (
	oursListening = regexp.MustCompile(`tiktok-live-server listening on (http://127\.0\.0\.1:\d+)`)
	seedListening = regexp.MustCompile(`listening on port (\d+)`)
)

// startTarget starts the server named by cfg.Target, pointed at fake (nil for raw), and waits
// for its ready line.
func startTarget(ctx context.Context, cfg *Config, fake *faketiktok.Server) (*target, error) {
	var (
		tmp string
		cmd *exec.Cmd
		env = EnvWithout(os.Environ(), "SIGN_API_URL", "SIGN_API_KEY", "TIKTOK_HOST_WEB", "TIKTOK_HOST_WEBCAST",
			"TIKTOK_WEB_URL", "TIKTOK_WEBCAST_URL", "HOST", "PORT", "LISTEN_ADDR", "DEDUP_MAX", "DISABLE_EULER_FALLBACKS")
		ready   = cfg.StartTimeout
		matchFn func(line string) (base, ingest string, ok bool)
	)
	switch cfg.Target {
	case TargetOurs:
		u := fake.URLs()
		// The event log on disk, as in production: every event is committed before delivery.
		var err error
		if tmp, err = os.MkdirTemp("", "tls-bench-data-"); err != nil {
			return nil, fmt.Errorf("bench: data directory: %w", err)
		}
		args := []string{"serve", "--listen", "127.0.0.1", "--sign-url", u.Sign, "--tiktok-web-url", u.Web,
			"--tiktok-webcast-url", u.Webcast, "--sign-quota", "0", "--log-level", "warn", "--data-dir", tmp}
		if cfg.Rooms > 0 { // the rooms mode: room for every room
			args = append(args, "--max-rooms", strconv.Itoa(cfg.Rooms+16))
		}
		cmd = exec.Command(cfg.Exe, append(args, "0")...)
		matchFn = func(line string) (string, string, bool) {
			m := oursListening.FindStringSubmatch(line)
			if m == nil {
				return "", "", false
			}
			return m[1], "", true
		}
	case TargetSeed:
		runSh := filepath.Join(cfg.SeedDir, "run.sh")
		if _, err := os.Stat(runSh); err != nil {
			return nil, fmt.Errorf("seed-node peer: %w (pass -seed-dir or set SEED_NODE_DIR)", err)
		}
		if _, err := exec.LookPath("node"); err != nil {
			return nil, fmt.Errorf("seed-node peer needs node >= 20 on PATH: %w", err)
		}
		cmd = exec.Command(runSh, "0")
		env = append(env, "SIGN_API_URL="+fake.URLs().Sign, "TIKTOK_HOST_WEB="+fake.HostPort(),
			"TIKTOK_HOST_WEBCAST="+fake.HostPort(), "DISABLE_EULER_FALLBACKS=1", "HOST=127.0.0.1")
		matchFn = func(line string) (string, string, bool) {
			m := seedListening.FindStringSubmatch(line)
			if m == nil {
				return "", "", false
			}
			return "http://127.0.0.1:" + m[1], "", true
		}
	case TargetRaw:
		cmd = exec.Command(cfg.Exe, "bench", "-serve-raw", "127.0.0.1:0")
		matchFn = parseRawListening
	default:
		return nil, fmt.Errorf("unknown target %q: want ours, seed or raw", cfg.Target)
	}
	cmd.Env = env
	t := &target{name: cfg.Target, cmd: cmd, tmp: tmp, done: make(chan struct{}), stderr: &tailBuffer{max: 16 << 10},
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}}
	cmd.Stderr = t.stderr
	ownGroup(cmd) // run.sh, npm and node go down together
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Target, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", cfg.Target, cmd.Path, err)
	}
	lines := make(chan string, 16)
	readerDone := make(chan struct{})
	go func() { // owned by t: ends when the process closes its stdout
		defer close(readerDone)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody waits any more: keep draining so the child never blocks on stdout
			}
		}
	}()
	go func() {
		<-readerDone // Wait closes the pipe: read it to the end first
		t.werr = cmd.Wait()
		close(t.done)
	}()
	timer := time.NewTimer(ready)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				<-t.done
				return nil, fmt.Errorf("%s exited before it was ready (%v); stderr:\n%s", cfg.Target, t.werr, t.stderr)
			}
			if base, ingest, ok := matchFn(line); ok {
				t.base, t.ingest = base, ingest
				return t, nil
			}
		case <-timer.C:
			t.stop()
			return nil, fmt.Errorf("%s did not print its listening line within %v; stderr:\n%s", cfg.Target, ready, t.stderr)
		case <-ctx.Done():
			t.stop()
			return nil, ctx.Err()
		}
	}
}

// pid is the server's process id (run.sh execs node, so for seed it is node's).
func (t *target) pid() int { return t.cmd.Process.Pid }

// stop sends SIGTERM to the process group, then SIGKILL if it is still there after 5 s.
func (t *target) stop() {
	pid := t.cmd.Process.Pid
	terminateGroup(pid)
	select {
	case <-t.done:
	case <-time.After(5 * time.Second):
		killGroup(pid)
		<-t.done
	}
	killGroup(pid) // stragglers of the group (npm helpers)
	t.hc.CloseIdleConnections()
	if t.tmp != "" {
		os.RemoveAll(t.tmp)
	}
}

// exited reports whether the process has ended.
func (t *target) exited() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// connectRoom asks the server to connect user's room (the original's POST /connect/:username,
// which answers once connected). The raw broadcaster has no rooms.
func (t *target) connectRoom(ctx context.Context, user string) error {
	if t.name == TargetRaw {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+"/connect/"+user, nil)
	if err != nil {
		return err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("connect %s on %s: %w", user, t.name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("connect %s on %s: %s %s", user, t.name, resp.Status, body)
	}
	return nil
}

// wsClients is the server's count of WebSocket clients (GET /health's wsClients on all three).
func (t *target) wsClients(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/health", nil)
	if err != nil {
		return 0, err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var h struct {
		WSClients int `json:"wsClients"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return 0, fmt.Errorf("%s /health: %w", t.name, err)
	}
	return h.WSClients, nil
}

// hostPort is the server's host:port.
func (t *target) hostPort() string { return strings.TrimPrefix(t.base, "http://") }

// EnvWithout returns env without the named variables (a child server must not inherit the
// caller's upstream settings; the compat tests start the seed-node the same way).
func EnvWithout(env []string, drop ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, name) {
			out = append(out, kv)
		}
	}
	return out
}

// FindSeedDir returns the seed-node peer's folder: $SEED_NODE_DIR, else ../shared/peers/seed-node
// beside the module root found above the working directory or the executable.
func FindSeedDir() (string, error) {
	if d := os.Getenv("SEED_NODE_DIR"); d != "" {
		return d, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, "..", "shared", "peers", "seed-node")
				if _, err := os.Stat(filepath.Join(p, "run.sh")); err == nil {
					return p, nil
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("seed-node peer not found: set SEED_NODE_DIR or run from the repository (../shared/peers/seed-node)")
}

// tailBuffer keeps the last max bytes written (a child's stderr, for error messages).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	if len(b.b) > b.max {
		b.b = append(b.b[:0], b.b[len(b.b)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// dialIngest connects to the raw broadcaster's ingest socket.
func dialIngest(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raw broadcaster ingest %s: %w", addr, err)
	}
	return c, nil
}

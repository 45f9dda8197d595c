package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/hub"
	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// TestServer_SSEWriteErrors: an SSE client whose write times out is a slow consumer (closed and
// counted as write_timeout, the 4002 of WebSockets); one that went away (its connection reset
// while the server was writing to it) is not, and is not counted as slow.
func TestServer_SSEWriteErrors(t *testing.T) {
	tests := []struct {
		name         string
		writeTimeout time.Duration
		leave        func(c *net.TCPConn) // what the client does once the server is stuck writing to it
		wantTimeouts string
	}{
		{"stops reading", 300 * time.Millisecond, func(*net.TCPConn) {}, "1"},
		{"resets its connection", time.Minute, func(c *net.TCPConn) {
			c.SetLinger(0) // close with a RST: the server's write fails with "connection reset"
			c.Close()
		}, "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := newStack(t, stackOptions{queueBytes: 512 << 20, writeTimeout: tc.writeTimeout})
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			fmt.Fprintf(conn, "GET /v1/events?rooms=streamer HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("SSE request: %v %v", resp, err)
			}
			if s.hub.Count(transportSSE) != 1 {
				t.Fatalf("SSE clients %d, want 1", s.hub.Count(transportSSE))
			}

			// The client reads nothing more. Publish big events until its socket buffers are full
			// and the server's write to it is stuck (its hub queue grows), or it has been closed.
			payload := strings.Repeat("x", 64<<10)
			seq := uint64(0)
			testutil.Eventually(t, wait, func() bool {
				st := s.hub.Stats()
				if st.QueuedBytes >= 1<<20 || s.hub.Count(transportSSE) == 0 {
					return true
				}
				for range 8 {
					seq++
					s.hub.Publish(&hub.Message{Room: "streamer", Type: "chat", Seq: seq,
						JSON: fmt.Appendf(nil, `{"type":"chat","username":"streamer","seq":%d,"data":{"comment":%q}}`, seq, payload)})
				}
				return false
			}, "the server never got stuck writing to the client")
			tc.leave(conn.(*net.TCPConn))
			testutil.Eventually(t, wait, func() bool { return s.hub.Count(transportSSE) == 0 }, "the SSE client was never dropped")

			st := s.hub.Stats()
			if st.SlowCloses != 0 {
				t.Errorf("queue-full closes %d, want 0 (the queue bound was not reached)", st.SlowCloses)
			}
			if got := metric(t, s.url, `tiktok_live_slow_client_closes_total{reason="write_timeout"}`); got != tc.wantTimeouts {
				t.Errorf("write_timeout closes = %s, want %s (hub: %+v)", got, tc.wantTimeouts, st)
			}
		})
	}
}

// metric returns the value of one sample of the server's /metrics.
func metric(t *testing.T, base, sample string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /metrics", sample)
	return ""
}

package faketiktok

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

const waitFor = 10 * time.Second // generous: -race on a busy machine is slow

// fixture is a running fake plus an HTTP client that owns its connections.
type fixture struct {
	t   *testing.T
	srv *Server
	tr  *http.Transport
	hc  *http.Client
}

// start runs a fake for the test. Cleanup closes it and checks that Close left no goroutine
// behind (so every test doubles as a leak check).
func start(t *testing.T, o Options) *fixture {
	t.Helper()
	leakcheck.Check(t) // its cleanup runs last, after the Close below
	if o.Logger == nil && testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := Start(t.Context(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	tr := &http.Transport{}
	f := &fixture{t: t, srv: srv, tr: tr, hc: &http.Client{Transport: tr, Timeout: waitFor}}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, waitFor, cond, "waiting for %s", what)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(method, path string, body any, header http.Header) response {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.srv.URLs().Web+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) get(path string) response {
	f.t.Helper()
	return f.do(http.MethodGet, path, nil, nil)
}

// getJSON fetches path and decodes a JSON object.
func (f *fixture) getJSON(path string) (int, map[string]any) {
	f.t.Helper()
	r := f.get(path)
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		f.t.Fatalf("GET %s: not JSON (%v): %q", path, err, r.body)
	}
	return r.status, m
}

// signed is a decoded sign answer.
type signed struct {
	resp   response
	result *pb.FetchResult
}

// sign calls the 2.0.7 sign route for a room.
func (f *fixture) sign(roomID int64) signed {
	f.t.Helper()
	r := f.get(fmt.Sprintf("/webcast/fetch?client=ttlive-node&room_id=%d&client_enter=false", roomID))
	s := signed{resp: r, result: new(pb.FetchResult)}
	if r.status == http.StatusOK {
		if err := proto.Unmarshal(r.body, s.result); err != nil {
			f.t.Fatalf("sign answer is not a FetchResult: %v", err)
		}
	}
	return s
}

// wsClient is a test client on the push socket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

// dial signs the room and opens its socket as the JS client does (sign answer's URL, its cursor
// and internal_ext in the query, the cookie it got).
func (f *fixture) dial(roomID int64) (*wsClient, signed) {
	f.t.Helper()
	s := f.sign(roomID)
	if s.resp.status != http.StatusOK {
		f.t.Fatalf("sign: status %d: %s", s.resp.status, s.resp.body)
	}
	q := url.Values{
		"room_id": {fmt.Sprint(roomID)}, "compress": {"gzip"}, "cursor": {s.result.GetCursor()},
		"internal_ext": {s.result.GetInternalExt()}, "version_code": {"180800"},
	}
	for k, v := range s.result.GetWsParams() {
		q.Set(k, v)
	}
	hdr := http.Header{"Cookie": {s.resp.header.Get("X-Set-TT-Cookie")}}
	c, err := f.dialURL(s.result.GetWsUrl()+"?"+q.Encode(), hdr)
	if err != nil {
		f.t.Fatalf("dial: %v", err)
	}
	return c, s
}

func (f *fixture) dialURL(u string, hdr http.Header) (*wsClient, error) {
	ctx, cancel := context.WithTimeout(f.t.Context(), waitFor)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: hdr, HTTPClient: f.hc})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(64 << 20)
	c := &wsClient{t: f.t, conn: conn}
	f.t.Cleanup(func() { _ = conn.CloseNow() })
	return c, nil
}

// read returns the next binary message, or an error (timeout included).
func (c *wsClient) read(timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(c.t.Context(), timeout)
	defer cancel()
	typ, b, err := c.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("got a %v message", typ)
	}
	return b, nil
}

// frame reads the next frame; msg frames come with their decoded FetchResult.
func (c *wsClient) frame() (*pb.PushFrame, *pb.FetchResult) {
	c.t.Helper()
	b, err := c.read(waitFor)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	f, err := webcast.DecodeFrame(b)
	if err != nil {
		c.t.Fatalf("decode frame: %v", err)
	}
	if f.GetPayloadType() != webcast.FrameMsg {
		return f, nil
	}
	r, err := webcast.DecodeFetchResult(f.GetPayload())
	if err != nil {
		c.t.Fatalf("decode fetch result: %v", err)
	}
	return f, r
}

// messages reads msg frames until n messages arrived (skipping other frames).
func (c *wsClient) messages(n int) []*pb.WireMessage {
	c.t.Helper()
	var out []*pb.WireMessage
	for len(out) < n {
		if _, r := c.frame(); r != nil {
			out = append(out, r.GetMessages()...)
		}
	}
	return out
}

func (c *wsClient) send(f *pb.PushFrame) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), waitFor)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageBinary, webcast.EncodeFrame(f)); err != nil {
		c.t.Fatalf("send %s: %v", f.GetPayloadType(), err)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readUntilClosed reads until the socket ends and returns the messages seen and the error.
func (c *wsClient) readUntilClosed() ([]*pb.WireMessage, error) {
	var out []*pb.WireMessage
	for {
		b, err := c.read(waitFor)
		if err != nil {
			return out, err
		}
		f, err := webcast.DecodeFrame(b)
		if err != nil || f.GetPayloadType() != webcast.FrameMsg {
			continue
		}
		if r, err := webcast.DecodeFetchResult(f.GetPayload()); err == nil {
			out = append(out, r.GetMessages()...)
		}
	}
}

// isTimeout reports whether a read ended because its deadline passed.
func isTimeout(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

// decodeControl decodes a WebcastControlMessage payload.
func decodeControl(t *testing.T, w *pb.WireMessage) *pb.ControlMessage {
	t.Helper()
	if w.GetMethod() != webcast.MethodControl {
		t.Fatalf("method %q, want %s", w.GetMethod(), webcast.MethodControl)
	}
	m := new(pb.ControlMessage)
	if err := proto.Unmarshal(w.GetPayload(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

package wsserver

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
	"github.com/tiktok-live-server/tiktok-live-server/internal/testutil"
)

// server runs Upgrade + ReadLoop per request and hands each Conn to the test.
func server(t *testing.T) (string, chan *Conn, chan error) {
	t.Helper()
	conns, ended := make(chan *Conn, 4), make(chan error, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r)
		if err != nil {
			var he *HandshakeError
			if errors.As(err, &he) {
				http.Error(w, he.Error(), http.StatusBadRequest)
			}
			return
		}
		conns <- c
		ended <- c.ReadLoop(1 << 10)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), conns, ended
}

func TestConn_WriteTextBatch(t *testing.T) {
	leakcheck.Check(t)
	url, conns, ended := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.SetReadLimit(1 << 20)
	c := <-conns
	// Every length class of the frame header: 7-bit, 16-bit and 64-bit lengths.
	sizes := []int{0, 1, 125, 126, 65535, 65536, 200000}
	var payloads [][]byte
	for i, n := range sizes {
		payloads = append(payloads, []byte(strings.Repeat(string(rune('a'+i)), n)))
	}
	if err := c.WriteText(payloads, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRaw(AppendText(AppendText(nil, []byte("raw1")), []byte("raw2")), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	for i, want := range append(payloads, []byte("raw1"), []byte("raw2")) {
		typ, got, err := cl.Read(ctx)
		if err != nil || typ != websocket.MessageText || string(got) != string(want) {
			t.Fatalf("message %d: %v %d bytes %v; want %d bytes", i, typ, len(got), err, len(want))
		}
	}
	// Pings are answered while the server only writes (coder's Ping waits for the pong); the
	// client's own data is read and dropped.
	go cl.Read(ctx) // keep reading so the pong is seen
	if err := cl.Write(ctx, websocket.MessageText, []byte("keep-alive")); err != nil {
		t.Fatal(err)
	}
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	// The server's close reaches the client with its code and reason.
	if err := c.Close(4001, "slow consumer"); err != nil {
		t.Fatal(err)
	}
	if err := <-ended; err != nil {
		t.Fatalf("ReadLoop after a close handshake: %v", err)
	}
}

func TestConn_CloseCodeSeenByClient(t *testing.T) {
	url, conns, _ := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := <-conns
	go c.Close(StatusGoingAway, "server shutting down")
	_, _, err = cl.Read(ctx)
	if websocket.CloseStatus(err) != StatusGoingAway {
		t.Fatalf("client read: %v; want close 1001", err)
	}
}

func TestUpgrade_BadHandshakes(t *testing.T) {
	url, _, _ := server(t)
	base := "http" + strings.TrimPrefix(url, "ws")
	good := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	tests := []struct {
		name   string
		method string
		change map[string]string
	}{
		{"POST", "POST", nil},
		{"no Upgrade", "GET", map[string]string{"Upgrade": ""}},
		{"no Connection: upgrade", "GET", map[string]string{"Connection": "keep-alive"}},
		{"version 8", "GET", map[string]string{"Sec-WebSocket-Version": "8"}},
		{"short key", "GET", map[string]string{"Sec-WebSocket-Key": "c2hvcnQ="}},
		{"key not base64", "GET", map[string]string{"Sec-WebSocket-Key": "!!!!"}},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, base, nil)
		for k, v := range good {
			req.Header.Set(k, v)
		}
		for k, v := range tc.change {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", tc.name, resp.StatusCode)
		}
	}
}

// rawClient does the handshake by hand so a test can send frames a library never would.
func rawClient(t *testing.T, url string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return nc, br
}

// frame builds a client frame: masked unless unmasked is set.
func frame(fin bool, opcode byte, payload []byte, unmasked bool) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	mbit := byte(0x80)
	if unmasked {
		mbit = 0
	}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, mbit|byte(n))
	case n <= 0xFFFF:
		out = append(out, mbit|126, byte(n>>8), byte(n))
	default:
		out = append(out, mbit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if unmasked {
		return append(out, payload...)
	}
	key := [4]byte{1, 2, 3, 4}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// readClose reads frames until a close frame and returns its code.
func readClose(t *testing.T, br *bufio.Reader) int {
	t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		n := int(h[1] & 0x7F)
		p := make([]byte, n)
		io.ReadFull(br, p)
		if h[0]&0x0F == 0x8 {
			return int(binary.BigEndian.Uint16(p))
		}
	}
}

func TestConn_ReadLoopProtocol(t *testing.T) {
	tests := []struct {
		name     string
		frames   [][]byte
		wantCode int
	}{
		{"unmasked frame", [][]byte{frame(true, 0x1, []byte("hi"), true)}, StatusProtocolError},
		{"reserved bits", [][]byte{append([]byte{0xC1}, frame(true, 0x1, nil, false)[1:]...)}, StatusProtocolError},
		{"message over the limit", [][]byte{frame(true, 0x1, make([]byte, 2000), false)}, StatusTooBig},
		{"fragments over the limit", [][]byte{frame(false, 0x1, make([]byte, 600), false), frame(true, 0x0, make([]byte, 600), false)}, StatusTooBig},
		{"fragmented ping", [][]byte{frame(false, 0x9, []byte("p"), false)}, StatusProtocolError},
		{"client close 4000 is echoed", [][]byte{frame(true, 0x1, []byte("ok"), false), frame(true, 0x8, []byte{0x0F, 0xA0}, false)}, 4000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, _, ended := server(t)
			nc, br := rawClient(t, url)
			for _, f := range tc.frames {
				nc.Write(f)
			}
			if code := readClose(t, br); code != tc.wantCode {
				t.Fatalf("close code %d, want %d", code, tc.wantCode)
			}
			<-ended
		})
	}
}

// FuzzReadLoop feeds arbitrary client bytes to the frame parser, whole and then in small pieces
// (as a socket delivers them): it must never panic, and the pieces must end the same way as the
// whole.
func FuzzReadLoop(f *testing.F) {
	f.Add(frame(true, 0x1, []byte("hello"), false), uint8(3))
	f.Add(frame(true, 0x9, []byte("ping"), false), uint8(1))
	f.Add(frame(true, 0x8, []byte{0x03, 0xE8}, false), uint8(2))
	f.Add(append(frame(false, 0x1, []byte("a"), false), frame(true, 0x0, []byte("b"), false)...), uint8(5))
	f.Add([]byte{0x81, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, uint8(4))
	f.Add([]byte{0x81, 0xFE}, uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		run := func(pieces [][]byte) (bool, error) {
			server, client := net.Pipe()
			defer client.Close()
			defer server.Close()
			go io.Copy(io.Discard, client) // whatever the parser answers
			c := newConn(server)
			c.maxMessage = 1 << 10
			c.rmu.Lock()
			defer c.rmu.Unlock()
			for _, p := range pieces {
				if c.consume(p) {
					break
				}
			}
			return c.ended, c.endErr
		}
		wholeEnded, wholeErr := run([][]byte{in})
		var pieces [][]byte
		n := int(step%16) + 1
		for i := 0; i < len(in); i += n {
			pieces = append(pieces, in[i:min(i+n, len(in))])
		}
		partEnded, partErr := run(pieces)
		if wholeEnded != partEnded || !errors.Is(partErr, wholeErr) && partErr != wholeErr {
			t.Fatalf("whole: %v %v; in pieces of %d: %v %v", wholeEnded, wholeErr, n, partEnded, partErr)
		}
	})
}

// TestPoller_Add: connections read by the poller (no goroutine each) answer pings, see the
// client's close, do the server's close handshake, and the poller's goroutine ends with the last.
func TestPoller_Add(t *testing.T) {
	leakcheck.Check(t)
	p := NewPoller(20 * time.Millisecond)
	ended := make(chan *Conn, 4)
	conns := make(chan *Conn, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r)
		if err != nil {
			return
		}
		if err := p.Add(c, 1<<10, func() { ended <- c }); err != nil {
			t.Error(err)
		}
		conns <- c
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The client pings and closes.
	a, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca := <-conns
	go a.Read(ctx) // coder's Ping needs a reader to see the pong
	if err := a.Ping(ctx); err != nil {
		t.Fatalf("ping through the poller: %v", err)
	}
	if err := ca.WriteText([][]byte{[]byte("x")}, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	a.Close(websocket.StatusNormalClosure, "bye")
	if got := <-ended; got != ca {
		t.Fatal("onEnd for another connection")
	}
	ca.CloseNow()

	// The server closes: the client sees the code, the handshake completes without a reader.
	b, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	cb := <-conns
	errc := make(chan error, 1)
	go func() { _, _, err := b.Read(ctx); errc <- err }()
	if err := cb.Close(StatusGoingAway, "server shutting down"); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; websocket.CloseStatus(err) != StatusGoingAway {
		t.Fatalf("client saw %v, want close 1001", err)
	}
	<-ended
	testutil.Eventually(t, 5*time.Second, func() bool { return p.Len() == 0 }, "the poller still holds %d connections", p.Len())
}

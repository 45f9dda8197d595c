package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// A minimal WebSocket client (RFC 6455), enough to read a server's text messages: the load tool
// runs up to thousands of them in one process, so each is one goroutine, a 4 KiB read buffer and
// a reused message buffer, with no per-message allocation or timer. It answers pings and close
// frames and never offers extensions.

// wsGUID is RFC 6455's key suffix.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsAccept is the Sec-WebSocket-Accept value for key.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsConn is the client side of one WebSocket.
type wsConn struct {
	c   net.Conn
	br  *bufio.Reader
	wmu sync.Mutex // pong and close writes
	msg []byte     // reused buffer of a fragmented or large message
}

// errClosed is returned by next when the server sent a close frame.
type errClosed struct{ Code int }

func (e errClosed) Error() string {
	return fmt.Sprintf("websocket closed by the server with code %d", e.Code)
}

// dialWS opens a WebSocket to ws://hostPort/path.
func dialWS(ctx context.Context, hostPort, path string) (*wsConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", hostPort)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	var kb [16]byte
	_, _ = rand.Read(kb[:])
	key := base64.StdEncoding.EncodeToString(kb[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + hostPort + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nUser-Agent: tiktok-live-server-bench\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: server answered %s", resp.Status)
	}
	_ = c.SetDeadline(time.Time{})
	return &wsConn{c: c, br: br}, nil
}

// next returns the next text or binary message; the slice is valid until the following call.
func (w *wsConn) next() ([]byte, error) {
	w.msg = w.msg[:0]
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0f
		n := int64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return nil, err
			}
			n = int64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return nil, err
			}
			n = int64(binary.BigEndian.Uint64(b[:]) & (1<<63 - 1))
		}
		if h[1]&0x80 != 0 {
			return nil, errors.New("websocket: the server masked a frame")
		}
		if n > 64<<20 {
			return nil, fmt.Errorf("websocket: %d-byte frame", n)
		}
		if op >= 8 { // control frame: at most 125 bytes, never fragmented
			var b [125]byte
			p := b[:n]
			if _, err := io.ReadFull(w.br, p); err != nil {
				return nil, err
			}
			switch op {
			case 9: // ping
				if err := w.write(0xA, p); err != nil {
					return nil, err
				}
			case 8: // close
				code := 1005
				if len(p) >= 2 {
					code = int(binary.BigEndian.Uint16(p))
				}
				_ = w.write(0x8, p[:min(len(p), 2)])
				return nil, errClosed{Code: code}
			}
			continue
		}
		// Fast path: a whole message already in the read buffer is returned without a copy.
		if fin && len(w.msg) == 0 && op != 0 && int(n) <= w.br.Size() {
			p, err := w.br.Peek(int(n))
			if err == nil {
				_, _ = w.br.Discard(int(n))
				return p, nil
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				return nil, err
			}
		}
		start := len(w.msg)
		w.msg = slices.Grow(w.msg, int(n))[:start+int(n)]
		if _, err := io.ReadFull(w.br, w.msg[start:]); err != nil {
			return nil, err
		}
		if fin {
			return w.msg, nil
		}
	}
}

// write sends one masked frame (clients must mask) of at most 125 bytes.
func (w *wsConn) write(op byte, p []byte) error {
	var b [2 + 4 + 125]byte
	b[0], b[1] = 0x80|op, 0x80|byte(len(p))
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	copy(b[2:6], mask[:])
	for i, c := range p {
		b[6+i] = c ^ mask[i%4]
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_ = w.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := w.c.Write(b[:6+len(p)])
	return err
}

// Close drops the connection without a close handshake (the run is over; the server must cope).
func (w *wsConn) Close() error { return w.c.Close() }

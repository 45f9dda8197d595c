// Package wsserver is the server side of a WebSocket (RFC 6455) made for fan-out: many small text
// messages to many clients. It writes a client's whole backlog as one writev (net.Buffers), with
// no per-message allocation, flush or timer, and keeps nothing per connection but the socket, a
// few bytes of frame header and the reader's state. It reads only to answer pings and the close
// handshake; data frames from the client are read and dropped. No extensions (no compression):
// the events are small and already shared by every client as the same bytes.
package wsserver

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Close codes used here (RFC 6455 §7.4.1).
const (
	StatusNormal        = 1000
	StatusGoingAway     = 1001
	StatusProtocolError = 1002
	StatusTooBig        = 1009
	StatusInternalError = 1011
)

// ErrClosed is returned by writes after the connection closed.
var ErrClosed = errors.New("wsserver: connection closed")

// HandshakeError is a request that is not a valid WebSocket upgrade; Upgrade has not answered it.
type HandshakeError struct{ Reason string }

func (e *HandshakeError) Error() string { return "websocket handshake: " + e.Reason }

// Conn is one server-side WebSocket connection. WriteText and Close may be called from one
// goroutine while ReadLoop runs in another.
type Conn struct {
	nc net.Conn

	// The read side: an incremental frame parser fed by ReadLoop or by a Poller (one at a time;
	// Close reads too, under rmu, while it waits for the client's close frame).
	rmu        sync.Mutex
	in         []byte // bytes received and not yet parsed (a partial frame), or read ahead by net/http
	skip       int64  // bytes of the current data frame still to drop
	msgLen     int64  // bytes of the current data message so far
	maxMessage int64
	ended      bool  // the read side is over
	endErr     error // why (nil after a close handshake)
	polled     bool  // a Poller reads this connection (no ReadLoop goroutine)

	wmu     sync.Mutex
	hdrs    []byte      // frame headers of the batch being written
	bufs    net.Buffers // the batch: header, payload, header, payload, ...
	pend    net.Buffers // what TryWriteText could not write yet (a tail of bufs); Flush writes it
	iov     []iovec     // TryWriteText's writev vector
	rc      syscall.RawConn
	closing bool // a close frame was sent
	// deadlined: a blocking write set a write deadline, which TryWriteText must clear first (the
	// runtime checks it even for a write that does not wait, and it would pass later).
	deadlined bool

	readDone chan struct{}
	closeOne sync.Once
}

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Upgrade checks the handshake and, if valid, hijacks the connection and answers 101. On a
// *HandshakeError nothing was written: the caller answers (400 with its own error format).
func Upgrade(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	if r.Method != http.MethodGet {
		return nil, &HandshakeError{"the method must be GET"}
	}
	if !headerHas(r.Header, "Connection", "upgrade") || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return nil, &HandshakeError{"Connection: Upgrade and Upgrade: websocket are required"}
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return nil, &HandshakeError{"only Sec-WebSocket-Version 13 is supported"}
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return nil, &HandshakeError{"Sec-WebSocket-Key must be 16 bytes in base64"}
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("websocket: hijack: %w", err)
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, resp); err != nil {
		nc.Close()
		return nil, fmt.Errorf("websocket: answer the handshake: %w", err)
	}
	nc.SetDeadline(time.Time{})
	c := newConn(nc)
	// Keep what the HTTP server read ahead (a client may send right after its request), then let
	// its buffers go: an idle connection should hold nothing it does not need.
	if n := brw.Reader.Buffered(); n > 0 {
		c.in = make([]byte, n)
		io.ReadFull(brw.Reader, c.in)
	}
	return c, nil
}

// DefaultMaxMessage bounds a message from the client (which is read and dropped).
const DefaultMaxMessage = 64 << 10

func newConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, readDone: make(chan struct{}), maxMessage: DefaultMaxMessage}
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// appendHeader appends the header of an unmasked final frame of opcode with n payload bytes.
func appendHeader(dst []byte, opcode byte, n int) []byte {
	dst = append(dst, 0x80|opcode)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return append(dst, 126, byte(n>>8), byte(n))
	}
	dst = append(dst, 127)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// AppendText appends payload as one complete text frame to dst: for callers that build a batch of
// frames themselves (a replay) and write it with WriteRaw.
func AppendText(dst, payload []byte) []byte {
	return append(appendHeader(dst, 0x1, len(payload)), payload...)
}

// WriteText writes each payload as one text message, all in one writev, by deadline. A timeout
// leaves the connection unusable: close it. What an earlier TryWriteText left goes first.
func (c *Conn) WriteText(payloads [][]byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return ErrClosed
	}
	if err := c.flushLocked(deadline); err != nil {
		return err
	}
	bufs := c.frames(payloads)
	c.setDeadline(deadline)
	_, err := bufs.WriteTo(c.nc) // consumes a copy of the slice header: c.bufs keeps the array
	clear(c.bufs[:cap(c.bufs)])  // do not pin the messages until the next batch
	return err
}

// frames returns what is pending followed by payloads as text frames. Call with wmu held.
func (c *Conn) frames(payloads [][]byte) net.Buffers {
	var bufs net.Buffers
	if len(c.pend) == 0 {
		c.hdrs = c.hdrs[:0]
		bufs = c.bufs[:0]
	} else {
		// The pending tail still points into hdrs and bufs: append after it, in a new array
		// for the buffers, and past the used part of hdrs (appending never rewrites those bytes).
		bufs = append(net.Buffers(nil), c.pend...)
		c.pend = nil
	}
	for _, p := range payloads {
		// If appending moves the headers to a bigger array, the slices already taken keep the
		// old one, whose bytes never change: every header stays valid until the write is done.
		start := len(c.hdrs)
		c.hdrs = appendHeader(c.hdrs, 0x1, len(p))
		bufs = append(bufs, c.hdrs[start:], p)
	}
	if cap(bufs) >= cap(c.bufs) {
		c.bufs = bufs
	}
	return bufs
}

// TryWriteText is WriteText without waiting: it writes, in one writev, what the socket takes now
// and reports done when that was everything. Otherwise it keeps the rest, and the caller must
// Flush (which waits) before the connection is any use to anyone else: so a writer serving many
// connections never waits on one whose client reads slowly, and hands that one to a goroutine of
// its own. Where the socket cannot be written without waiting (not Unix, TLS), nothing is
// written and everything waits for Flush.
func (c *Conn) TryWriteText(payloads [][]byte) (done bool, err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return false, ErrClosed
	}
	bufs := c.frames(payloads)
	if c.deadlined {
		c.nc.SetWriteDeadline(time.Time{})
		c.deadlined = false
	}
	if c.rc == nil {
		if sc, ok := c.nc.(syscall.Conn); ok {
			c.rc, _ = sc.SyscallConn()
		}
	}
	for c.rc != nil && len(bufs) > 0 {
		n, wouldBlock, werr := writevNow(c.rc, bufs, &c.iov)
		if werr != nil {
			clear(c.bufs[:cap(c.bufs)])
			return false, werr
		}
		if wouldBlock {
			break
		}
		bufs = consume(bufs, n)
	}
	if cap(c.iov) > 64 {
		c.iov = nil // a burst's vector is not kept for the life of the connection
	}
	if len(bufs) == 0 {
		clear(c.bufs[:cap(c.bufs)])
		return true, nil
	}
	c.pend = bufs
	return false, nil
}

// setDeadline sets the deadline of a blocking write; call with wmu held.
func (c *Conn) setDeadline(deadline time.Time) {
	c.nc.SetWriteDeadline(deadline)
	c.deadlined = true
}

// consume drops the first n bytes of v.
func consume(v net.Buffers, n int) net.Buffers {
	for len(v) > 0 {
		if n < len(v[0]) {
			v[0] = v[0][n:]
			return v
		}
		n -= len(v[0])
		v[0] = nil
		v = v[1:]
	}
	return v
}

// Pending reports whether a TryWriteText left bytes that Flush must write.
func (c *Conn) Pending() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return len(c.pend) > 0
}

// Flush writes what TryWriteText left, waiting up to deadline. A timeout leaves the connection
// unusable: close it.
func (c *Conn) Flush(deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushLocked(deadline)
}

func (c *Conn) flushLocked(deadline time.Time) error {
	if len(c.pend) == 0 {
		return nil
	}
	p := c.pend
	c.pend = nil
	c.setDeadline(deadline)
	_, err := p.WriteTo(c.nc)
	clear(c.bufs[:cap(c.bufs)])
	return err
}

// WriteRaw writes bytes already framed (AppendText) by deadline.
func (c *Conn) WriteRaw(frames []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return ErrClosed
	}
	if err := c.flushLocked(deadline); err != nil {
		return err
	}
	c.setDeadline(deadline)
	_, err := c.nc.Write(frames)
	return err
}

// writeControl writes a control frame (ping answer or close) under the write lock.
func (c *Conn) writeControl(opcode byte, payload []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return ErrClosed
	}
	if err := c.flushLocked(deadline); err != nil { // never inside a half-written frame
		return err
	}
	if opcode == 0x8 {
		c.closing = true
	}
	frame := append(appendHeader(make([]byte, 0, 4+len(payload)), opcode, len(payload)), payload...)
	c.setDeadline(deadline)
	_, err := c.nc.Write(frame)
	return err
}

// closeTimeout bounds the wait for the client's answer to our close frame.
const closeTimeout = 5 * time.Second

// Close sends a close frame with code and reason, waits (up to 5 s) for the client to answer or
// go, and closes the socket. Waiting lets the close frame arrive rather than be lost to a reset.
func (c *Conn) Close(code int, reason string) error {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code))
	err := c.writeControl(0x8, append(p, reason...), time.Now().Add(closeTimeout))
	if err == nil {
		if c.polled {
			c.readUntilEnd(time.Now().Add(closeTimeout)) // no reader goroutine: wait by reading
		} else {
			t := time.NewTimer(closeTimeout)
			select {
			case <-c.readDone:
			case <-t.C:
			}
			t.Stop()
		}
	}
	c.CloseNow()
	return err
}

// readUntilEnd reads (blocking, until deadline) until the read side ends: after our close frame,
// the client's answer or its going away.
func (c *Conn) readUntilEnd(deadline time.Time) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.nc.SetReadDeadline(deadline)
	var buf [512]byte
	for !c.ended {
		n, err := c.nc.Read(buf[:])
		if n > 0 && c.consume(buf[:n]) {
			break
		}
		if err != nil {
			c.end(err)
		}
	}
}

// CloseNow closes the socket without a handshake.
func (c *Conn) CloseNow() {
	c.closeOne.Do(func() { c.nc.Close() })
}

// ReadLoop reads the client's frames until the connection ends: it answers pings, answers a close
// frame and returns, and drops data messages (a message over the limit closes with 1009). It
// returns nil after a close handshake, else why the connection ended. Call it once, and not for a
// connection given to a Poller.
func (c *Conn) ReadLoop(maxMessage int64) error {
	c.rmu.Lock()
	c.maxMessage = maxMessage
	done := c.consume(nil) // what net/http read ahead
	c.rmu.Unlock()
	var buf [512]byte
	for !done {
		n, err := c.nc.Read(buf[:])
		c.rmu.Lock()
		if n > 0 {
			done = c.consume(buf[:n])
		}
		if !done && err != nil {
			c.end(err)
			done = true
		}
		c.rmu.Unlock()
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.endErr
}

var (
	errProtocol = errors.New("websocket: protocol error")
	errTooBig   = errors.New("websocket: client message too big")
)

// end marks the read side over (once), with why.
func (c *Conn) end(err error) {
	if c.ended {
		return
	}
	c.ended, c.endErr = true, err
	close(c.readDone)
}

// consume parses b after what is pending: it answers pings and the close handshake, drops data,
// and keeps a partial frame for the next bytes. It reports whether the read side is over. Call
// with rmu held.
func (c *Conn) consume(b []byte) bool {
	if c.ended {
		return true
	}
	in := b
	if len(c.in) > 0 {
		in = append(c.in, b...)
	}
	for len(in) > 0 {
		if c.skip > 0 {
			k := min(c.skip, int64(len(in)))
			in, c.skip = in[k:], c.skip-k
			continue
		}
		if len(in) < 2 {
			break
		}
		fin, opcode := in[0]&0x80 != 0, in[0]&0x0F
		masked, n := in[1]&0x80 != 0, int64(in[1]&0x7F)
		if in[0]&0x70 != 0 || !masked {
			c.fail(StatusProtocolError, "frames must be masked, without extensions")
			c.end(errProtocol)
			return true
		}
		hl := 2
		switch n {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if len(in) < hl+4 {
			break
		}
		switch n {
		case 126:
			n = int64(binary.BigEndian.Uint16(in[2:4]))
		case 127:
			n = int64(binary.BigEndian.Uint64(in[2:10]) & (1<<63 - 1))
		}
		mask := in[hl : hl+4]
		if opcode < 0x8 { // data: counted, then dropped as it arrives
			c.msgLen += n
			if c.msgLen > c.maxMessage {
				c.fail(StatusTooBig, "message too big")
				c.end(errTooBig)
				return true
			}
			if fin {
				c.msgLen = 0
			}
			in, c.skip = in[hl+4:], n
			continue
		}
		// Control: ping, pong or close, at most 125 bytes, never fragmented.
		if n > 125 || !fin {
			c.fail(StatusProtocolError, "bad control frame")
			c.end(errProtocol)
			return true
		}
		if int64(len(in)) < int64(hl+4)+n {
			break
		}
		var ctl [125]byte
		p := ctl[:n]
		copy(p, in[hl+4:])
		for i := range p {
			p[i] ^= mask[i%4]
		}
		in = in[int64(hl+4)+n:]
		switch opcode {
		case 0x9: // ping
			if err := c.writeControl(0xA, p, time.Now().Add(closeTimeout)); err != nil && !errors.Is(err, ErrClosed) {
				c.end(err)
				return true
			}
		case 0x8: // close: answer with the same code (if we have not sent ours), then end
			code := StatusNormal
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			c.writeControl(0x8, binary.BigEndian.AppendUint16(nil, uint16(code)), time.Now().Add(closeTimeout))
			c.end(nil)
			return true
		}
	}
	// Keep a partial frame, in a buffer of its own (b is the caller's).
	if len(in) == 0 {
		c.in = c.in[:0]
		if cap(c.in) > 256 {
			c.in = nil
		}
	} else {
		c.in = append(c.in[:0:0], in...)
	}
	return false
}

// fail sends a close frame for a protocol problem; the caller's ReadLoop then ends.
func (c *Conn) fail(code int, reason string) {
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	c.writeControl(0x8, append(p, reason...), time.Now().Add(time.Second))
}

package wsserver

import (
	"errors"
	"io"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Poller reads the client side of many connections from one goroutine, so an idle client costs no
// goroutine at all. Stream clients rarely send anything (a ping now and then, the close
// handshake), so every Interval it reads, without blocking, whatever each connection has received
// and parses it: pings are answered, a close frame is answered, and a client that went away or
// broke the protocol is reported with onEnd. The cost is that a ping waits up to Interval for its
// pong, and a vanished client is noticed up to Interval late.
//
// The goroutine runs only while the poller has connections, so it needs no owner: it ends when
// the last connection does.
type Poller struct {
	interval time.Duration

	mu      sync.Mutex
	conns   map[*Conn]func()
	running bool
}

// NewPoller returns a poller that sweeps every interval.
func NewPoller(interval time.Duration) *Poller {
	return &Poller{interval: interval, conns: map[*Conn]func(){}}
}

// Add hands c's read side to the poller; onEnd runs once (from the poller's goroutine, or from
// Close) when the client closed, went away or broke the protocol. A connection whose socket
// cannot be read without blocking is refused: use ReadLoop for it.
func (p *Poller) Add(c *Conn, maxMessage int64, onEnd func()) error {
	if !pollable(c.nc) {
		return errors.New("wsserver: this connection cannot be polled on " + runtime.GOOS + "; read it with ReadLoop")
	}
	c.rmu.Lock()
	c.polled, c.maxMessage = true, maxMessage
	ended := c.consume(nil) // what net/http read ahead
	c.rmu.Unlock()
	if ended {
		onEnd()
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = onEnd
	if !p.running {
		p.running = true
		go p.loop()
	}
	return nil
}

// Len is the number of connections being polled.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Poller) loop() {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	var buf [4096]byte
	var list []*Conn
	for range t.C {
		p.mu.Lock()
		list = list[:0]
		for c := range p.conns {
			list = append(list, c)
		}
		p.mu.Unlock()
		for _, c := range list {
			if c.poll(buf[:]) {
				p.mu.Lock()
				onEnd := p.conns[c]
				delete(p.conns, c)
				p.mu.Unlock()
				if onEnd != nil {
					onEnd()
				}
			}
		}
		clear(list)
		p.mu.Lock()
		if len(p.conns) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// poll reads what the socket has without blocking and parses it; it reports whether the read
// side is over. A connection being read by Close is left alone this time.
func (c *Conn) poll(buf []byte) bool {
	if !c.rmu.TryLock() {
		return false
	}
	defer c.rmu.Unlock()
	if c.ended {
		return true
	}
	rc, err := c.nc.(syscall.Conn).SyscallConn()
	if err != nil {
		c.end(err)
		return true
	}
	for {
		n, wouldBlock, rerr := readNow(rc, buf)
		switch {
		case wouldBlock:
			return false
		case rerr != nil:
			c.end(rerr)
			return true
		case n == 0:
			c.end(io.EOF)
			return true
		}
		if c.consume(buf[:n]) {
			return true
		}
		if n < len(buf) {
			return false
		}
	}
}

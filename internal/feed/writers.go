package feed

import (
	"runtime"
	"sync"
	"time"
)

// writerPool writes the WebSocket clients' backlogs from a few goroutines, at most one per CPU,
// instead of one goroutine per client with something to send. A room's event fans out to every
// client: with a goroutine each, that wakes (or starts) one goroutine per client per event, and
// the goroutines that carry the next event upstream (the room's reader, the store's writer) wait
// in the run queue behind all of them. Here a publish puts the client on a queue, and a worker
// writes each queued client's backlog with one writev that never waits (wsserver.TryWriteText).
// A client whose socket is full is handed to a goroutine of its own, which waits, with the write
// deadline, as every client's writer did before: one slow client never holds up a worker.
//
// Workers run only while there is work: one that found the queue empty for workerLinger ends, so
// the pool needs no owner and an idle server has no worker.
type writerPool struct {
	max int // workers at most

	mu      sync.Mutex
	queue   []turn // clients with something to write, oldest first, from head on
	head    int
	workers int           // running
	idle    int           // waiting for work and not yet woken
	wake    chan struct{} // one token per woken idle worker; capacity max, so sends never block
}

// workerLinger is how long a worker waits for more work before it ends. A busy room queues
// clients many times a second, so the workers stay; a quiet server ends up with none.
const workerLinger = 250 * time.Millisecond

// yieldEvery is how many clients a worker serves before it lets other goroutines run: a worker
// never blocks while clients are queued, and the room's reader and the store's writer, which
// bring the next event, must not wait for a whole fan-out (or for the runtime's 10 ms preemption).
const yieldEvery = 64

// turn is what a worker does for one queued client (wsWriter.serve).
type turn interface{ serve() }

func newWriterPool(max int) *writerPool {
	if max <= 0 {
		max = runtime.GOMAXPROCS(0)
	}
	return &writerPool{max: max, wake: make(chan struct{}, max)}
}

// push queues c, which has something to write, for a worker. It never blocks.
func (p *writerPool) push(c turn) {
	p.mu.Lock()
	p.queue = append(p.queue, c)
	switch {
	case p.idle > 0:
		p.idle--
		p.mu.Unlock()
		p.wake <- struct{}{}
	case p.workers < p.max:
		p.workers++
		p.mu.Unlock()
		go p.work()
	default:
		p.mu.Unlock()
	}
}

// pop returns the next queued client, waiting up to workerLinger for one; nil means the worker
// is to end (and is no longer counted).
func (p *writerPool) pop(linger *time.Timer) turn {
	for {
		p.mu.Lock()
		if p.head < len(p.queue) {
			c := p.queue[p.head]
			p.queue[p.head] = nil
			p.head++
			if p.head == len(p.queue) {
				p.queue, p.head = p.queue[:0], 0
				if cap(p.queue) > 4096 {
					p.queue = nil // let a burst's array go
				}
			}
			p.mu.Unlock()
			return c
		}
		p.idle++
		p.mu.Unlock()
		linger.Reset(workerLinger)
		select {
		case <-p.wake:
			linger.Stop()
			continue
		case <-linger.C:
		}
		p.mu.Lock()
		if p.idle > 0 { // nobody woke us: leave
			p.idle--
			p.workers--
			p.mu.Unlock()
			return nil
		}
		// Every waiting worker was claimed by a push, this one too: its token is coming.
		p.mu.Unlock()
		<-p.wake
	}
}

func (p *writerPool) work() {
	linger := time.NewTimer(workerLinger)
	defer linger.Stop()
	for n := 1; ; n++ {
		c := p.pop(linger)
		if c == nil {
			return
		}
		c.serve()
		if n%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
}

// running is the number of workers (tests).
func (p *writerPool) running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.workers
}

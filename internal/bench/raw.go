package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RawServer is the featureless broadcaster, the bench's "raw" target: the physical limit of fanning
// the same events out to N WebSockets on this machine. It reads already-encoded JSON events, one
// per line, from a plain TCP ingest socket (the bench tool's emitter writes them), frames each
// once as a WebSocket text frame, appends it to a shared log, and every client's goroutine writes
// everything it has not sent yet with one writev. No TikTok protocol, no decode, no JSON encoding,
// no filters, no per-client queue limits: what it costs is the fan-out alone.
type RawServer struct {
	log      *slog.Logger
	ws, in   net.Listener
	http     *http.Server
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // ingest readers and client goroutines
	mu       sync.Mutex
	frames   [][]byte // frames[i] is frame number base+i
	base     int64
	wake     chan struct{} // closed (and replaced) when frames are appended
	clients  map[*rawClient]struct{}
	closeErr error
	once     sync.Once
}

type rawClient struct {
	next atomic.Int64 // number of the next frame to send
	conn net.Conn
}

// rawTrimAt is how many frames the log holds before those every client has sent are dropped.
const rawTrimAt = 8192

// StartRaw listens on addr (WebSocket at /, GET /health) and on another loopback port for the
// ingest socket.
func StartRaw(ctx context.Context, addr string, log *slog.Logger) (*RawServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	ws, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raw broadcaster: listen %s: %w", addr, err)
	}
	in, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("raw broadcaster: listen for ingest: %w", err)
	}
	s := &RawServer{log: log, ws: ws, in: in, wake: make(chan struct{}), clients: make(map[*rawClient]struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		n := len(s.clients)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","wsClients":%d}`, n)
	})
	mux.HandleFunc("GET /{$}", s.handleWS)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	s.wg.Go(func() { _ = s.http.Serve(ws) })
	s.wg.Go(s.acceptIngest)
	return s, nil
}

// URL is the base URL, http://127.0.0.1:PORT.
func (s *RawServer) URL() string { return "http://" + s.ws.Addr().String() }

// IngestAddr is where the emitter connects to send JSON lines.
func (s *RawServer) IngestAddr() string { return s.in.Addr().String() }

// Close drops every client and waits for every goroutine.
func (s *RawServer) Close() error {
	s.once.Do(func() {
		s.cancel()
		_ = s.in.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.closeErr = s.http.Shutdown(ctx)
		s.mu.Lock()
		for c := range s.clients {
			_ = c.conn.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s.closeErr
}

func (s *RawServer) acceptIngest() {
	for {
		c, err := s.in.Accept()
		if err != nil {
			return
		}
		s.wg.Go(func() {
			stop := context.AfterFunc(s.ctx, func() { _ = c.Close() })
			defer stop()
			defer c.Close()
			s.ingest(c)
		})
	}
}

// ingest turns each line into one pre-encoded WebSocket text frame.
func (s *RawServer) ingest(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 1 && err == nil {
			s.publish(wsTextFrame(line[:len(line)-1]))
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("raw broadcaster: ingest", "err", err)
			}
			return
		}
	}
}

// wsTextFrame is an unmasked, final text frame holding p.
func wsTextFrame(p []byte) []byte {
	var h [10]byte
	h[0] = 0x81
	n := 2
	switch l := len(p); {
	case l < 126:
		h[1] = byte(l)
	case l < 1<<16:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(l))
		n = 4
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(l))
		n = 10
	}
	return append(append(make([]byte, 0, n+len(p)), h[:n]...), p...)
}

func (s *RawServer) publish(f []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames = append(s.frames, f)
	if len(s.frames) >= 2*rawTrimAt {
		low := s.base + int64(len(s.frames))
		for c := range s.clients {
			low = min(low, c.next.Load())
		}
		if drop := int(low - s.base); drop > 0 {
			s.frames = append([][]byte(nil), s.frames[drop:]...) // a new array, so the old frames can be freed
			s.base = low
		}
	}
	close(s.wake)
	s.wake = make(chan struct{})
}

// pending returns the frames from number next on, and the channel closed on the next publish.
func (s *RawServer) pending(next int64) ([][]byte, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames[next-s.base:], s.wake
}

func (s *RawServer) handleWS(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "websocket only", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + wsAccept(key) + "\r\n\r\n")
	if brw.Flush() != nil {
		conn.Close()
		return
	}
	c := &rawClient{conn: conn}
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		conn.Close()
		return
	}
	c.next.Store(s.base + int64(len(s.frames))) // from now on, as the servers' clients get
	s.clients[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go s.serveClient(c)
}

func (s *RawServer) serveClient(c *rawClient) {
	defer s.wg.Done()
	gone := make(chan struct{})
	s.wg.Go(func() { // reads until the client leaves; its frames are not looked at
		defer close(gone)
		_, _ = io.Copy(io.Discard, c.conn)
	})
	defer func() {
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
		c.conn.Close()
	}()
	var out net.Buffers
	for {
		next := c.next.Load()
		frames, wake := s.pending(next)
		if len(frames) == 0 {
			select {
			case <-wake:
				continue
			case <-gone:
			case <-s.ctx.Done():
			}
			return
		}
		out = append(out[:0], frames...) // WriteTo consumes its slice: never hand it the shared log
		bufs := out
		_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := bufs.WriteTo(c.conn); err != nil {
			return
		}
		c.next.Store(next + int64(len(frames)))
	}
}

// RunRaw runs the raw broadcaster until ctx ends: `tiktok-live-server bench -serve-raw`. It prints
// "raw broadcaster listening on http://ADDR ingest HOST:PORT" on w once ready.
func RunRaw(ctx context.Context, addr string, w io.Writer, log *slog.Logger) error {
	s, err := StartRaw(ctx, addr, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "raw broadcaster listening on %s ingest %s\n", s.URL(), s.IngestAddr())
	<-ctx.Done()
	return s.Close()
}

// rawListening matches RunRaw's ready line.
var rawListeningPrefix = "raw broadcaster listening on "

func parseRawListening(line string) (base, ingest string, ok bool) {
	rest, ok := strings.CutPrefix(line, rawListeningPrefix)
	if !ok {
		return "", "", false
	}
	base, ingest, ok = strings.Cut(rest, " ingest ")
	if !ok || !strings.HasPrefix(base, "http://") {
		return "", "", false
	}
	if _, _, err := net.SplitHostPort(ingest); err != nil {
		return "", "", false
	}
	if _, err := strconv.Atoi(base[strings.LastIndexByte(base, ':')+1:]); err != nil {
		return "", "", false
	}
	return base, ingest, true
}

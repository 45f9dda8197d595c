package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/web"
)

// resumeServer is a stand-in for the server's /v1 side that speaks the resume protocol exactly as
// specified, so the page's half of it is tested on its own: a reconnect with since=&epoch= gets a
// "resume" message, then the missed events (with a deliberate overlap of two already delivered, which
// the page must drop), then live ones; an unknown epoch gets recovered:false.
type resumeServer struct {
	mu     sync.Mutex
	epoch  string
	log    [][]byte
	wake   chan struct{} // closed and replaced on every publish
	closed chan struct{} // closed and replaced by restart: ends every socket
}

const fakeRoom = "resumer"

func newResumeServer(t *testing.T) (*resumeServer, *server) {
	rs := &resumeServer{epoch: "epoch-one", wake: make(chan struct{}), closed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", web.Handler())
	mux.Handle("GET /assets/", web.Handler())
	mux.HandleFunc("GET /v1/rooms", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"rooms":[{"username":%q,"state":"connected","nextRetryAt":null,"counters":{"viewers":7,"likes":0,"diamonds":0,"follows":0,"shares":0}}]}`, fakeRoom)
	})
	mux.HandleFunc("GET /v1/ws", rs.serveWS)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { rs.restart(""); srv.Close() })
	return rs, &server{base: srv.URL, host: strings.TrimPrefix(srv.URL, "http://")}
}

func (rs *resumeServer) publish(comment string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	seq := len(rs.log) + 1
	ev, _ := json.Marshal(map[string]any{
		"type": "chat", "username": fakeRoom, "seq": seq, "epoch": rs.epoch, "id": strconv.Itoa(1000 + seq),
		"time": time.Now().UTC().Format(event.TimeLayout),
		"data": map[string]any{"comment": comment, "user": map[string]any{"userId": "42", "uniqueId": "carl", "nickname": "Carl"}},
	})
	rs.log = append(rs.log, ev)
	close(rs.wake)
	rs.wake = make(chan struct{})
}

// restart models a server restart: a new epoch, an empty log, every socket closed.
func (rs *resumeServer) restart(epoch string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.epoch, rs.log = epoch, nil
	close(rs.closed)
	rs.closed = make(chan struct{})
}

func (rs *resumeServer) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx := conn.CloseRead(r.Context())
	q := r.URL.Query()
	rs.mu.Lock()
	next := len(rs.log) // live only, unless resuming
	closed := rs.closed
	var hello []byte
	if since, err := strconv.Atoi(q.Get("since")); err == nil && q.Has("epoch") {
		recovered := q.Get("epoch") == rs.epoch && since <= len(rs.log)
		replayed := 0
		if recovered {
			next = max(0, since-2) // overlap on purpose: the page must not show these twice
			replayed = len(rs.log) - next
		}
		hello, _ = json.Marshal(map[string]any{"type": "resume", "username": fakeRoom, "seq": 0, "epoch": rs.epoch,
			"data": map[string]any{"recovered": recovered, "since": since, "sinceEpoch": q.Get("epoch"), "replayed": replayed}})
	}
	rs.mu.Unlock()
	if hello != nil {
		if conn.Write(ctx, websocket.MessageText, hello) != nil {
			return
		}
	}
	for {
		rs.mu.Lock()
		batch := rs.log[min(next, len(rs.log)):]
		next = len(rs.log)
		wake := rs.wake
		rs.mu.Unlock()
		for _, ev := range batch {
			if conn.Write(ctx, websocket.MessageText, ev) != nil {
				return
			}
		}
		select {
		case <-wake:
		case <-closed:
			conn.Close(websocket.StatusGoingAway, "restart")
			return
		case <-ctx.Done():
			return
		}
	}
}

// TestDashboard_ResumeProtocol: the page resumes after its socket drops (the missed events arrive,
// seqs contiguous, the replayed overlap not shown twice), and after a server restart
// (recovered:false) it clears the feed and starts over in the new epoch.
func TestDashboard_ResumeProtocol(t *testing.T) {
	needBrowser(t)
	rs, s := newResumeServer(t)
	b := newBrowser(t, s)
	b.open("/?room=" + fakeRoom)
	b.waitJS("the page's socket open", `window.__dash.socket && window.__dash.socket.readyState === 1`)
	for i := range 3 {
		rs.publish(fmt.Sprint("before the drop ", i))
	}
	b.waitJS("three lines", `window.__dash.feedCount() === 3`)

	eval[bool](b, `window.__dash.hold(true), window.__dash.socket.close(), true`)
	b.waitJS("the socket closed", `!window.__dash.socket || window.__dash.socket.readyState === 3`)
	for i := range 3 {
		rs.publish(fmt.Sprint("while away ", i))
	}
	eval[bool](b, `window.__dash.hold(false), true`)
	b.waitJS("six lines after the resume", `window.__dash.feedCount() === 6 && window.__dash.lastSeq('`+fakeRoom+`') === 6`)
	rs.publish("after the resume")
	b.waitJS("the live line", `window.__dash.feedCount() === 7`)
	if err := contiguous(eval[[]int](b, `window.__dash.seqs('`+fakeRoom+`')`)); err != nil {
		t.Errorf("seqs after the resume: %v", err)
	}
	if got := eval[[]int](b, `window.__dash.seqs('`+fakeRoom+`')`); len(got) != 7 || got[0] != 1 {
		t.Errorf("seqs %v, want 1..7", got)
	}

	// A restart: the old position means nothing in the new epoch, so the page starts over.
	rs.restart("epoch-two")
	b.waitJS("back after the restart", `window.__dash.opens() >= 3 && window.__dash.socket && window.__dash.socket.readyState === 1 && window.__dash.epoch('`+fakeRoom+`') === 'epoch-two'`)
	b.waitJS("the feed cleared", `window.__dash.feedCount() === 0`)
	rs.publish("first of the new epoch")
	b.waitJS("the new epoch's line", `window.__dash.feedCount() === 1 && window.__dash.lastSeq('`+fakeRoom+`') === 1`)
	if seqs := eval[[]int](b, `window.__dash.seqs('`+fakeRoom+`')`); len(seqs) != 1 || seqs[0] != 1 {
		t.Errorf("seqs after the restart %v, want [1]", seqs)
	}
	if txt := eval[string](b, `document.getElementById('feed').textContent`); !strings.Contains(txt, "first of the new epoch") || strings.Contains(txt, "before the drop") {
		t.Errorf("feed after the restart: %q", txt)
	}
}

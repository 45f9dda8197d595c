package testutil

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// WSClient is a WebSocket client that records every JSON message it receives, until the
// connection ends. Tests read what it saw with Events and why it ended with Err.
type WSClient struct {
	Conn *websocket.Conn
	mu   sync.Mutex
	msgs []map[string]any
	err  error
	done chan struct{}
}

// DialWS connects to url (ws://...) and starts recording; the test's cleanup closes it.
func DialWS(t testing.TB, url string) *WSClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	conn.SetReadLimit(16 << 20)
	c := &WSClient{Conn: conn, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				m = map[string]any{"unparsed": string(b)}
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.CloseNow(); <-c.done })
	return c
}

// HTTPToWS turns an http:// base URL into the ws:// one.
func HTTPToWS(base string) string { return "ws" + strings.TrimPrefix(base, "http") }

// Events returns a copy of the messages received so far.
func (c *WSClient) Events() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.msgs...)
}

// Done is closed when the connection has ended.
func (c *WSClient) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it is open).
func (c *WSClient) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Dig walks a decoded JSON value along keys; nil where a key is missing.
func Dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

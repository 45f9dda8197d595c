package hub

import (
	"context"
	"testing"
)

// TestHub_Unfinished: after Close, a subscription counts until its transport releases it (Close
// or Fail), with the messages it has not taken yet; one released, or still live, does not.
func TestHub_Unfinished(t *testing.T) {
	h := New(Options{})
	flushed := subscribe(t, h, Filter{}, "ws")
	stuck := subscribe(t, h, Filter{}, "ws")
	failed := subscribe(t, h, Filter{}, "sse")
	for i := range 3 {
		h.Publish(msg("a", "chat", uint64(i+1), 10))
	}
	if c, m := h.Unfinished(); c != 0 || m != 0 {
		t.Fatalf("before Close: Unfinished = %d clients, %d messages; want 0, 0", c, m)
	}
	h.Close()
	tests := []struct {
		name         string
		do           func()
		wantClients  int
		wantMessages int
	}{
		{"all closing, nothing taken", func() {}, 3, 9},
		{"one took its queue but has not finished", func() {
			if _, err := stuck.Next(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		}, 3, 6},
		{"one failed (a write timed out)", func() { failed.Fail(ErrWriteTimeout) }, 2, 3},
		{"one flushed and released", func() { flushed.Close() }, 1, 0},
		{"the last released", func() { stuck.Close() }, 0, 0},
	}
	for _, tc := range tests {
		tc.do()
		if c, m := h.Unfinished(); c != tc.wantClients || m != tc.wantMessages {
			t.Errorf("%s: Unfinished = %d clients, %d messages; want %d, %d", tc.name, c, m, tc.wantClients, tc.wantMessages)
		}
	}
}

package wsserver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tiktok-live-server/tiktok-live-server/internal/leakcheck"
)

func TestConn_TryWriteText(t *testing.T) {
	leakcheck.Check(t)
	url, conns, ended := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.SetReadLimit(1 << 20)
	c := <-conns
	payload := func(i int) []byte {
		return fmt.Appendf(nil, "%06d:%s", i, strings.Repeat("p", 40<<10+i%300))
	}
	// The client does not read: write without waiting until the socket is full.
	n := 0
	for done := true; done; {
		if n > 2000 {
			t.Fatal("80 MB written and the socket never full")
		}
		var err error
		done, err = c.TryWriteText([][]byte{payload(n), payload(n + 1)})
		if err != nil {
			t.Fatal(err)
		}
		n += 2
	}
	if !c.Pending() {
		t.Fatal("TryWriteText reported not done but keeps nothing")
	}
	// More while the rest waits: it goes after the rest (still nothing written in between).
	if _, err := c.TryWriteText([][]byte{payload(n)}); err != nil {
		t.Fatal(err)
	}
	n++
	// The client reads now; Flush waits for room and writes the rest, every frame whole.
	got := make(chan error, 1)
	go func() {
		for i := range n + 2 {
			_, b, err := cl.Read(ctx)
			want := payload(i)
			if i == n+1 {
				want = []byte("after")
			}
			if i == n {
				want = []byte("blocking")
			}
			if err != nil || string(b) != string(want) {
				got <- fmt.Errorf("message %d: %.10q %v, want %.10q", i, b, err, want)
				return
			}
		}
		got <- nil
	}()
	if err := c.Flush(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if c.Pending() {
		t.Fatal("Pending after Flush")
	}
	// A blocking write's deadline must not outlive it: once it has passed, a try still writes.
	deadline := time.Now().Add(20 * time.Millisecond)
	if err := c.WriteText([][]byte{[]byte("blocking")}, deadline); err != nil {
		t.Fatal(err)
	}
	for !time.Now().After(deadline) {
		time.Sleep(time.Millisecond) // waiting for the clock, not for another goroutine
	}
	done, err := c.TryWriteText([][]byte{[]byte("after")})
	if err != nil || !done {
		t.Fatalf("TryWriteText after a past deadline: done %v, %v", done, err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	go cl.Read(ctx) // sees the close frame and answers it
	if err := c.Close(StatusNormal, ""); err != nil {
		t.Fatal(err)
	}
	<-ended
}

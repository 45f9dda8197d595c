package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/cluster"
	"github.com/tiktok-live-server/tiktok-live-server/internal/cluster/clustertest"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/store"
)

// BenchmarkCluster_Events measures events/s from the rooms' streams to delivery (committed in
// the node's SQLite log, then handed to the hub), side by side:
//
//	single   one node: stream.Log = the store (as without cluster flags)
//	nats-r1  cluster mode, one embedded NATS server: chain → JetStream → archiver → store
//	nats-r3  cluster mode, three embedded NATS servers, stream replicated 3 times
//
// go test -run '^$' -bench BenchmarkCluster_Events -benchtime 20000x ./internal/cluster/
func BenchmarkCluster_Events(b *testing.B) {
	const rooms = 20
	for _, mode := range []string{"single", "nats-r1", "nats-r3"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			var delivered atomic.Int64
			var arch atomic.Pointer[cluster.Archiver]
			st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir(), Deliver: func(m *event.Encoded) {
				if a := arch.Load(); a != nil {
					a.Delivered(m)
				}
				delivered.Add(1)
			}})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			// appendRoom appends n events of room r, in order, as its owner would.
			var appendRoom func(r string, n int)
			switch mode {
			case "single":
				appendRoom = func(r string, n int) {
					for s := 1; s <= n; s++ {
						m := encoded(r, "e", uint64(s), "bench")
						e := event.Event{Type: event.TypeChat, Username: r, Seq: uint64(s), Epoch: "e"}
						st.Append(&e, m)
					}
				}
			default:
				n := 1
				if mode == "nats-r3" {
					n = 3
				}
				nc := clustertest.Start(b, n)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				c, err := cluster.Dial(ctx, cluster.Config{URLs: nc.URLs(), NodeID: "bench", Replicas: nc.Replicas(), LeaseTTL: time.Minute})
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				a := cluster.NewArchiver(c, cluster.ArchiverConfig{Sink: st, Backlog: func() int { return st.Stats().Pending }})
				arch.Store(a)
				actx, stop := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); _ = a.Run(actx) }()
				defer func() { stop(); <-done }()
				chains := map[string]*cluster.Chain{}
				for i := range rooms {
					r := fmt.Sprintf("room%d", i)
					l, err := c.Claim(context.Background(), r)
					if err != nil {
						b.Fatal(err)
					}
					ch, err := c.ClaimChain(context.Background(), l)
					if err != nil {
						b.Fatal(err)
					}
					chains[r] = ch
					rctx, stopChain := context.WithCancel(context.Background())
					chainDone := make(chan struct{})
					go func() { defer close(chainDone); ch.Run(rctx) }()
					defer func() { stopChain(); <-chainDone }()
				}
				// As the room's stream does (Log.Append): queued, the chain appends in batches.
				appendRoom = func(r string, n int) {
					for s := 1; s <= n; s++ {
						chains[r].Enqueue(encoded(r, "e", uint64(s), "bench"))
					}
				}
			}
			per := max(b.N/rooms, 1)
			b.ResetTimer()
			began := time.Now()
			var wg sync.WaitGroup
			for i := range rooms {
				wg.Go(func() { appendRoom(fmt.Sprintf("room%d", i), per) })
			}
			wg.Wait()
			want := int64(per * rooms)
			for delivered.Load() < want {
				time.Sleep(time.Millisecond) // waiting for the last commit; the figure is the whole run
			}
			el := time.Since(began)
			b.StopTimer()
			b.ReportMetric(float64(want)/el.Seconds(), "events/s")
		})
	}
}

package webcast_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// benchFrame is a realistic push frame: one of every sample message, gzip'd as TikTok sends it.
func benchFrame(b *testing.B, gzip bool) ([]byte, int) {
	b.Helper()
	var msgs []*pb.WireMessage
	for _, s := range webcasttest.Samples() {
		msgs = append(msgs, &pb.WireMessage{Method: s.Method, Payload: s.Payload(), MsgId: s.MsgID})
	}
	res, err := proto.Marshal(&pb.FetchResult{Messages: msgs, Cursor: "t-1_r-1", InternalExt: "internal_src:bench", NeedsAck: true})
	if err != nil {
		b.Fatal(err)
	}
	f := &pb.PushFrame{SeqId: 1, LogId: 7, PayloadEncoding: "pb", PayloadType: webcast.FrameMsg, Payload: res}
	if gzip {
		f.Payload = webcast.Gzip(res)
		f.Headers = map[string]string{"compress_type": "gzip"}
	}
	return webcast.EncodeFrame(f), len(msgs)
}

// BenchmarkDecodeFrame measures the whole receive path of one frame: push frame, (gunzip),
// fetch result, and every message decoded into its typed value.
func BenchmarkDecodeFrame(b *testing.B) {
	for _, tc := range []struct {
		name string
		gzip bool
	}{{"plain", false}, {"gzip", true}} {
		b.Run(tc.name, func(b *testing.B) {
			frame, n := benchFrame(b, tc.gzip)
			now := time.Now()
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			b.ResetTimer()
			for b.Loop() {
				f, err := webcast.DecodeFrame(frame)
				if err != nil {
					b.Fatal(err)
				}
				r, err := webcast.DecodeFetchResult(f.GetPayload())
				if err != nil {
					b.Fatal(err)
				}
				if ms := webcast.Messages(r, false, now); len(ms) != n {
					b.Fatalf("%d messages, want %d", len(ms), n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
		})
	}
}

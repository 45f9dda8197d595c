package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

// DecodeFrames are the push frames of the decode comparison: the frame BenchmarkDecodeFrame
// (internal/webcast) decodes, one of every sample message, plain and gzip'd, built the same way,
// except for the deliberately corrupt sample: the Node library rejects a whole frame for one bad
// message, so with it there would be nothing to time. The Node script
// (scripts/node-decode-bench.mjs) decodes these bytes with tiktok-live-connector.
type DecodeFrames struct {
	Messages int    `json:"messages"` // per frame
	Plain    []byte `json:"plain"`    // base64 in JSON
	Gzip     []byte `json:"gzip"`
}

// BuildDecodeFrames builds the frames.
func BuildDecodeFrames() (DecodeFrames, error) {
	var msgs []*pb.WireMessage
	for _, s := range webcasttest.Samples() {
		if s.Name == "corrupt" {
			continue
		}
		msgs = append(msgs, &pb.WireMessage{Method: s.Method, Payload: s.Payload(), MsgId: s.MsgID})
	}
	res, err := proto.Marshal(&pb.FetchResult{Messages: msgs, Cursor: "t-1_r-1", InternalExt: "internal_src:bench", NeedsAck: true})
	if err != nil {
		return DecodeFrames{}, fmt.Errorf("decode frames: %w", err)
	}
	plain := &pb.PushFrame{SeqId: 1, LogId: 7, PayloadEncoding: "pb", PayloadType: webcast.FrameMsg, Payload: res}
	gz := &pb.PushFrame{SeqId: 1, LogId: 7, PayloadEncoding: "pb", PayloadType: webcast.FrameMsg,
		Payload: webcast.Gzip(res), Headers: map[string]string{"compress_type": "gzip"}}
	return DecodeFrames{Messages: len(msgs), Plain: webcast.EncodeFrame(plain), Gzip: webcast.EncodeFrame(gz)}, nil
}

// WriteDecodeFrames writes the frames as JSON to w.
func WriteDecodeFrames(w io.Writer) error {
	f, err := BuildDecodeFrames()
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(f)
}

// ReadDecodeFrames reads a file written by WriteDecodeFrames.
func ReadDecodeFrames(path string) (DecodeFrames, error) {
	var f DecodeFrames
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil {
		return f, fmt.Errorf("decode frames %s: %w (write it with 'tiktok-live-server bench -write-frames FILE')", path, err)
	}
	return f, nil
}

// DecodeTiming is the decode figure of one frame kind.
type DecodeTiming struct {
	Kind         string  `json:"kind"` // plain or gzip
	Frames       int     `json:"frames"`
	UsPerMessage float64 `json:"usPerMessage"`
}

// TimeGoDecode decodes each frame kind for about d on one goroutine, as BenchmarkDecodeFrame does
// (push frame, gunzip, fetch result, every message into its typed value), and returns µs/message.
func TimeGoDecode(f DecodeFrames, d time.Duration) ([]DecodeTiming, error) {
	var out []DecodeTiming
	now := time.Now()
	for _, k := range []struct {
		name  string
		frame []byte
	}{{"plain", f.Plain}, {"gzip", f.Gzip}} {
		n := 0
		start := time.Now()
		for time.Since(start) < d {
			for range 100 {
				fr, err := webcast.DecodeFrame(k.frame)
				if err != nil {
					return nil, fmt.Errorf("decode %s frame: %w", k.name, err)
				}
				r, err := webcast.DecodeFetchResult(fr.GetPayload())
				if err != nil {
					return nil, fmt.Errorf("decode %s frame: %w", k.name, err)
				}
				if ms := webcast.Messages(r, false, now); len(ms) != f.Messages {
					return nil, fmt.Errorf("decode %s frame: %d messages, want %d", k.name, len(ms), f.Messages)
				}
			}
			n += 100
		}
		el := time.Since(start)
		out = append(out, DecodeTiming{Kind: k.name, Frames: n, UsPerMessage: float64(el.Microseconds()) / float64(n*f.Messages)})
	}
	return out, nil
}

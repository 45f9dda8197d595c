package webcast

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// Payload types of a PushFrame.
const (
	FrameMsg           = "msg"
	FrameHeartbeat     = "hb"
	FrameAck           = "ack"
	FrameEnterRoom     = "im_enter_room"
	FrameEnterRoomResp = "im_enter_room_resp"
)

// MaxFrameBytes bounds a decompressed payload: a frame that inflates past it is rejected, so a
// hostile upstream cannot make us allocate without limit.
const MaxFrameBytes = 8 << 20

var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// DecodeFrame parses one binary WebSocket message.
func DecodeFrame(b []byte) (*pb.PushFrame, error) {
	f := new(pb.PushFrame)
	if err := proto.Unmarshal(b, f); err != nil {
		return nil, &Error{Kind: KindDecode, Op: "decode push frame", Err: err}
	}
	return f, nil
}

// DecodeFetchResult parses a "msg" payload, inflating it first when it is gzip (detected by its magic
// bytes, as the JS client does, or by the compress_type header).
func DecodeFetchResult(payload []byte) (*pb.FetchResult, error) {
	raw := payload
	if bytes.HasPrefix(payload, gzipMagic) {
		buf := inflateBufs.Get().(*bytes.Buffer)
		defer putInflateBuf(buf)
		if err := inflate(buf, payload); err != nil {
			return nil, err
		}
		raw = buf.Bytes() // Unmarshal copies what it keeps, so the buffer can go back after it
	}
	r := new(pb.FetchResult)
	if err := proto.Unmarshal(raw, r); err != nil {
		return nil, &Error{Kind: KindDecode, Op: "decode fetch result", Err: err}
	}
	return r, nil
}

// Inflaters and their output buffers are reused: a gzip reader holds a 32 KiB window and more,
// and every push frame of a busy room is gzip'd.
var (
	gzReaders   sync.Pool // *gzip.Reader
	inflateBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func putInflateBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 { // one huge frame must not pin its buffer for ever
		b.Reset()
		inflateBufs.Put(b)
	}
}

// inflate gunzips payload into buf, refusing output past MaxFrameBytes.
func inflate(buf *bytes.Buffer, payload []byte) error {
	var zr *gzip.Reader
	var err error
	if pooled, ok := gzReaders.Get().(*gzip.Reader); ok {
		zr, err = pooled, pooled.Reset(bytes.NewReader(payload))
	} else {
		zr, err = gzip.NewReader(bytes.NewReader(payload))
	}
	if err != nil {
		return &Error{Kind: KindDecode, Op: "gunzip payload", Err: err}
	}
	defer gzReaders.Put(zr)
	if _, err := buf.ReadFrom(io.LimitReader(zr, MaxFrameBytes+1)); err != nil {
		return &Error{Kind: KindDecode, Op: "gunzip payload", Err: err}
	}
	if buf.Len() > MaxFrameBytes {
		return &Error{Kind: KindDecode, Op: "gunzip payload", Err: fmt.Errorf("inflates past %d bytes", MaxFrameBytes)}
	}
	return nil
}

// Messages turns the messages of a fetch result into Messages. history marks them all as history
// (the initial batch of a connect).
func Messages(r *pb.FetchResult, history bool, now time.Time) []Message {
	out := make([]Message, 0, len(r.GetMessages()))
	for _, w := range r.GetMessages() {
		out = append(out, newMessageFrom(w, history, now))
	}
	return out
}

// EncodeFrame marshals a frame (used for the frames a client sends and by the fake upstream).
func EncodeFrame(f *pb.PushFrame) []byte {
	b, _ := proto.Marshal(f) // cannot fail for a well-formed generated message
	return b
}

// Gzip compresses b (the fake upstream and tests use it; the real TikTok gzips when compress=gzip).
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw, ok := gzWriters.Get().(*gzip.Writer)
	if ok {
		zw.Reset(&buf)
	} else {
		zw = gzip.NewWriter(&buf)
	}
	_, _ = zw.Write(b)
	_ = zw.Close()
	gzWriters.Put(zw)
	return buf.Bytes()
}

// gzWriters are reused: a gzip writer allocates its compressor's tables (hundreds of KiB).
var gzWriters sync.Pool // *gzip.Writer

// EncodeEnterRoom is the payload of an "im_enter_room" frame.
func EncodeEnterRoom(roomID uint64) []byte {
	b, _ := proto.Marshal(&pb.EnterRoomRequest{
		RoomId: int64(roomID), LiveId: 12, Identity: "audience", FilterWelcomeMsg: "0",
	})
	return b
}

// EncodeHeartbeat is the payload of an "hb" frame.
func EncodeHeartbeat(roomID uint64, seq int64) []byte {
	b, _ := proto.Marshal(&pb.HeartbeatRequest{RoomId: roomID, SendPacketSeqId: seq})
	return b
}

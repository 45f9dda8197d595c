package faketiktok

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// TestServer_InjectBatch: a batch reaches an open socket as one frame, in order, with fresh ids
// and filled common fields, and is logged as emitted.
func TestServer_InjectBatch(t *testing.T) {
	f := start(t, Options{Default: StreamConfig{HistorySize: -1}})
	id := f.srv.RoomID("streamer")
	c, _ := f.dial(id)

	if got := f.srv.InjectBatch("streamer", nil); got != nil {
		t.Errorf("empty batch gave ids %v", got)
	}
	comments := []string{"one", "two", "three"}
	var in []Injection
	for _, s := range comments {
		in = append(in, Injection{Method: webcast.MethodChat, Msg: &pb.ChatMessage{Common: &pb.MessageCommon{}, Comment: s}})
	}
	ids := f.srv.InjectBatch("streamer", in)
	if len(ids) != len(comments) || !slices.IsSorted(ids) || ids[0] == ids[1] {
		t.Fatalf("ids %v, want %d rising", ids, len(comments))
	}

	frame, res := c.frame()
	if frame.GetPayloadType() != webcast.FrameMsg || len(res.GetMessages()) != len(comments) {
		t.Fatalf("first frame: type %q with %d messages, want one msg frame with %d", frame.GetPayloadType(),
			len(res.GetMessages()), len(comments))
	}
	for i, w := range res.GetMessages() {
		var m pb.ChatMessage
		if err := proto.Unmarshal(w.GetPayload(), &m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if w.GetMsgId() != ids[i] || m.GetComment() != comments[i] || m.GetCommon().GetMsgId() != ids[i] ||
			m.GetCommon().GetRoomId() != id || m.GetCommon().GetCreateTimeMs() == 0 {
			t.Errorf("message %d: id %d comment %q common %v; want id %d comment %q", i, w.GetMsgId(), m.GetComment(),
				m.GetCommon(), ids[i], comments[i])
		}
	}
	em := f.srv.Emitted("streamer")
	if len(em) < 3 || em[len(em)-1].MsgID != ids[2] || em[len(em)-3].MsgID != ids[0] {
		t.Errorf("emitted %v does not end with %v", em, ids)
	}
}

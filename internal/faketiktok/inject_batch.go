package faketiktok

import "google.golang.org/protobuf/proto"

// Injection is one message for InjectBatch.
type Injection struct {
	Method string
	Msg    proto.Message // owned by the fake from the call on (not cloned: a load generator sends many)
}

// InjectBatch pushes messages into the room's stream now, all in one frame (as TikTok batches
// messages due together), starting the broadcast if the room is live. Like Inject it fills
// common.msg_id, room_id, create_time_ms and method where they are zero. It returns the message
// ids in order. The bench tool's fixed-rate emitter uses it: one lock and one frame per tick
// instead of one per message.
func (s *Server) InjectBatch(name string, msgs []Injection) []int64 {
	if len(msgs) == 0 {
		return nil
	}
	ms := make([]message, len(msgs))
	for i, in := range msgs {
		ms[i] = message{method: in.Method, msg: in.Msg}
	}
	r := s.room(name)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startLocked()
	return r.publishLocked(ms, pubLive)
}

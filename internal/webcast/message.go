package webcast

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/pb"
)

// Method names of the event messages we decode into typed values.
const (
	MethodChat          = "WebcastChatMessage"
	MethodGift          = "WebcastGiftMessage"
	MethodLike          = "WebcastLikeMessage"
	MethodMember        = "WebcastMemberMessage"
	MethodSocial        = "WebcastSocialMessage"
	MethodRoomUserSeq   = "WebcastRoomUserSeqMessage"
	MethodControl       = "WebcastControlMessage"
	MethodSubNotify     = "WebcastSubNotifyMessage"
	MethodQuestionNew   = "WebcastQuestionNewMessage"
	MethodEmoteChat     = "WebcastEmoteChatMessage"
	MethodEnvelope      = "WebcastEnvelopeMessage"
	MethodLiveIntro     = "WebcastLiveIntroMessage"
	MethodLinkMicBattle = "WebcastLinkMicBattle"
	MethodLinkMicArmies = "WebcastLinkMicArmies"
)

// Control actions of WebcastControlMessage.
const (
	ControlPaused    = 1
	ControlUnpaused  = 2
	ControlEnded     = 3
	ControlSuspended = 4
)

// newMessage returns an empty typed value for a known method, or nil.
func newMessage(method string) proto.Message {
	switch method {
	case MethodChat:
		return new(pb.ChatMessage)
	case MethodGift:
		return new(pb.GiftMessage)
	case MethodLike:
		return new(pb.LikeMessage)
	case MethodMember:
		return new(pb.MemberMessage)
	case MethodSocial:
		return new(pb.SocialMessage)
	case MethodRoomUserSeq:
		return new(pb.RoomUserSeqMessage)
	case MethodControl:
		return new(pb.ControlMessage)
	case MethodSubNotify:
		return new(pb.SubNotifyMessage)
	case MethodQuestionNew:
		return new(pb.QuestionNewMessage)
	case MethodEmoteChat:
		return new(pb.EmoteChatMessage)
	case MethodEnvelope:
		return new(pb.EnvelopeMessage)
	case MethodLiveIntro:
		return new(pb.LiveIntroMessage)
	case MethodLinkMicBattle:
		return new(pb.LinkMicBattleMessage)
	case MethodLinkMicArmies:
		return new(pb.LinkMicArmiesMessage)
	}
	return nil
}

// KnownMethod reports whether method is decoded into a typed value.
func KnownMethod(method string) bool { return newMessage(method) != nil }

// DecodePayload decodes the payload of one event message. For a method we have no schema for it
// returns (nil, nil): the caller keeps the raw bytes.
func DecodePayload(method string, payload []byte) (proto.Message, error) {
	m := newMessage(method)
	if m == nil {
		return nil, nil
	}
	if err := proto.Unmarshal(payload, m); err != nil {
		return nil, &Error{Kind: KindDecode, Op: "decode " + method, Err: err}
	}
	return m, nil
}

// Message is one event message received from TikTok, decoded once.
type Message struct {
	Method  string
	MsgID   int64 // TikTok's message id (WireMessage.msg_id, else common.msg_id); 0 if absent
	History bool  // re-sent in a connect's initial batch
	Payload []byte
	// Decoded is the typed value (*pb.ChatMessage, *pb.GiftMessage, ...); nil for an unknown method
	// or when decoding failed (then Err says why).
	Decoded    proto.Message
	Err        error
	ReceivedAt time.Time
}

// Known reports whether the message has a typed value.
func (m *Message) Known() bool { return m.Decoded != nil }

func (m *Message) String() string {
	return fmt.Sprintf("%s#%d", m.Method, m.MsgID)
}

// commoner is implemented by every generated event message.
type commoner interface{ GetCommon() *pb.MessageCommon }

// newMessageFrom decodes one wire message into a Message.
func newMessageFrom(w *pb.WireMessage, history bool, now time.Time) Message {
	m := Message{
		Method:     w.GetMethod(),
		MsgID:      w.GetMsgId(),
		History:    history || w.GetIsHistory(),
		Payload:    w.GetPayload(),
		ReceivedAt: now,
	}
	m.Decoded, m.Err = DecodePayload(m.Method, m.Payload)
	if m.MsgID == 0 {
		if c, ok := m.Decoded.(commoner); ok {
			m.MsgID = c.GetCommon().GetMsgId()
		}
	}
	return m
}

package event

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// TimeLayout is the contract's time format: RFC 3339, UTC, exactly three fraction digits. The Z is
// a literal, so format UTC times only: t.UTC().Format(event.TimeLayout).
const TimeLayout = "2006-01-02T15:04:05.000Z"

var base64Std = base64.StdEncoding

// AppendJSON appends the event's JSON (one line, no newline) to dst. It writes the envelope keys in
// the contract's order: type, username, roomId, seq, epoch, id, time, history, simulated, data.
// data.timestamp is written from Time, as the last key of data. The encoder is hand-written because
// it runs once per TikTok message; it allocates nothing beyond growing dst.
func (e *Event) AppendJSON(dst []byte) []byte {
	var tsBuf [40]byte
	ts := appendTime(tsBuf[:0], e.Time) // quoted; used twice

	b := appendStringField(dst, `{"type":`, e.Type)
	b = appendStringField(b, `,"username":`, e.Username)
	b = appendStringField(b, `,"roomId":`, e.RoomID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	if e.Epoch != "" {
		b = appendStringField(b, `,"epoch":`, e.Epoch)
	}
	if e.ID != "" {
		b = appendStringField(b, `,"id":`, e.ID)
	}
	b = append(b, `,"time":`...)
	b = append(b, ts...)
	if e.History {
		b = append(b, `,"history":true`...)
	}
	if e.Simulated {
		b = append(b, `,"simulated":true`...)
	}
	b = append(b, `,"data":`...)
	switch d := e.Data.(type) {
	case RawData:
		b = d.appendRaw(b)
	case *RawData:
		b = d.appendRaw(b)
	default:
		b = append(b, '{')
		if d != nil {
			n := len(b)
			b = d.appendFields(b)
			if len(b) > n {
				b = append(b, ',')
			}
		}
		b = append(b, `"timestamp":`...)
		b = append(b, ts...)
		b = append(b, '}')
	}
	return append(b, '}')
}

// MarshalJSON implements json.Marshaler. It has a value receiver so that json.Marshal(ev) works on a
// plain Event too, not only on a pointer.
func (e Event) MarshalJSON() ([]byte, error) {
	// Encode into a pooled buffer, then copy: one allocation of the exact size, where growing a
	// fresh slice would take two or three and waste up to half.
	bp := scratch.Get().(*[]byte)
	b := e.AppendJSON((*bp)[:0])
	out := bytes.Clone(b)
	if cap(b) <= 64<<10 { // do not keep a buffer grown by a rare huge event
		*bp = b
		scratch.Put(bp)
	}
	return out, nil
}

var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// UnmarshalJSON reads an event back: the data becomes the struct of its type, or RawData for a type
// this package does not know. An event without "time" (the original server sent none) takes its
// time from data.timestamp.
func (e *Event) UnmarshalJSON(b []byte) error {
	var env struct {
		Type      string          `json:"type"`
		Username  string          `json:"username"`
		RoomID    string          `json:"roomId"`
		Seq       uint64          `json:"seq"`
		Epoch     string          `json:"epoch"`
		ID        string          `json:"id"`
		Time      string          `json:"time"`
		History   bool            `json:"history"`
		Simulated bool            `json:"simulated"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	if env.Data == nil || string(env.Data) == "null" {
		env.Data = nil
	}
	stamp := env.Time
	if stamp == "" && env.Data != nil {
		var d struct {
			Timestamp string `json:"timestamp"`
		}
		_ = json.Unmarshal(env.Data, &d) // a data without a readable timestamp just has no time
		stamp = d.Timestamp
	}
	var t time.Time
	if stamp != "" {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, stamp); err != nil {
			return fmt.Errorf("event: bad time %q: %w", stamp, err)
		}
	}
	data, err := decodeData(env.Type, env.Data)
	if err != nil {
		return fmt.Errorf("event: %s data: %w", env.Type, err)
	}
	*e = Event{
		Type: env.Type, Username: env.Username, RoomID: env.RoomID, Seq: env.Seq, Epoch: env.Epoch,
		ID: env.ID, Time: msUTC(t), History: env.History, Simulated: env.Simulated, Data: data,
	}
	return nil
}

// dataDecoders reads the data of each known type; called with nil it gives the type's zero data.
var dataDecoders = map[string]func(raw []byte) (Data, error){
	TypeChat:              decodeAs[ChatData],
	TypeGift:              decodeAs[GiftData],
	TypeLike:              decodeAs[LikeData],
	TypeMember:            decodeAs[MemberData],
	TypeSocial:            decodeAs[SocialData],
	TypeRoomUser:          decodeAs[RoomUserData],
	TypeSubscribe:         decodeAs[SubscribeData],
	TypeQuestion:          decodeAs[QuestionData],
	TypeEmote:             decodeAs[EmoteData],
	TypeEnvelope:          decodeAs[EnvelopeData],
	TypeBattle:            decodeAs[BattleData],
	TypeBattleArmies:      decodeAs[BattleArmiesData],
	TypeLiveIntro:         decodeAs[LiveIntroData],
	TypeControl:           decodeAs[ControlData],
	TypeStreamEnd:         decodeAs[StreamEndData],
	TypeUnknown:           decodeAs[UnknownData],
	TypeConnectionCreated: decodeAs[ConnectionCreatedData],
	TypeConnectionClosed:  decodeAs[ConnectionClosedData],
	TypeDisconnected:      decodeAs[DisconnectedData],
	TypeReconnecting:      decodeAs[ReconnectingData],
	TypeRateLimited:       decodeAs[RateLimitedData],
	TypeWaitingForLive:    decodeAs[WaitingForLiveData],
	TypeStalled:           decodeAs[StalledData],
	TypeError:             decodeAs[ErrorData],
	TypeLiveStarted:       decodeAs[LiveStartedData],
	TypeLiveEnded:         decodeAs[LiveEndedData],
}

func decodeAs[T Data](raw []byte) (Data, error) {
	var d T
	if raw != nil {
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func decodeData(typ string, raw []byte) (Data, error) {
	if dec, ok := dataDecoders[typ]; ok {
		return dec(raw)
	}
	if raw == nil {
		return RawData{Type: typ}, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil { // keeps the event on one line when re-encoded
		return nil, err
	}
	return RawData{Type: typ, JSON: buf.Bytes()}, nil
}

// zeroData returns the empty data of a type (RawData for a type this package does not know).
func zeroData(typ string) Data {
	d, _ := decodeData(typ, nil) // cannot fail without bytes
	return d
}

// appendRaw writes the data as it was read. Bytes that are not JSON (a RawData built by hand) give
// an empty object, so the event stays valid JSON.
func (d RawData) appendRaw(b []byte) []byte {
	if len(d.JSON) == 0 {
		return append(b, "{}"...)
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, d.JSON); err != nil {
		return append(b, "{}"...)
	}
	return buf.Bytes()
}

// appendFields is never called: AppendJSON writes RawData whole (it carries its own timestamp).
func (d RawData) appendFields(b []byte) []byte { return b }

func appendStringField(b []byte, key, s string) []byte {
	return appendString(append(b, key...), s)
}

func appendIntField(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(b, key...), v, 10)
}

func appendBoolField(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(append(b, key...), v)
}

// appendTime writes t as a quoted contract time.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. It escapes what JSON requires, plus U+2028 and U+2029
// (line breaks to JavaScript), and replaces invalid UTF-8 with U+FFFD, as encoding/json does; it
// does not HTML-escape (<, >, &), which JSON lines do not need.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

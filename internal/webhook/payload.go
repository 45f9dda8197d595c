package webhook

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// Webhook event types (the body's "type").
const (
	TypeLiveStarted    = "room.live_started"
	TypeLiveEnded      = "room.live_ended"
	TypeGift           = "room.gift"
	TypeFollow         = "room.follow"
	TypeShare          = "room.share"
	TypeSuperFan       = "room.superfan"
	TypeConnectionLost = "room.connection_lost"
	TypeTest           = "webhook.test"
)

// Types lists every webhook type; DefaultTypes the ones an endpoint without a type filter gets
// (webhook.test is only ever sent on request).
var (
	Types        = []string{TypeLiveStarted, TypeLiveEnded, TypeGift, TypeFollow, TypeShare, TypeSuperFan, TypeConnectionLost, TypeTest}
	DefaultTypes = []string{TypeLiveStarted, TypeLiveEnded, TypeGift, TypeFollow, TypeShare, TypeSuperFan, TypeConnectionLost}
)

// The event types a webhook is made from that internal/event does not define yet: the live
// lifecycle pair of the watch list (issue 17) and the 2026 Super Fan message. They belong in
// package event once those land; until then they are matched by name.
const (
	EventLiveStarted = event.TypeLiveStarted
	EventLiveEnded   = event.TypeLiveEnded
	EventSuperFan    = "superFan"
)

// Filter selects what an endpoint receives.
type Filter struct {
	// Rooms are the hosts' @handles (case-insensitive); empty or "*" means every room.
	Rooms []string `json:"rooms,omitempty"`
	// Types are webhook types; empty means DefaultTypes.
	Types []string `json:"types,omitempty"`
	// GiftMinDiamonds drops gifts worth less (totalDiamonds of the step or streak).
	GiftMinDiamonds int64 `json:"giftMinDiamonds,omitempty"`
	// GiftStreakSteps also sends the running steps of a streak; by default only a streak's end
	// (final) and gifts that do not streak (single) are sent, so a streak is one webhook.
	GiftStreakSteps bool `json:"giftStreakSteps,omitempty"`
}

// Validate rejects unknown types and negative thresholds.
func (f Filter) Validate() error {
	for _, t := range f.Types {
		if !slices.Contains(Types, t) {
			return fmt.Errorf("webhook: unknown event type %q", t)
		}
	}
	if f.GiftMinDiamonds < 0 {
		return fmt.Errorf("webhook: giftMinDiamonds %d is negative", f.GiftMinDiamonds)
	}
	return nil
}

func (f *Filter) wantsType(t string) bool {
	if len(f.Types) == 0 {
		return slices.Contains(DefaultTypes, t)
	}
	return slices.Contains(f.Types, t)
}

func (f *Filter) wantsRoom(username string) bool {
	if len(f.Rooms) == 0 {
		return true
	}
	for _, r := range f.Rooms {
		if r == "*" || strings.EqualFold(strings.TrimPrefix(r, "@"), username) {
			return true
		}
	}
	return false
}

// Payload is one webhook made from an event: its id (webhook-id, stable for the event), type and
// the exact body bytes that are signed and sent.
type Payload struct {
	ID   string
	Type string
	Room string // the host's @handle
	Time time.Time
	Body []byte
}

// body is the JSON sent: {type, timestamp, data}.
type body struct {
	Type      string   `json:"type"`
	Timestamp string   `json:"timestamp"`
	Data      bodyData `json:"data"`
}

type bodyData struct {
	Room   bodyRoom        `json:"room"`
	Stream *bodyStream     `json:"stream,omitempty"`
	Event  json.RawMessage `json:"event,omitempty"` // the canonical event, as REST and WS carry it
	Test   *bodyTest       `json:"test,omitempty"`
}

type bodyRoom struct {
	UniqueID string `json:"unique_id"`
	RoomID   string `json:"room_id"`
}

type bodyStream struct {
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
}

type bodyTest struct {
	EndpointID string `json:"endpoint_id"`
}

const timeLayout = "2006-01-02T15:04:05.000Z" // the event contract's: UTC, milliseconds

// EventTypes are the event types Kind can make a webhook of (social only for follow and share,
// error only when final): what the follower reads from the log; the rest it skips unread.
var EventTypes = []string{event.TypeGift, event.TypeSocial, event.TypeSubscribe, EventSuperFan, EventLiveStarted, EventLiveEnded, event.TypeError}

// Kind returns the webhook type an event is, or "" if it makes no webhook. It does not look at
// any filter.
func Kind(ev *event.Event) string {
	switch ev.Type {
	case event.TypeGift:
		return TypeGift
	case event.TypeSocial:
		if d, ok := ev.Data.(event.SocialData); ok {
			switch d.Action {
			case "follow":
				return TypeFollow
			case "share":
				return TypeShare
			}
		}
	case EventSuperFan, event.TypeSubscribe: // TikTok replaced LIVE subscriptions with Super Fans
		return TypeSuperFan
	case EventLiveStarted:
		return TypeLiveStarted
	case EventLiveEnded:
		return TypeLiveEnded
	case event.TypeError:
		// The supervisor gives up on a room with a final (non-retryable) error.
		if d, ok := ev.Data.(event.ErrorData); ok && !d.Retryable {
			return TypeConnectionLost
		}
	}
	return ""
}

// Map returns the webhooks an endpoint with filter f gets for one event: none or one today (the
// slice leaves room for an event that makes several). It is pure: the id comes from the event, so
// mapping the same event again gives the same id, and the queue sends it once.
func Map(ev *event.Event, f Filter) ([]Payload, error) {
	typ := Kind(ev)
	if !f.accepts(ev, typ) {
		return nil, nil
	}
	p, err := newPayload(ev, typ)
	if err != nil {
		return nil, err
	}
	return []Payload{p}, nil
}

// accepts reports whether the filter takes an event of webhook type typ.
func (f *Filter) accepts(ev *event.Event, typ string) bool {
	if typ == "" || !f.wantsType(typ) || !f.wantsRoom(ev.Username) {
		return false
	}
	if typ == TypeGift {
		g, ok := ev.Data.(event.GiftData)
		if !ok || g.StreakState == event.StreakProgress && !f.GiftStreakSteps || g.TotalDiamonds < f.GiftMinDiamonds {
			return false
		}
	}
	return true
}

func newPayload(ev *event.Event, typ string) (Payload, error) {
	evJSON := ev.AppendJSON(nil) // not json.Marshal: that would HTML-escape the event's strings
	b := body{Type: typ, Timestamp: ev.Time.UTC().Format(timeLayout), Data: bodyData{
		Room:  bodyRoom{UniqueID: ev.Username, RoomID: ev.RoomID},
		Event: evJSON,
	}}
	if ev.Epoch != "" || ev.Seq != 0 {
		b.Data.Stream = &bodyStream{Epoch: ev.Epoch, Seq: ev.Seq}
	}
	out, err := encodeBody(&b)
	if err != nil {
		return Payload{}, err
	}
	return Payload{ID: eventID(ev, typ, evJSON), Type: typ, Room: ev.Username, Time: ev.Time, Body: out}, nil
}

// TestPayload is the webhook.test message for an endpoint, with a fresh id each time.
func TestPayload(endpointID string, now time.Time) (Payload, error) {
	id, err := randomID("msg_")
	if err != nil {
		return Payload{}, err
	}
	b := body{Type: TypeTest, Timestamp: now.UTC().Format(timeLayout), Data: bodyData{Test: &bodyTest{EndpointID: endpointID}}}
	out, err := encodeBody(&b)
	if err != nil {
		return Payload{}, err
	}
	return Payload{ID: id, Type: TypeTest, Time: now, Body: out}, nil
}

// encodeBody writes the body compact and without HTML escaping, so data.event holds the same
// bytes as REST and WebSocket send.
func encodeBody(b *body) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("webhook: encode body: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// eventID names a webhook by what it is about, so the same event gives the same id however often
// it is mapped: a TikTok message by its msgId (TikTok may send it again after a reconnect, with a
// new seq), a server event by its place in the room's stream, else by its whole JSON.
func eventID(ev *event.Event, typ string, evJSON []byte) string {
	h := sha256.New()
	h.Write([]byte(typ + "\x00" + strings.ToLower(ev.Username) + "\x00"))
	switch {
	case ev.ID != "":
		h.Write([]byte("id\x00" + ev.ID))
	case ev.Epoch != "":
		h.Write([]byte("seq\x00" + ev.Epoch + "\x00" + strconv.FormatUint(ev.Seq, 10)))
	default:
		h.Write([]byte("json\x00"))
		h.Write(evJSON)
	}
	return "msg_" + idEncoding.EncodeToString(h.Sum(nil)[:16])
}

func randomID(prefix string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("webhook: id: %w", err)
	}
	return prefix + idEncoding.EncodeToString(b[:]), nil
}

// DefaultTTL is how long a webhook of a type is worth retrying, counted from its event: a stale
// gift or follow alert is worse than none, while the live pair keeps the whole schedule (0).
func DefaultTTL(typ string) time.Duration {
	switch typ {
	case TypeGift, TypeFollow, TypeShare, TypeSuperFan:
		return time.Hour
	}
	return 0
}

// Deliveries maps one event to the deliveries of every enabled endpoint that wants it: the fan-out
// the event pipeline hands to Queue.Enqueue. The body is made once and shared. ttl nil means
// DefaultTTL.
func Deliveries(ev *event.Event, endpoints []Endpoint, ttl func(typ string) time.Duration) ([]Delivery, error) {
	typ := Kind(ev)
	if typ == "" {
		return nil, nil // most events: skip before touching the endpoints
	}
	if ttl == nil {
		ttl = DefaultTTL
	}
	var out []Delivery
	var p Payload
	for i := range endpoints {
		ep := &endpoints[i]
		if ep.Disabled || !ep.Filter.accepts(ev, typ) {
			continue
		}
		if p.ID == "" {
			var err error
			if p, err = newPayload(ev, typ); err != nil {
				return nil, err
			}
		}
		out = append(out, NewDelivery(ep.ID, p, ttl(p.Type)))
	}
	return out, nil
}

// NewDelivery is a delivery of p to an endpoint, due when enqueued; a ttl > 0 gives up on it that
// long after the event (so an old event re-sent by TikTok is not alerted late).
func NewDelivery(endpointID string, p Payload, ttl time.Duration) Delivery {
	d := Delivery{EndpointID: endpointID, MsgID: p.ID, Type: p.Type, Room: p.Room, Body: p.Body, State: StatePending}
	if ttl > 0 {
		d.ExpiresAt = p.Time.Add(ttl)
	}
	return d
}

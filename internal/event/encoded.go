package event

// Encoded is one event, encoded once: what the room stream hands to the store and the store, once
// the event is committed, to the hub (hub.Message is this type). The same *Encoded is shared
// read-only by the store and every subscriber, so none of them may change it.
type Encoded struct {
	Room       string // the room's username, lower case
	Type       string // event type, e.g. "gift", "chat", "connection_created"
	Seq        uint64 // position in the room's stream
	Epoch      string // the room stream's identity (shared, not copied)
	StreakStep bool   // a gift step of a running streak (streakState "progress"); the hub's Filter.FinalGiftsOnly drops it
	JSON       []byte // the event's JSON object (AppendJSON), no trailing newline; never modified once handed on
}

package event

import (
	"encoding/json"
	"time"
)

// TypeResume is the type of the resume message.
const TypeResume = "resume"

// Why a resume was not recovered (the resume message's data.reason).
const (
	ResumeEpochChanged = "epoch_changed" // the room's stream is a new one
	ResumeHistoryGone  = "history_gone"  // the log no longer holds every event after since
	ResumeAhead        = "ahead"         // since is past the room's last seq
	ResumeUnknownRoom  = "unknown_room"  // an in-memory log that has not seen the room
	ResumeNoStore      = "no_store"      // the server keeps no log
)

// Resume is the resume message (docs/events.md): not an event of the room's stream (seq 0, never
// stored) but the first message a stream client resuming a room gets, saying whether the events it
// missed follow. The fields are in the order of the JSON.
type Resume struct {
	Type     string     `json:"type"` // TypeResume
	Username string     `json:"username"`
	Seq      uint64     `json:"seq"`   // always 0
	Epoch    string     `json:"epoch"` // the room's current epoch
	Time     string     `json:"time"`
	Data     ResumeData `json:"data"`
}

// ResumeData is the data of the resume message.
type ResumeData struct {
	Recovered  bool   `json:"recovered"`
	Since      uint64 `json:"since"`
	SinceEpoch string `json:"sinceEpoch"`
	Missed     uint64 `json:"missed"` // events in the log after since (before the client's filters)
	Reason     string `json:"reason,omitempty"`
}

// NewResume returns the resume message for a client that had room's stream up to since, at time
// at. now is where the room's stream is in the log (a zero epoch when unknown: since's is shown).
// With reason "" the resume is recovered: the now.Seq-since.Seq missed events follow. Otherwise
// reason is one of the Resume* words.
func NewResume(room string, since, now Position, reason string, at time.Time) Resume {
	r := Resume{Type: TypeResume, Username: room, Epoch: since.Epoch, Time: at.UTC().Format(TimeLayout),
		Data: ResumeData{Recovered: reason == "", Since: since.Seq, SinceEpoch: since.Epoch, Reason: reason}}
	if now.Epoch != "" {
		r.Epoch = now.Epoch
	}
	if r.Data.Recovered {
		r.Data.Missed = now.Seq - since.Seq
	}
	return r
}

// JSON is the message as sent.
func (r Resume) JSON() []byte {
	b, _ := json.Marshal(r) // strings and numbers only: it cannot fail
	return b
}

package event

// Position is a place in a room's stream: the stream's identity (epoch) and a seq in it. It is
// what a client resumes from, how far a log or a replay went, where a room's stream continues.
type Position struct {
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
}

// AtOrAfter reports whether p is in q's epoch and not before it: a stream that reached p has
// passed q. Positions of different epochs are not ordered, so it is false for them.
func (p Position) AtOrAfter(q Position) bool { return p.Epoch == q.Epoch && p.Seq >= q.Seq }

// ValidEpoch reports whether s has the form of an epoch: 16 lower-case hex digits.
func ValidEpoch(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

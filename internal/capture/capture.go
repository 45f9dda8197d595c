// Package capture reads and writes the capture format: JSON lines of raw TikTok messages,
//
//	{"method": "WebcastGiftMessage", "payload": "<base64 of the raw message>", "delayMs": 250}
//
// The fake upstream replays it, the decode command reads it, and a recorded session exports it.
package capture

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxLineBytes bounds one capture line (a message plus base64 overhead).
const MaxLineBytes = 4 << 20

// Line is one captured message.
type Line struct {
	Method  string `json:"method"`
	Payload []byte `json:"payload"` // base64 in JSON
	// DelayMs is how long to wait before sending this line, counted from the previous one.
	DelayMs int64 `json:"delayMs,omitempty"`
	// MsgID is optional; when absent the replayer assigns one.
	MsgID int64 `json:"msgId,omitempty,string"`
}

// ErrSyntax is wrapped by every ParseLine error.
var ErrSyntax = errors.New("capture: bad line")

// ParseLine parses one JSON line. Blank lines are an error for the caller to skip (see Reader).
func ParseLine(b []byte) (Line, error) {
	var raw struct {
		Method  *string         `json:"method"`
		Payload *string         `json:"payload"`
		DelayMs json.Number     `json:"delayMs"`
		MsgID   json.RawMessage `json:"msgId"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Line{}, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if raw.Method == nil || *raw.Method == "" {
		return Line{}, fmt.Errorf("%w: missing \"method\"", ErrSyntax)
	}
	if raw.Payload == nil {
		return Line{}, fmt.Errorf("%w: missing \"payload\"", ErrSyntax)
	}
	payload, err := base64.StdEncoding.DecodeString(*raw.Payload)
	if err != nil {
		// Accept unpadded and URL-safe base64 too: people paste payloads from many tools.
		if p2, err2 := base64.RawStdEncoding.DecodeString(strings.TrimRight(*raw.Payload, "=")); err2 == nil {
			payload, err = p2, nil
		} else if p3, err3 := base64.RawURLEncoding.DecodeString(strings.TrimRight(*raw.Payload, "=")); err3 == nil {
			payload, err = p3, nil
		}
	}
	if err != nil {
		return Line{}, fmt.Errorf("%w: payload is not base64: %v", ErrSyntax, err)
	}
	l := Line{Method: *raw.Method, Payload: payload}
	if raw.DelayMs != "" {
		d, err := raw.DelayMs.Int64()
		if err != nil || d < 0 {
			return Line{}, fmt.Errorf("%w: delayMs must be a whole number >= 0", ErrSyntax)
		}
		l.DelayMs = d
	}
	if len(raw.MsgID) > 0 && string(raw.MsgID) != "null" {
		var s string
		if json.Unmarshal(raw.MsgID, &s) != nil {
			s = string(raw.MsgID)
		}
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Line{}, fmt.Errorf("%w: msgId must be a decimal integer", ErrSyntax)
		}
		l.MsgID = id
	}
	return l, nil
}

// Marshal encodes one line (without the newline).
func (l Line) Marshal() []byte {
	if l.Payload == nil {
		l.Payload = []byte{} // "" rather than null, so the line parses back
	}
	b, _ := json.Marshal(l) // only strings, bytes and ints: cannot fail
	return b
}

// Reader reads a capture line by line, skipping blank lines.
type Reader struct {
	sc     *bufio.Scanner
	lineNo int
	failed bool // the scanner stopped (a line too long or a read error): nothing more to read
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes+2) // +2: the scanner counts "\r\n" against the limit
	return &Reader{sc: sc}
}

// Next returns the next line, or io.EOF. A malformed line gives an error naming its line number;
// the reader can go on after it. A line longer than MaxLineBytes or a read error is reported once;
// after it Next returns io.EOF.
func (r *Reader) Next() (Line, error) {
	if r.failed {
		return Line{}, io.EOF
	}
	for r.sc.Scan() {
		r.lineNo++
		b := r.sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		l, err := ParseLine(b)
		if err != nil {
			return Line{}, fmt.Errorf("line %d: %w", r.lineNo, err)
		}
		return l, nil
	}
	if err := r.sc.Err(); err != nil {
		r.failed = true
		return Line{}, fmt.Errorf("capture: line %d: %w", r.lineNo+1, err)
	}
	return Line{}, io.EOF
}

// ReadAll reads every line; it stops at the first malformed one.
func ReadAll(rd io.Reader) ([]Line, error) {
	r := NewReader(rd)
	var out []Line
	for {
		l, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
}

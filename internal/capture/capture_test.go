package capture

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	payload := []byte{0xfb, 0xff, 0x01} // base64 "+/8B" (std) and "-_8B" (URL-safe)
	tests := []struct {
		name    string
		in      string
		want    Line
		wantErr string // substring; "" means success
	}{
		{name: "minimal", in: `{"method":"WebcastChatMessage","payload":"+/8B"}`, want: Line{Method: "WebcastChatMessage", Payload: payload}},
		{name: "padded std", in: `{"method":"M","payload":"+/8="}`, want: Line{Method: "M", Payload: []byte{0xfb, 0xff}}},
		{name: "unpadded std", in: `{"method":"M","payload":"+/8"}`, want: Line{Method: "M", Payload: []byte{0xfb, 0xff}}},
		{name: "URL-safe", in: `{"method":"M","payload":"-_8B"}`, want: Line{Method: "M", Payload: payload}},
		{name: "URL-safe padded", in: `{"method":"M","payload":"-_8="}`, want: Line{Method: "M", Payload: []byte{0xfb, 0xff}}},
		{name: "empty payload", in: `{"method":"M","payload":""}`, want: Line{Method: "M", Payload: []byte{}}},
		{name: "spaces and unknown keys", in: ` { "payload" : "AQ==" , "method" : "M", "note": [1] } `, want: Line{Method: "M", Payload: []byte{1}}},
		{name: "delayMs", in: `{"method":"M","payload":"","delayMs":250}`, want: Line{Method: "M", Payload: []byte{}, DelayMs: 250}},
		{name: "delayMs zero", in: `{"method":"M","payload":"","delayMs":0}`, want: Line{Method: "M", Payload: []byte{}}},
		{name: "delayMs as a numeric string", in: `{"method":"M","payload":"","delayMs":"40"}`, want: Line{Method: "M", Payload: []byte{}, DelayMs: 40}},
		{name: "msgId string", in: `{"method":"M","payload":"","msgId":"7311500000000000001"}`, want: Line{Method: "M", Payload: []byte{}, MsgID: 7311500000000000001}},
		{name: "msgId number", in: `{"method":"M","payload":"","msgId":7311500000000000001}`, want: Line{Method: "M", Payload: []byte{}, MsgID: 7311500000000000001}},
		{name: "msgId null", in: `{"method":"M","payload":"","msgId":null}`, want: Line{Method: "M", Payload: []byte{}}},
		{name: "not JSON", in: `{"method":`, wantErr: "bad line"},
		{name: "not an object", in: `["M","AQ=="]`, wantErr: "bad line"},
		{name: "no method", in: `{"payload":"AQ=="}`, wantErr: `missing "method"`},
		{name: "empty method", in: `{"method":"","payload":"AQ=="}`, wantErr: `missing "method"`},
		{name: "no payload", in: `{"method":"M"}`, wantErr: `missing "payload"`},
		{name: "null payload", in: `{"method":"M","payload":null}`, wantErr: `missing "payload"`},
		{name: "payload not base64", in: `{"method":"M","payload":"a*b"}`, wantErr: "not base64"},
		{name: "payload not a string", in: `{"method":"M","payload":[1]}`, wantErr: "bad line"},
		{name: "negative delayMs", in: `{"method":"M","payload":"","delayMs":-1}`, wantErr: "delayMs"},
		{name: "fractional delayMs", in: `{"method":"M","payload":"","delayMs":1.5}`, wantErr: "delayMs"},
		{name: "msgId not a number", in: `{"method":"M","payload":"","msgId":"abc"}`, wantErr: "msgId"},
		{name: "msgId true", in: `{"method":"M","payload":"","msgId":true}`, wantErr: "msgId"},
		{name: "blank", in: ``, wantErr: "bad line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLine([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrSyntax mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !lineEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func lineEqual(a, b Line) bool {
	return a.Method == b.Method && bytes.Equal(a.Payload, b.Payload) && a.DelayMs == b.DelayMs && a.MsgID == b.MsgID
}

func TestLine_Marshal(t *testing.T) {
	tests := []struct {
		line Line
		want string
	}{
		{Line{Method: "WebcastGiftMessage", Payload: []byte{0xfb, 0xff, 0x01}}, `{"method":"WebcastGiftMessage","payload":"+/8B"}`},
		{Line{Method: "M", Payload: nil, DelayMs: 250, MsgID: 7311500000000000001}, `{"method":"M","payload":"","delayMs":250,"msgId":"7311500000000000001"}`},
		{Line{Method: "M", Payload: []byte{}, MsgID: -3}, `{"method":"M","payload":"","msgId":"-3"}`},
	}
	for _, tt := range tests {
		got := tt.line.Marshal()
		if string(got) != tt.want {
			t.Errorf("Marshal(%+v) = %s, want %s", tt.line, got, tt.want)
		}
		if tt.line.Payload == nil {
			continue // a nil payload is written as null, which ParseLine refuses: captures always have bytes
		}
		back, err := ParseLine(got)
		if err != nil || !lineEqual(back, tt.line) {
			t.Errorf("round trip of %s: %+v, %v", got, back, err)
		}
	}
}

func TestReader_Next(t *testing.T) {
	in := strings.Join([]string{
		`{"method":"A","payload":"AQ=="}`,
		``,
		"  \t",
		`{"method":"B","payload":"Ag==","delayMs":5}` + "\r", // CRLF
		`not json`,
		`{"method":"C","payload":"Aw=="}`, // no final newline
	}, "\n")
	r := NewReader(strings.NewReader(in))
	type result struct {
		method string
		err    string
	}
	want := []result{{method: "A"}, {method: "B"}, {err: "line 5: capture: bad line"}, {method: "C"}, {err: "EOF"}, {err: "EOF"}}
	for i, w := range want {
		l, err := r.Next()
		switch {
		case w.err == "EOF":
			if !errors.Is(err, io.EOF) {
				t.Fatalf("call %d: %+v, %v; want io.EOF", i, l, err)
			}
		case w.err != "":
			if err == nil || !strings.HasPrefix(err.Error(), w.err) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("call %d: err %v, want prefix %q", i, err, w.err)
			}
		default:
			if err != nil || l.Method != w.method {
				t.Fatalf("call %d: %+v, %v; want method %s", i, l, err, w.method)
			}
		}
	}
}

func TestReader_LongLine(t *testing.T) {
	// A long line is fine; a line past MaxLineBytes is an error naming its line. (The exact boundary
	// is left out on purpose: bufio.Scanner counts the newline against the limit, so today the
	// longest line is MaxLineBytes-1 bytes.)
	line := func(n int) string {
		payload := (n - len(`{"method":"M","payload":""}`)) / 4 * 4 // whole base64 quads
		return `{"method":"M","payload":"` + strings.Repeat("A", payload) + `"}`
	}
	r := NewReader(strings.NewReader("\n" + line(MaxLineBytes-4) + "\n"))
	if l, err := r.Next(); err != nil || len(l.Payload) == 0 {
		t.Fatalf("line of MaxLineBytes-4: %d bytes, %v", len(l.Payload), err)
	}
	r = NewReader(strings.NewReader("\n" + line(MaxLineBytes+8) + "\n"))
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "line 2") || errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v, want a too-long error on line 2", err)
	}
}

func TestReadAll(t *testing.T) {
	lines, err := ReadAll(strings.NewReader("{\"method\":\"A\",\"payload\":\"\"}\n\n{\"method\":\"B\",\"payload\":\"\"}\n"))
	if err != nil || len(lines) != 2 || lines[1].Method != "B" {
		t.Fatalf("got %+v, %v", lines, err)
	}
	lines, err = ReadAll(strings.NewReader("{\"method\":\"A\",\"payload\":\"\"}\nbad\n{\"method\":\"B\",\"payload\":\"\"}\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "line 2:") || len(lines) != 1 {
		t.Fatalf("got %+v, %v; want the first line and an error on line 2", lines, err)
	}
	lines, err = ReadAll(strings.NewReader(""))
	if err != nil || len(lines) != 0 {
		t.Fatalf("empty input: %+v, %v", lines, err)
	}
}

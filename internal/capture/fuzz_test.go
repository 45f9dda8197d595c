package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	`{"method":"WebcastChatMessage","payload":"CgQIARAC"}`,
	`{"method":"WebcastGiftMessage","payload":"-_8B","delayMs":250,"msgId":"7311500000000000001"}`,
	`{"method":"M","payload":"+/8","delayMs":"40","msgId":12}`,
	`{"method":"M","payload":null}`,
	`{"method":"M","payload":"","msgId":"0x10"}`,
	`not json`,
	``,
}

// FuzzParseLine: no panic; a line that parses has a method and a delay >= 0, and what Marshal writes
// parses back to the same line.
func FuzzParseLine(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLine(b)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error does not wrap ErrSyntax: %v", err)
			}
			return
		}
		if l.Method == "" || l.DelayMs < 0 || l.Payload == nil {
			t.Fatalf("parsed an invalid line: %+v", l)
		}
		back, err := ParseLine(l.Marshal())
		if err != nil {
			t.Fatalf("Marshal output %s does not parse: %v", l.Marshal(), err)
		}
		if !lineEqual(back, l) {
			t.Fatalf("round trip changed %+v into %+v", l, back)
		}
	})
}

// FuzzReader: Reader gives, for every non-blank line in order, what ParseLine gives for it (errors
// prefixed with the line number), then io.EOF; it never stops early on a bad line.
func FuzzReader(f *testing.F) {
	f.Add([]byte(strings.Join(fuzzSeeds, "\n")))
	f.Add([]byte("\r\n\n" + fuzzSeeds[0] + "\r\n  \n" + fuzzSeeds[1]))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// The oracle: bufio.ScanLines semantics (split on \n, drop one trailing \r, no empty last line).
		lines := bytes.Split(data, []byte("\n"))
		if len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		r := NewReader(bytes.NewReader(data))
		for i, line := range lines {
			line = bytes.TrimSuffix(line, []byte("\r"))
			if strings.TrimSpace(string(line)) == "" {
				continue
			}
			want, wantErr := ParseLine(line)
			got, err := r.Next()
			if wantErr != nil {
				if prefix := fmt.Sprintf("line %d: ", i+1); err == nil || !strings.HasPrefix(err.Error(), prefix) || !errors.Is(err, ErrSyntax) {
					t.Fatalf("line %d: err %v, want %q%v", i+1, err, prefix, wantErr)
				}
				continue
			}
			if err != nil || !lineEqual(got, want) {
				t.Fatalf("line %d: got %+v, %v; want %+v", i+1, got, err, want)
			}
		}
		for range 2 {
			if l, err := r.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("after the last line: %+v, %v; want io.EOF", l, err)
			}
		}
	})
}

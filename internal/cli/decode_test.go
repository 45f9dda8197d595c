package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast/webcasttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// readTime is the decode tests' clock: the time of reading.
var readTime = time.Date(2026, 11, 27, 16, 5, 0, 250_000_000, time.UTC)

func fixedClock() time.Time { return readTime }

func captureLine(method string, payload []byte) string {
	return `{"method":"` + method + `","payload":"` + base64.StdEncoding.EncodeToString(payload) + `"}`
}

// decodeInputs builds the golden inputs: every sample message, then lines that are wrong in every
// way we know.
func decodeInputs() map[string]string {
	var samples []string
	for _, s := range webcasttest.Samples() {
		samples = append(samples, captureLine(s.Method, s.Payload()))
	}
	chat := webcasttest.Find("chat").Payload()
	bad := []string{
		`{"method":"WebcastLikeMessage","payload":"` + base64.RawURLEncoding.EncodeToString(webcasttest.Find("like").Payload()) + `","delayMs":250,"msgId":"1"}`,
		``,
		`   `,
		`not json at all`,
		`{"method":"WebcastChatMessage","payload":"%%%"}`,
		`{"payload":"AAAA"}`,
		`{"method":"WebcastChatMessage"}`,
		`{"method":"WebcastChatMessage","payload":"` + base64.StdEncoding.EncodeToString(chat[:len(chat)/2]) + `"}`,
		`{"method":"WebcastRankUpdateMessage","payload":"CAE="}`,
		`{"method":"WebcastControlMessage","payload":""}` + "\r",
		`{"method":"WebcastGiftMessage","payload":"","delayMs":-5}`,
	}
	return map[string]string{
		"samples": strings.Join(samples, "\n") + "\n",
		"bad":     strings.Join(bad, "\n"), // no final newline
	}
}

func TestDecode_Golden(t *testing.T) {
	tests := []struct {
		name  string
		input string // testdata/decode_<input>.input.jsonl
		room  event.Room
	}{
		{name: "samples", input: "samples"},
		{name: "samples_username", input: "samples", room: event.Room{Username: "streamer"}},
		{name: "bad", input: "bad"},
	}
	inputs := decodeInputs()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inPath := filepath.Join("testdata", "decode_"+tt.input+".input.jsonl")
			outPath := filepath.Join("testdata", "decode_"+tt.name+".golden.jsonl")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(inPath, []byte(inputs[tt.input]), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			in, err := os.ReadFile(inPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			var out bytes.Buffer
			if err := decodeStream(context.Background(), bytes.NewReader(in), &out, tt.room, fixedClock); err != nil {
				t.Fatal(err)
			}
			got := stableProtoErrors(out.Bytes())
			checkOneLinePerLine(t, in, got)
			if *update {
				if err := os.WriteFile(outPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
				for i := range min(len(gl), len(wl)) {
					if gl[i] != wl[i] {
						t.Fatalf("line %d differs from %s\n got: %s\nwant: %s", i+1, outPath, gl[i], wl[i])
					}
				}
				t.Fatalf("output has %d lines, %s has %d", len(gl), outPath, len(wl))
			}
		})
	}
}

// stableProtoErrors undoes the protobuf runtime's habit of putting a no-break space instead of a
// space into its error texts, at random per build, so goldens holding such a text stay stable.
func stableProtoErrors(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\u00a0"), []byte(" ")) }

// checkOneLinePerLine: one output line per non-blank input line, each an event in valid JSON.
func checkOneLinePerLine(t testing.TB, in, out []byte) {
	t.Helper()
	want := 0
	for _, l := range strings.Split(string(in), "\n") {
		if strings.TrimSpace(l) != "" {
			want++
		}
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		t.Fatalf("output does not end with a newline: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(out) == 0 {
		lines = nil
	}
	if len(lines) != want {
		t.Fatalf("%d output lines for %d input lines:\n%s", len(lines), want, out)
	}
	for i, l := range lines {
		var ev event.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Type == "" {
			t.Fatalf("output line %d is not an event (%v): %s", i+1, err, l)
		}
		if ev.Seq != 0 || ev.Epoch != "" {
			t.Fatalf("output line %d has seq %d epoch %q", i+1, ev.Seq, ev.Epoch)
		}
	}
}

func TestDecode_LongLines(t *testing.T) {
	// A line of exactly capture.MaxLineBytes decodes; a longer one gives an error line and the next
	// line is read normally.
	head, tail := `{"method":"WebcastRankUpdateMessage","payload":"`, `"}`
	quads := (capture.MaxLineBytes - len(head) - len(tail)) / 4
	pad := strings.Repeat(" ", capture.MaxLineBytes-len(head)-len(tail)-quads*4) // JSON whitespace
	exact := head + strings.Repeat("AAAA", quads) + tail + pad
	if len(exact) != capture.MaxLineBytes {
		t.Fatalf("test line has %d bytes", len(exact))
	}
	tooLong := head + strings.Repeat("AAAA", quads+1) + tail
	good := captureLine("WebcastControlMessage", []byte{0x10, 0x01})
	in := exact + "\r\n" + tooLong + "\n" + good + "\n" + tooLong // the last without a newline

	var out bytes.Buffer
	if err := decodeStream(context.Background(), strings.NewReader(in), &out, event.Room{}, fixedClock); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	wantTypes := []string{event.TypeUnknown, event.TypeError, event.TypeControl, event.TypeError}
	if len(lines) != len(wantTypes) {
		t.Fatalf("%d lines, want %d", len(lines), len(wantTypes))
	}
	for i, l := range lines {
		var ev event.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != wantTypes[i] {
			t.Errorf("line %d: type %s, want %s", i+1, ev.Type, wantTypes[i])
		}
		if d, ok := ev.Data.(event.ErrorData); ok && (d.Code != "decode" || !strings.Contains(d.Message, "longer than")) {
			t.Errorf("line %d: %+v", i+1, d)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestRunDecode(t *testing.T) {
	gift := webcasttest.Find("gift_streak_final")
	input := captureLine(gift.Method, gift.Payload()) + "\n\nnot json\n"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string // substrings of stdout
		wantErr  string   // substring of stderr
	}{
		{name: "plain", wantCode: 0, wantOut: []string{`"type":"gift","username":"","roomId":"7311111111111111111","seq":0,"id":"7311500000000000004"`, `"type":"error"`}},
		{name: "username", args: []string{"--username", "@streamer"}, wantCode: 0, wantOut: []string{`"type":"gift","username":"streamer"`, `"type":"error","username":"streamer"`}},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantErr: "usage: tiktok-live-server decode"},
		{name: "unknown flag", args: []string{"--nope"}, wantCode: 2, wantErr: "flag provided but not defined"},
		{name: "argument", args: []string{"file.jsonl"}, wantCode: 2, wantErr: `unexpected arguments ["file.jsonl"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runDecode(context.Background(), tt.args, IO{Stdin: strings.NewReader(input), Stdout: &stdout, Stderr: &stderr})
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %s:\n%s", w, stdout.String())
				}
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, stderr.String())
			}
			if code == 0 && len(tt.wantOut) > 0 {
				checkOneLinePerLine(t, []byte(input), stdout.Bytes())
			}
		})
	}
	t.Run("write error", func(t *testing.T) {
		var stderr bytes.Buffer
		code := runDecode(context.Background(), nil, IO{Stdin: strings.NewReader(input), Stdout: failingWriter{}, Stderr: &stderr})
		if code != 1 || !strings.Contains(stderr.String(), "broken pipe") {
			t.Fatalf("exit %d, stderr %q; want 1 and the write error", code, stderr.String())
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var stdout, stderr bytes.Buffer
		code := runDecode(ctx, nil, IO{Stdin: strings.NewReader(input), Stdout: &stdout, Stderr: &stderr})
		if code != 1 || stdout.Len() != 0 {
			t.Fatalf("exit %d, stdout %q; want 1 and nothing written", code, stdout.String())
		}
	})
}

// FuzzDecodeLine: any input gives exactly one output line per non-blank input line, each a valid
// JSON event; decoding never stops early.
func FuzzDecodeLine(f *testing.F) {
	for _, in := range decodeInputs() {
		for _, l := range strings.Split(in, "\n") {
			f.Add([]byte(l))
		}
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		if err := decodeStream(context.Background(), bytes.NewReader(in), &out, event.Room{}, fixedClock); err != nil {
			t.Fatal(err)
		}
		checkOneLinePerLine(t, in, out.Bytes())
		// The line handler alone: exactly one line, whatever the bytes.
		one := decodeLine(nil, in, event.Room{}, readTime)
		if bytes.IndexByte(one, '\n') != len(one)-1 || !json.Valid(one) {
			t.Fatalf("decodeLine gave %q", one)
		}
	})
}

package cli

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// runDecode implements `tiktok-live-server decode` (see ../shared/spec/events.md, "The decode command").
func runDecode(ctx context.Context, args []string, sio IO) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(sio.Stderr)
	username := fs.String("username", "", "the host's @handle to put in every event's \"username\"")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tiktok-live-server decode [--username NAME] < capture.jsonl > events.jsonl")
		fmt.Fprintln(fs.Output(), "\nReads capture lines {\"method\": ..., \"payload\": \"<base64>\"} and writes one contract event")
		fmt.Fprintln(fs.Output(), "per line (an \"error\" event with code \"decode\" for a line that does not decode).")
		fmt.Fprintln(fs.Output(), "Blank lines are skipped; bad lines never stop it.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, 0); !ok {
		return code // input comes from standard input, never from arguments
	}
	var room event.Room
	if *username != "" { // the events' username is a room key, as the server writes it
		name, err := webcast.ParseUsername(*username)
		if err != nil {
			fmt.Fprintf(sio.Stderr, "decode: --username: %v\n", err)
			return 2
		}
		room.Username = name
	}
	if err := decodeStream(ctx, sio.Stdin, sio.Stdout, room, time.Now); err != nil {
		fmt.Fprintf(sio.Stderr, "decode: %v\n", err)
		return 1
	}
	return 0
}

// decodeStream writes one event line per non-blank input line until EOF. It stops only when
// reading or writing fails or ctx ends; bad input gives error events. now is the clock for the
// time of reading.
func decodeStream(ctx context.Context, r io.Reader, w io.Writer, room event.Room, now func() time.Time) error {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	var line, out []byte
	for {
		if err := ctx.Err(); err != nil {
			_ = bw.Flush()
			return err
		}
		// Flush before a read that may block, so a pipe fed slowly sees each event at once, while
		// a file is still written in large blocks.
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		var tooLong bool
		var rerr error
		line, tooLong, rerr = readLine(br, line[:0], capture.MaxLineBytes)
		switch {
		case tooLong:
			err := fmt.Errorf("%w: longer than %d bytes", capture.ErrSyntax, capture.MaxLineBytes)
			out = appendLine(out[:0], event.DecodeError(room, now(), err))
		case len(bytes.TrimSpace(line)) == 0:
			out = out[:0]
		default:
			out = decodeLine(out[:0], line, room, now())
		}
		if _, err := bw.Write(out); err != nil {
			return err
		}
		if rerr == io.EOF {
			return bw.Flush()
		}
		if rerr != nil {
			_ = bw.Flush()
			return fmt.Errorf("reading standard input: %w", rerr)
		}
	}
}

// decodeLine appends the event line (JSON and a newline) for one non-blank capture line.
func decodeLine(dst, line []byte, room event.Room, now time.Time) []byte {
	return appendLine(dst, webcast.DecodeLine(line, room, now))
}

func appendLine(dst []byte, ev event.Event) []byte {
	return append(ev.AppendJSON(dst), '\n')
}

// readLine reads one line into buf, without its "\n" or "\r\n". A line longer than max is read to
// its end and dropped (tooLong), so the next line is read normally. err is io.EOF after the last
// line (which may lack a newline).
func readLine(br *bufio.Reader, buf []byte, max int) (line []byte, tooLong bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, frag...)
			if len(buf) > max+2 { // room for "\r\n"; stop holding it
				tooLong, buf = true, buf[:0]
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		if len(buf) > max {
			tooLong, buf = true, buf[:0]
		}
		return buf, tooLong, err
	}
}

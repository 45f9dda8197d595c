package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/coder/websocket"
)

// runTail implements `tiktok-live-server tail`: a WebSocket client of a running server that prints
// each event as one JSON line; handy for a quick look and for shell pipelines.
func runTail(ctx context.Context, args []string, sio IO) int {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(sio.Stderr)
	server := fs.String("server", "http://127.0.0.1:3000", "the server's base URL")
	rooms := fs.String("rooms", "", "only these rooms (comma separated)")
	types := fs.String("types", "", "only these event types (comma separated)")
	finalGifts := fs.Bool("final-gifts", false, "only completed gift streaks and single gifts")
	fs.Usage = func() {
		fmt.Fprintln(sio.Stderr, "usage: tiktok-live-server tail [flags]\n\nPrints the events of a running server (its /v1/ws stream) as JSON lines. Flags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, 0); !ok {
		return code
	}
	u, err := url.Parse(*server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(sio.Stderr, "tail: --server must be an http(s) URL, not %q\n", *server)
		return 2
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/ws"
	q := url.Values{}
	if *rooms != "" {
		q.Set("rooms", *rooms)
	}
	if *types != "" {
		q.Set("types", *types)
	}
	if *finalGifts {
		q.Set("gifts", "final")
	}
	u.RawQuery = q.Encode()
	conn, resp, err := websocket.Dial(ctx, u.String(), nil)
	if err != nil {
		if resp != nil {
			fmt.Fprintf(sio.Stderr, "tail: %s answered %s\n", u.Redacted(), resp.Status)
		} else {
			fmt.Fprintf(sio.Stderr, "tail: %v (is the server running?)\n", err)
		}
		return 1
	}
	defer conn.CloseNow()
	conn.SetReadLimit(16 << 20)
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				conn.Close(websocket.StatusNormalClosure, "")
				return 0
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				fmt.Fprintf(sio.Stderr, "tail: the server closed the stream: %d %s\n", ce.Code, ce.Reason)
				if ce.Code == websocket.StatusGoingAway || ce.Code == websocket.StatusNormalClosure {
					return 0
				}
				return 1
			}
			fmt.Fprintln(sio.Stderr, "tail:", err)
			return 1
		}
		sio.Stdout.Write(append(b, '\n'))
	}
}

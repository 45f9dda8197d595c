// This example is a small client of tiktok-live-server: it prints one room's chat messages and
// completed gifts from the /v1/ws WebSocket, and after a dropped connection it resumes exactly
// where it stopped (no event lost, none twice). Run: go run ./examples/go --room streamer
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// event holds the fields of an event (and of the "resume" message) this client uses.
type event struct {
	Type  string `json:"type"`
	Seq   int64  `json:"seq"`   // position in the room's stream: 1, 2, 3, ...
	Epoch string `json:"epoch"` // which stream seq counts in (it changes when the server restarts)
	Data  struct {
		Sender      string `json:"sender"` // the viewer's @handle
		Comment     string `json:"comment"`
		GiftName    string `json:"giftName"`
		RepeatCount int    `json:"repeatCount"`
		Recovered   bool   `json:"recovered"` // resume message only: false means events were lost
		Missed      int    `json:"missed"`
	} `json:"data"`
}

func main() {
	server := flag.String("server", cmp.Or(os.Getenv("SERVER"), "http://127.0.0.1:3000"), "server URL (env SERVER)")
	room := flag.String("room", cmp.Or(os.Getenv("ROOM"), "streamer"), "room to watch, started beforehand (env ROOM)")
	maxEvents := flag.Int("max-events", 0, "exit after this many events (0: never)")
	dropAfter := flag.Int("drop-after", 0, "drop the connection once after this many events, to show resuming")
	flag.Parse()

	var lastSeq int64 // the last event we printed, and its epoch: where to resume from
	var epoch string
	count := 0
	for {
		u := strings.Replace(*server, "http", "ws", 1) + "/v1/ws?types=chat,gift&gifts=final&rooms=" + url.QueryEscape(*room)
		if epoch != "" { // we have seen events: ask for everything after the last one
			u += fmt.Sprintf("&since=%d&epoch=%s", lastSeq, epoch)
		}
		conn, _, err := websocket.Dial(context.Background(), u, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "connect failed, retrying in 1s:", err)
			time.Sleep(time.Second)
			continue
		}
		fmt.Fprintln(os.Stderr, "connected")
		conn.SetReadLimit(1 << 20) // events are small, but allow more than the 32 KiB default
		for {
			_, msg, err := conn.Read(context.Background())
			if err != nil {
				fmt.Fprintln(os.Stderr, "connection lost, resuming in 1s:", err)
				break
			}
			var ev event
			if json.Unmarshal(msg, &ev) != nil {
				continue
			}
			if ev.Type == "resume" { // first message after a reconnect with since/epoch
				fmt.Fprintf(os.Stderr, "resumed after seq %d (recovered: %v, missed: %d)\n", lastSeq, ev.Data.Recovered, ev.Data.Missed)
				if !ev.Data.Recovered { // a new stream (say the server restarted): seq starts again
					lastSeq, epoch = 0, ev.Epoch // a real app would reload from /v1/rooms/NAME/events
				}
				continue
			}
			lastSeq, epoch = ev.Seq, ev.Epoch
			text := ev.Data.Comment
			if ev.Type == "gift" {
				text = fmt.Sprintf("%s x%d", ev.Data.GiftName, ev.Data.RepeatCount)
			}
			fmt.Println(ev.Seq, ev.Type, ev.Data.Sender, text)
			count++
			if count == *maxEvents {
				conn.Close(websocket.StatusNormalClosure, "done")
				return
			}
			if count == *dropAfter {
				fmt.Fprintln(os.Stderr, "dropping the connection (--drop-after)")
				conn.CloseNow() // no goodbye: as if the network had failed
				break
			}
		}
		time.Sleep(time.Second) // a pause before reconnecting, as any client should
	}
}

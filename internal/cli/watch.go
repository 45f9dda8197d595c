package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// upstreamFlags are the flags that point the client at TikTok, or at a fake.
type upstreamFlags struct {
	signURL, signAPIKey, signRoute, webURL, webcastURL string
}

func (u *upstreamFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&u.signURL, "sign-url", envOr("SIGN_API_URL", webcast.DefaultSignURL), "Euler-compatible sign server base URL (env SIGN_API_URL)")
	fs.StringVar(&u.signAPIKey, "sign-api-key", os.Getenv("SIGN_API_KEY"), "sign server API key, sent as X-Api-Key (env SIGN_API_KEY)")
	fs.StringVar(&u.signRoute, "sign-route", envOr("SIGN_ROUTE", string(webcast.RouteConnect)), "sign route: connect or fetch (env SIGN_ROUTE)")
	fs.StringVar(&u.webURL, "tiktok-web-url", envOr("TIKTOK_WEB_URL", webcast.DefaultWebURL), "TikTok web base URL (env TIKTOK_WEB_URL)")
	fs.StringVar(&u.webcastURL, "tiktok-webcast-url", envOr("TIKTOK_WEBCAST_URL", webcast.DefaultWebcastURL), "TikTok webcast base URL (env TIKTOK_WEBCAST_URL)")
}

func (u *upstreamFlags) validate() error {
	switch webcast.SignRoute(u.signRoute) {
	case webcast.RouteConnect, webcast.RouteFetch:
		return nil
	}
	return fmt.Errorf("--sign-route must be connect or fetch, not %q", u.signRoute)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// runWatch implements `tiktok-live-server watch`: one room, its events as JSON lines, no server.
func runWatch(ctx context.Context, args []string, sio IO) int {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(sio.Stderr)
	var up upstreamFlags
	up.register(fs)
	demo := fs.Bool("demo", false, "start a fake TikTok in-process and watch it (no network needed)")
	duration := fs.Duration("duration", 0, "stop after this long (0: until the stream ends or Ctrl-C)")
	stall := fs.Duration("stall-timeout", webcast.DefaultStallTimeout, "give up when the socket is silent this long")
	fs.Usage = func() {
		fmt.Fprintln(sio.Stderr, "usage: tiktok-live-server watch [flags] USER\n\nUSER is name, @name or https://www.tiktok.com/@name/live. Flags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, 1); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if err := up.validate(); err != nil {
		fmt.Fprintln(sio.Stderr, "watch:", err)
		return 2
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if *demo {
		fake, err := faketiktok.Start(ctx, faketiktok.Options{Default: faketiktok.StreamConfig{Rate: 8}})
		if err != nil {
			fmt.Fprintln(sio.Stderr, "watch: start the fake TikTok:", err)
			return 1
		}
		defer fake.Close()
		u := fake.URLs()
		up = upstreamFlags{signURL: u.Sign, webURL: u.Web, webcastURL: u.Webcast, signRoute: string(webcast.RouteConnect)}
		fmt.Fprintf(sio.Stderr, "watch: demo mode, fake TikTok at %s\n", u.Web)
	}
	err := watch(ctx, up, fs.Arg(0), *stall, sio)
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return 0
	case errors.Is(err, webcast.ErrStreamEnded):
		fmt.Fprintln(sio.Stderr, "watch: the stream ended")
		return 0
	default:
		fmt.Fprintln(sio.Stderr, "watch:", err)
		return 1
	}
}

func watch(ctx context.Context, up upstreamFlags, user string, stall time.Duration, sio IO) error {
	log := slog.New(slog.NewTextHandler(sio.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	client := webcast.New(webcast.Config{WebURL: up.webURL, WebcastURL: up.webcastURL, Logger: log})
	signer := &webcast.EulerSigner{BaseURL: up.signURL, APIKey: up.signAPIKey, Route: webcast.SignRoute(up.signRoute)}
	info, err := client.Resolve(ctx, user)
	if err != nil {
		return err
	}
	sess, err := client.Connect(ctx, signer, webcast.ConnectRequest{RoomID: info.RoomID, UniqueID: info.Username, StallTimeout: stall,
		OnFrameError: func(err error) { log.Warn("bad frame", "err", err) }})
	if err != nil {
		return err
	}
	out := bufio.NewWriter(sio.Stdout)
	defer out.Flush()
	room := event.Room{Username: info.Username, RoomID: sess.RoomID()}
	var seq uint64
	var buf []byte
	emit := func(e event.Event) {
		seq++
		e.Seq = seq
		buf = append(e.AppendJSON(buf[:0]), '\n')
		out.Write(buf)
		out.Flush() // a line at a time, so a pipe reader sees events as they happen
	}
	emit(event.Lifecycle(event.TypeConnectionCreated, room, time.Now(), event.ConnectionCreatedData{RoomID: room.RoomID, IsLive: true}))
	err = sess.Run(ctx, func(m webcast.Message) { emit(webcast.ToEvent(&m, room)) })
	if ctx.Err() != nil {
		emit(event.Lifecycle(event.TypeConnectionClosed, room, time.Now(), event.ConnectionClosedData{Reason: "requested"}))
		return ctx.Err()
	}
	reason := "upstream_closed"
	if errors.Is(err, webcast.ErrStreamEnded) {
		reason = "stream_end"
	} else if errors.Is(err, webcast.ErrStalled) {
		reason = "stalled"
	}
	emit(event.Lifecycle(event.TypeDisconnected, room, time.Now(), event.DisconnectedData{Reason: reason}))
	return err
}

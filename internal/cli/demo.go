package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// Demo settings: a few events a second reads as a busy room on the dashboard without flooding it.
const (
	demoUser = "demo"
	demoRate = 5 // synthetic messages per second
)

// startDemo starts a fake TikTok in-process with a lively, never-ending synthetic stream for
// demoUser (chat, gift streaks and single gifts, likes, joins, follows, shares, viewer counts, ...)
// and returns upstream flags pointing at it. stop closes the fake and waits for its goroutines; it
// may be called more than once. ctx bounds only the start-up.
func startDemo(ctx context.Context, log *slog.Logger) (up upstreamFlags, username string, stop func(), err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fake, err := faketiktok.Start(ctx, faketiktok.Options{
		Users: map[string]faketiktok.UserConfig{
			// EndAfter 0: the broadcast never ends by itself, so the demo runs until the server stops.
			demoUser: {Kind: faketiktok.KindLive, Stream: faketiktok.StreamConfig{Rate: demoRate}},
		},
		Logger:     log.With("component", "demo-fake-tiktok"),
		MaxEmitted: 1000, // the demo runs for days; nothing reads this log
	})
	if err != nil {
		return upstreamFlags{}, "", nil, fmt.Errorf("demo: start the fake TikTok: %w", err)
	}
	u := fake.URLs()
	up = upstreamFlags{signURL: u.Sign, webURL: u.Web, webcastURL: u.Webcast, signRoute: string(webcast.RouteConnect)}
	stop = func() {
		if err := fake.Close(); err != nil {
			log.Warn("demo: stop the fake TikTok", "err", err)
		}
	}
	return up, demoUser, stop, nil
}

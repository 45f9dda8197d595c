// Command tiktok-live-server watches TikTok LIVE streams and serves their events.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tiktok-live-server/tiktok-live-server/internal/cli"
)

func main() {
	// Signals belong to the program: the first SIGINT/SIGTERM cancels ctx, every command winds down.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

package cli

import "context"

// runWatch implements `tiktok-live-server watch`.
func runWatch(ctx context.Context, args []string, io IO) int {
	panic("TODO: watch")
}

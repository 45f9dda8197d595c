package cli

import "context"

// runFakeTikTok implements `tiktok-live-server fake-tiktok`.
func runFakeTikTok(ctx context.Context, args []string, io IO) int {
	panic("TODO: fake-tiktok")
}

package cli

import "context"

// runDecode implements `tiktok-live-server decode` (see ../shared/spec/events.md, "The decode command").
func runDecode(ctx context.Context, args []string, io IO) int {
	panic("TODO: decode")
}

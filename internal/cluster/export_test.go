package cluster

import (
	"context"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
)

// Chain is an owned room's publisher, for tests.
type Chain = chain

// ClaimChain appends the claim marker of l.
func (c *Conn) ClaimChain(ctx context.Context, l *Lease) (*Chain, error) { return c.claimChain(ctx, l) }

// Append publishes one event synchronously.
func (ch *chain) Append(ctx context.Context, m *event.Encoded) error { return ch.append(ctx, m) }

// Pos is where the chain continues the room.
func (ch *chain) Pos() event.Position { return ch.pos }

// Expire deletes the room's lease as its TTL would.
func (c *Conn) Expire(ctx context.Context, room string) error {
	return c.owners.Purge(ctx, roomKey(room))
}

// Enqueue queues an event as Log.Append does.
func (ch *chain) Enqueue(m *event.Encoded) { ch.enqueue(m) }

// Run appends queued events until ctx ends.
func (ch *chain) Run(ctx context.Context) { ch.run(ctx, func(string, error) {}) }

// Messages is the number of messages in the event stream.
func (c *Conn) Messages(ctx context.Context) uint64 {
	info, err := c.events.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

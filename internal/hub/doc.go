// Package hub fans encoded events out to many subscribers (WebSocket and SSE clients).
//
// The design follows Centrifuge: a message is encoded once by the producer and the same
// *Message is shared read-only by every subscriber, so fan-out costs one pointer per
// subscriber, not one encoding.
//
// Policy:
//
//   - The publisher never waits for a client. Publish appends to each matching subscriber's
//     in-memory queue under that subscriber's own short lock and returns; the transport's writer
//     goroutine drains the queue with Next. One stalled TCP connection therefore cannot delay
//     the room's event stream for anybody else.
//   - Queues are bounded in bytes (the sum of len(JSON) of queued messages, Options.MaxQueueBytes,
//     1 MiB by default), not in messages, because memory is what a slow client costs us.
//   - A client that falls behind is cut off rather than given stale or gapped data: when a message
//     would push its queue over the limit, the subscription ends with ErrSlowConsumer (WebSocket
//     close code 4001) and its queue is dropped at once, freeing the memory. A transport whose
//     write deadline passes calls Fail(ErrWriteTimeout) (close code 4002), which also drops the
//     queue. The close code tells the client why, so it can reconnect.
//   - Shutdown (Hub.Close) ends every subscription with ErrShutdown (close code 1001) but keeps
//     what is already queued: Next returns those messages first so the server can flush them,
//     bounded by Hub.Drained and the caller's own deadline, and only then reports ErrShutdown.
//
// Subscribers are indexed by room: copy-on-write slices behind atomic pointers, one per room a
// filter names and one for the subscribers to every room. Publish reads only its message's
// room's list and the every-room list, without taking the hub lock, so a thousand rooms do not
// make each event cost a thousand rooms' subscribers; only Subscribe and the end of a
// subscription copy a list.
// In the steady state Publish allocates nothing per subscriber: each subscription keeps two
// queue buffers that Next swaps back and forth.
package hub

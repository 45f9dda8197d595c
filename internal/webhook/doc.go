// Package webhook is the delivery core of signed outbound webhooks (../shared/spec/webhooks.md):
// Standard Webhooks v1 signing and verification, the mapping from contract events to webhook
// bodies, endpoints with their filters, a durable queue (SQLite, webhooks.db in the data
// directory) and the Dispatcher that delivers from it with retries, under an SSRF guard.
//
// Guarantee: at least once, with the same webhook-id on every attempt. Deliveries and their
// outcomes are committed to SQLite (WAL) as they happen, so a crash or restart loses none and
// resends only what has no recorded 2xx. The one window left, a kill between reading a 2xx and
// committing it, resends with the same id, which receivers dedupe on. Delivery order is not
// guaranteed; data.stream (epoch, seq) lets a receiver order.
//
// How it is meant to be wired (not done here; after the issue 13 restructuring):
//
//   - cli (serve) opens the queue with OpenSQLite(ctx, filepath.Join(dataDir, FileName)) ("" without
//     a data directory), builds a Dispatcher with Guard{AllowPrivate: --webhooks-allow-private},
//     and owns it: it runs Dispatcher.Run in a goroutine it waits for, cancels it on shutdown, then
//     closes the queue.
//   - The event pipeline (the room stream's Deliver, after the store committed the event, or a hub
//     subscriber) calls Deliveries(ev, endpoints, nil) with a cached endpoint list, then
//     Queue.Enqueue and Dispatcher.Notify. Enqueue is idempotent per (endpoint, webhook-id), so
//     replaying events after a restart sends nothing twice.
//   - httpapi's /v1/webhooks routes use the Endpoints methods (NewEndpoint checks the URL with the
//     same Guard), Queue.Deliveries, Resend and Recover, Dispatcher.Send with TestPayload for
//     /test, and Dispatcher.Stats for metrics.
package webhook

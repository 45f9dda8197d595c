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
// How it is wired (internal/cli serve; the design is in docs/webhooks.md):
//
//   - serve opens a Service (Open: the queue in webhooks.db beside events.db, or in memory with
//     --data-dir "", and the Dispatcher under Guard{AllowPrivate: --webhooks-allow-private}),
//     opens the store with a Deliver that also calls Service.Notify, calls Follow with the store,
//     and runs Service.Run in a goroutine it cancels and waits for inside its bounded shutdown,
//     then closes the Service.
//   - Enqueue follows the committed event log, never the live path: the Follower reads events
//     after a cursor persisted in webhooks.db (the store's event ids, never reused), maps them with
//     Deliveries, and queues the deliveries and moves the cursor in one transaction (Advance). A
//     crash between the store's commit and the enqueue loses nothing: the next start reads on from
//     the cursor. Notify only wakes the follower. Events the store delivered without storing them
//     (its writer far behind, a failed commit) are not in the log and make no webhook.
//   - httpapi's /v1/webhooks routes call the Service's endpoint operations (Create, Update,
//     Rotate, Test, Deliveries, Resend, Recover); its /metrics reads Service.Status.
package webhook

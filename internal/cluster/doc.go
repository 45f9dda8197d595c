// Package cluster runs the server as several nodes on NATS JetStream; it is the only package that
// imports NATS.
//
// The data flow in cluster mode:
//
//	rooms_desired (KV) ──► Coordinator (ingest role) ── lease in rooms_owner (KV) ──► room.Manager
//	room.Manager ─► stream.Room ─► Log (a chain per owned room) ─► TIKTOK stream (subject tiktok.<room>)
//	TIKTOK stream ─► Archiver (every node, gateway role) ─► store (SQLite) ─► hub ─► clients
//
// Each room is one subject, and every append to it is conditional on the subject's last stream
// sequence (Nats-Expected-Last-Subject-Sequence). A room's messages are therefore one chain that
// only the holder of its tail can extend: a new owner first appends a claim marker, and from then
// on an old owner (a zombie) can append nothing. The owner assigns (epoch, seq) as a single node
// does; every node archives the same chain into its own store, so every node has the same events
// at the same positions and the existing resume, history, summaries and webhooks work unchanged.
package cluster

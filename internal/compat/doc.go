// Package compat holds only tests: they check the original server's contract (its REST routes, its
// WebSocket messages {type, username, data} and its single-user mode) by running one scripted
// scenario side by side against the seed-node reference peer (../shared/peers/seed-node, the
// original Node server rebuilt) and against our server, each pointed at its own fake TikTok, and
// comparing what a client of the original sees from both.
//
// The tests skip when node or the peer is missing; REQUIRE_CONFORMANCE=1 turns that into a failure.
package compat

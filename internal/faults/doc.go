// Package faults is a test-only package: a fault suite that runs the real components on loopback
// (the fake TikTok, the webcast client, room.Manager with its supervisors and streams, and the hub)
// and injects every fault the fake can produce while a hub subscriber watches. For each fault it
// checks that nothing panics, that the room recovers (back to connected) or reaches its documented
// final state, that no event reaches the subscriber twice (per room: seq goes up by one, msgIds
// strictly increase), that no goroutine is left behind and that the heap stays flat.
//
// The short suite runs with `go test ./internal/faults` (well under a minute, also with -race).
// The soak loops random faults for a while and prints figures:
//
//	SOAK=10m go test ./internal/faults -run TestSoak -v -timeout 0
//
// SOAK_SEED fixes the soak's random sequence (it is printed at the start of every run).
package faults

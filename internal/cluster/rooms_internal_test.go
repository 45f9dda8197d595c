package cluster

import (
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
)

// A room's status says who owns it only while the owner's lease is seen renewed: a lease not
// renewed for 1.5 TTL belongs to a node that is gone, and its last "connected" is not true now.
func TestRooms_StatusStaleOwner(t *testing.T) {
	const ttl = 3 * time.Second
	tests := []struct {
		name      string
		seenAgo   time.Duration
		owned     bool
		state     room.State
		wantOwner string
		wantState room.State
	}{
		{"renewed lately", ttl / 3, true, room.StateConnected, "a", room.StateConnected},
		{"not renewed for 2 TTL", 2 * ttl, true, room.StateConnected, "", room.StateReconnecting},
		{"no lease", 0, false, room.StateConnected, "", room.StateReconnecting},
		{"no lease, waiting for live", 0, false, room.StateWaitingForLive, "", room.StateWaitingForLive},
		{"stale, stopped stays stopped", 2 * ttl, true, room.StateStopped, "a", room.StateStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &Rooms{ttl: ttl, desired: map[string]desiredEntry{}, owners: map[string]Owner{},
				seen: map[string]time.Time{}, states: map[string]RoomState{}}
			rs.desired["r"] = desiredEntry{Desired: Desired{Username: "r"}, rev: 5}
			rs.states["r"] = RoomState{Node: "a", Desired: 5, Status: room.Status{Username: "r", State: tt.state}}
			if tt.owned {
				rs.owners["r"] = Owner{Node: "a"}
				rs.seen["r"] = time.Now().Add(-tt.seenAgo)
			}
			st, ok := rs.statusLocked("r")
			if !ok {
				t.Fatal("no status")
			}
			if st.Owner != tt.wantOwner || st.State != tt.wantState {
				t.Errorf("owner %q state %s, want %q %s", st.Owner, st.State, tt.wantOwner, tt.wantState)
			}
			if got := rs.Owners()["r"]; tt.owned && (got != "") == (tt.seenAgo > ttl*3/2) {
				t.Errorf("Owners()[r] = %q with the lease seen %s ago", got, tt.seenAgo)
			}
		})
	}
}

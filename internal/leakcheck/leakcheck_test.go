package leakcheck

import "testing"

func TestIgnored(t *testing.T) {
	tests := []struct {
		name   string
		stack  string
		ignore []string
		want   bool
	}{
		{"library goroutine", "goroutine 7 [select]:\ngithub.com/nats-io/nats-server/v2/server.(*raft).run()", []string{"github.com/nats-io/nats-server/"}, true},
		{"not listed", "goroutine 7 [select]:\ngithub.com/other/lib.run()", []string{"github.com/nats-io/nats-server/"}, false},
		{"ours in the stack", "goroutine 7 [select]:\ngithub.com/nats-io/nats-server/v2/server.x()\ngithub.com/tiktok-live-server/tiktok-live-server/internal/cluster.(*chain).run()", []string{"github.com/nats-io/nats-server/"}, false},
		{"nothing ignored", "goroutine 7 [select]:\ngithub.com/nats-io/nats-server/v2/server.x()", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ignored(tt.stack, tt.ignore); got != tt.want {
				t.Errorf("ignored = %v, want %v", got, tt.want)
			}
		})
	}
}

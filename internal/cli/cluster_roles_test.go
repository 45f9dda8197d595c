package cli

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/cluster/clustertest"
	"github.com/tiktok-live-server/tiktok-live-server/internal/faketiktok"
)

// TestCluster_WebhooksRoleExclusive: the webhooks role is one node's at a time, as a second
// webhooks node would send every webhook again. A second node given the role is refused at
// start with a message naming the holder; the holder killed and restarted (same node id) takes
// its own hold back without waiting; a clean stop lets go of the role, so another node gets it
// without waiting either.
func TestCluster_WebhooksRoleExclusive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs server processes")
	}
	fake, err := faketiktok.Start(context.Background(), faketiktok.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	nats := clustertest.Start(t, 1)
	args := func(id string) []string {
		return natsNodeArgs(t, fake, nats.URLs()[0], id, "--role", "ingest,gateway,webhooks")
	}
	first, base := startChildLogged(t, args("hooks1")...)
	var info struct {
		WebhooksNode string `json:"webhooksNode"`
	}
	if !tryJSON(base+"/v1/cluster", &info) || info.WebhooksNode != "hooks1" {
		t.Fatalf("GET /v1/cluster: webhooksNode %q, want hooks1", info.WebhooksNode)
	}

	// A second webhooks node: refused once it has waited 2 TTL for the hold to go.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, os.Args[0], append(args("hooks2"), "0")...)
	second.Env = append(os.Environ(), childEnv+"=1")
	out, err := second.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("a second webhooks node started (or hung): err %v\n%s", err, tailLines(string(out), 20))
	}
	if !strings.Contains(string(out), `node "hooks1" holds the webhooks role`) {
		t.Fatalf("the refusal does not name the holder:\n%s", tailLines(string(out), 20))
	}

	// The holder killed -9 and started again under its id: its own hold is taken over at once.
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	again, base, log := startChildWithLog(t, args("hooks1")...)
	if l := log.String(); !strings.Contains(l, "took back this node's own hold") || strings.Contains(l, "waiting for it to let go") {
		t.Fatalf("the restarted holder did not take its own hold back at once:\n%s", tailLines(l, 20))
	}

	// A clean stop lets go of the role: another node gets it without waiting for the TTL.
	resp, err := http.Post(base+"/shutdown", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /shutdown: %d", resp.StatusCode)
	}
	exited := make(chan error, 1)
	go func() { exited <- again.Wait() }()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the holder did not exit after POST /shutdown")
	}
	_, _, log = startChildWithLog(t, args("hooks2")...)
	if l := log.String(); strings.Contains(l, "waiting for it to let go") {
		t.Fatalf("the role was not let go of on a clean stop:\n%s", tailLines(l, 20))
	}
}

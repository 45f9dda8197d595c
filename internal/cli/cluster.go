package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/cluster"
	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
)

// clusterResumeCatchUp is how long a client's resume that is ahead of this node's archived log
// waits for it: the archive trails the stream by milliseconds, a node that just restarted by more.
const clusterResumeCatchUp = 3 * time.Second

// clusterFlags are the cluster-mode flags; none given: a single node, as before.
type clusterFlags struct {
	natsURL       string
	embedded      bool
	natsListen    string
	clusterListen string
	routes        string
	replicas      int
	nodeID        string
	roles         string
	leaseTTL      time.Duration

	ingest, gateway, webhooks bool // --role parsed
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.natsURL, "nats-url", os.Getenv("NATS_URL"), "cluster mode: NATS server(s) to join, comma-separated nats://host:port (env NATS_URL)")
	fs.BoolVar(&c.embedded, "nats-embedded", envBool("NATS_EMBEDDED"), "cluster mode: run an embedded NATS server (JetStream) in this process (env NATS_EMBEDDED)")
	fs.StringVar(&c.natsListen, "nats-listen", envOr("NATS_LISTEN", "127.0.0.1:4222"), "embedded NATS: client address (env NATS_LISTEN)")
	fs.StringVar(&c.clusterListen, "nats-cluster-listen", os.Getenv("NATS_CLUSTER_LISTEN"), "embedded NATS: route address for the other members, host:port; needed with --nats-routes (env NATS_CLUSTER_LISTEN)")
	fs.StringVar(&c.routes, "nats-routes", os.Getenv("NATS_ROUTES"), "embedded NATS: the other members' route addresses, comma-separated host:port (env NATS_ROUTES)")
	fs.IntVar(&c.replicas, "nats-replicas", envInt("NATS_REPLICAS", 0), "JetStream replicas of the event stream and buckets; 0 = 3 with two or more routes, else 1 (env NATS_REPLICAS)")
	fs.StringVar(&c.nodeID, "node-id", os.Getenv("NODE_ID"), "cluster mode: this node's name, unique in the cluster; default host name and port (env NODE_ID)")
	fs.StringVar(&c.roles, "role", envOr("ROLE", "ingest,gateway"), "cluster mode: ingest (owns rooms, talks to TikTok), gateway (serves clients), webhooks (sends the webhooks: give it to one node); comma-separated (env ROLE)")
	fs.DurationVar(&c.leaseTTL, "lease-ttl", envDuration("LEASE_TTL", cluster.DefaultLeaseTTL), "cluster mode: a room's owner must renew its lease within this; a dead owner's rooms move after it (env LEASE_TTL)")
}

func (c *clusterFlags) on() bool { return c.natsURL != "" || c.embedded }

func (c *clusterFlags) validate(port int) error {
	c.ingest, c.gateway, c.webhooks = false, false, false
	for r := range strings.SplitSeq(c.roles, ",") {
		switch strings.TrimSpace(r) {
		case "ingest":
			c.ingest = true
		case "gateway":
			c.gateway = true
		case "webhooks":
			c.webhooks = true
		case "":
		default:
			return fmt.Errorf("--role %q: roles are ingest, gateway and webhooks", r)
		}
	}
	if !c.on() {
		if c.routes != "" || c.clusterListen != "" {
			return errors.New("--nats-routes and --nats-cluster-listen need --nats-embedded")
		}
		return nil
	}
	if !c.ingest && !c.gateway {
		return errors.New("--role: a node needs ingest or gateway")
	}
	if c.routes != "" && c.clusterListen == "" {
		return errors.New("--nats-routes needs --nats-cluster-listen (this member's route address)")
	}
	if c.leaseTTL < 3*time.Second {
		return errors.New("--lease-ttl must be at least 3s")
	}
	if c.nodeID == "" {
		h, _ := os.Hostname()
		c.nodeID = fmt.Sprintf("%s-%d", h, port)
	}
	if strings.ContainsAny(c.nodeID, ". *>\t") {
		return fmt.Errorf("--node-id %q: letters, digits, '-' and '_' only", c.nodeID)
	}
	return nil
}

func (c *clusterFlags) routeList() []string {
	var out []string
	for r := range strings.SplitSeq(c.routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// clusterNode is a node's part of the cluster: the NATS connection, the coordinator (ingest), the
// archiver (gateway) and the rooms view; it is the HTTP API's httpapi.Cluster.
type clusterNode struct {
	f        *clusterFlags
	embedded *cluster.Embedded
	conn     *cluster.Conn
	log      *cluster.Log
	coord    *cluster.Coordinator
	arch     atomic.Pointer[cluster.Archiver]
	rooms    *cluster.Rooms
	stopView func()

	coordCancel context.CancelFunc
	archCancel  context.CancelFunc
	wg          sync.WaitGroup
}

// joinCluster starts the embedded NATS server (if asked) and connects. dataDir "" keeps the
// embedded server's files in a temporary directory.
func joinCluster(ctx context.Context, f *clusterFlags, dataDir string, log *slog.Logger) (*clusterNode, error) {
	n := &clusterNode{f: f, log: cluster.NewLog()}
	var urls []string
	if f.natsURL != "" {
		urls = strings.Split(f.natsURL, ",")
	}
	replicas := f.replicas
	if f.embedded {
		dir := filepath.Join(dataDir, "nats")
		if dataDir == "" {
			d, err := os.MkdirTemp("", "tiktok-live-nats-")
			if err != nil {
				return nil, err
			}
			dir = d
		}
		e, err := cluster.StartEmbedded(cluster.EmbeddedConfig{Name: f.nodeID, Listen: f.natsListen,
			ClusterListen: f.clusterListen, Routes: f.routeList(), StoreDir: dir})
		if err != nil {
			return nil, err
		}
		n.embedded = e
		urls = append([]string{e.ClientURL()}, urls...)
		if replicas == 0 && len(f.routeList()) >= 2 {
			replicas = 3
		}
		log.Info("cluster: embedded NATS running", "url", e.ClientURL(), "routes", f.routeList(), "storeDir", dir)
	}
	if replicas == 0 {
		replicas = 1
	}
	log.Info("cluster: joining", "node", f.nodeID, "nats", urls, "replicas", replicas)
	conn, err := cluster.Dial(ctx, cluster.Config{URLs: urls, NodeID: f.nodeID, Replicas: replicas, LeaseTTL: f.leaseTTL, Logger: log})
	if err != nil {
		n.close()
		return nil, err
	}
	n.conn = conn
	return n, nil
}

// startArchiver copies the event stream into the node's store (gateway role).
func (n *clusterNode) startArchiver(sink cluster.Sink, backlog func() int, dataDir string, log *slog.Logger) {
	statePath := ""
	if dataDir != "" {
		statePath = filepath.Join(dataDir, "cluster-archive.json")
	}
	a := cluster.NewArchiver(n.conn, cluster.ArchiverConfig{Sink: sink, Backlog: backlog, StatePath: statePath, Logger: log})
	n.arch.Store(a)
	ctx, cancel := context.WithCancel(context.Background())
	n.archCancel = cancel
	n.wg.Go(func() {
		if err := a.Run(ctx); err != nil {
			log.Error("cluster: archiver stopped", "err", err)
		}
	})
}

// delivered is the store's Deliver hook for the archiver.
func (n *clusterNode) delivered(m *event.Encoded) {
	if a := n.arch.Load(); a != nil {
		a.Delivered(m)
	}
}

// startCoordinator claims and runs rooms (ingest role).
func (n *clusterNode) startCoordinator(mgr *room.Manager, maxRooms int, quota *room.Quota, log *slog.Logger) {
	n.coord = cluster.NewCoordinator(n.conn, cluster.CoordinatorConfig{
		Manager: mgr, Log: n.log, MaxRooms: maxRooms, Gateway: n.f.gateway, Version: Version(), Logger: log,
		SignBudget: func() int { return int(quota.Remaining()) }, // -1: unlimited
	})
	ctx, cancel := context.WithCancel(context.Background())
	n.coordCancel = cancel
	n.wg.Go(func() {
		if err := n.coord.Run(ctx); err != nil {
			log.Error("cluster: coordinator stopped", "err", err)
		}
	})
}

// handOver stops the coordinator, which hands every owned room over (bounded by ctx).
func (n *clusterNode) handOver(ctx context.Context) {
	if n.coord == nil {
		return
	}
	done := make(chan struct{})
	go func() { defer close(done); n.coord.Drain(ctx); n.coordCancel() }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// stopArchiver stops the archiver and waits for it.
func (n *clusterNode) stopArchiver() {
	if n.archCancel != nil {
		n.archCancel()
	}
}

// close stops everything this node runs in the cluster, after the store has what it archived.
func (n *clusterNode) close() {
	if n.coordCancel != nil {
		n.coordCancel()
	}
	if n.archCancel != nil {
		n.archCancel()
	}
	n.wg.Wait()
	if n.stopView != nil {
		n.stopView()
	}
	if n.conn != nil {
		n.conn.Close()
	}
	if n.embedded != nil {
		n.embedded.Shutdown()
	}
}

// Ready: NATS connected, and (gateway) the archive caught up with the stream once.
func (n *clusterNode) Ready() (bool, string) {
	if !n.conn.Connected() {
		return false, "no NATS connection (hint: check --nats-url and that the NATS servers run)"
	}
	if a := n.arch.Load(); a != nil && !a.Ready() {
		return false, "catching up with the event stream"
	}
	return true, ""
}

// Info is GET /v1/cluster.
func (n *clusterNode) Info(ctx context.Context) any {
	nodes, _ := n.conn.Nodes(ctx)
	info := map[string]any{
		"node": n.f.nodeID, "ingest": n.f.ingest, "gateway": n.f.gateway, "webhooks": n.f.webhooks,
		"nats": n.conn.ConnectedURL(), "nodes": nodes, "leaseTtlMs": n.conn.LeaseTTL().Milliseconds(),
	}
	if n.rooms != nil {
		info["owners"] = n.rooms.Owners()
	}
	info["webhooksNode"] = n.WebhooksNode(ctx) // "" while no node sends webhooks
	if n.coord != nil {
		info["owned"], info["draining"] = n.coord.Owned(), n.coord.Draining()
		info["log"] = n.log.Stats()
	}
	if a := n.arch.Load(); a != nil {
		info["archive"] = a.Stats()
	}
	return info
}

// WebhooksNode is the node holding the webhooks role ("" when none, or NATS cannot say).
func (n *clusterNode) WebhooksNode(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	holder, _ := n.conn.RoleHolder(ctx, cluster.RoleWebhooks)
	return holder
}

// Drain hands this node's rooms over and stops it claiming (POST /v1/cluster/drain).
func (n *clusterNode) Drain(ctx context.Context) error {
	if n.coord == nil {
		return errors.New("this node has no ingest role: it owns no rooms")
	}
	n.coord.Drain(ctx)
	return nil
}

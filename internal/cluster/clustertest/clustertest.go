// Package clustertest starts embedded NATS clusters on loopback for tests.
package clustertest

import (
	"fmt"
	"net"
	"testing"

	"github.com/tiktok-live-server/tiktok-live-server/internal/cluster"
)

// Cluster is n embedded NATS servers routed to each other.
type Cluster struct {
	Servers []*cluster.Embedded
	Routes  []string // route addresses, host:port
	cfgs    []cluster.EmbeddedConfig
}

// FreePorts returns n ports free now on loopback (routes need known ports up front).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

// Start runs n servers (n 1: a single server) and stops them when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	var routePorts []int
	if n > 1 {
		routePorts = FreePorts(t, n)
		for _, p := range routePorts {
			c.Routes = append(c.Routes, fmt.Sprintf("127.0.0.1:%d", p))
		}
	}
	clientPorts := FreePorts(t, n)
	for i := range n {
		cfg := cluster.EmbeddedConfig{Name: fmt.Sprintf("n%d", i+1), Listen: fmt.Sprintf("127.0.0.1:%d", clientPorts[i]), StoreDir: t.TempDir()}
		if n > 1 {
			cfg.ClusterListen = c.Routes[i]
			for j, r := range c.Routes {
				if j != i {
					cfg.Routes = append(cfg.Routes, r)
				}
			}
		}
		c.cfgs = append(c.cfgs, cfg)
	}
	c.Servers = make([]*cluster.Embedded, n)
	for i := range n {
		c.startOne(t, i)
	}
	t.Cleanup(func() {
		for _, s := range c.Servers {
			if s != nil {
				s.Shutdown()
			}
		}
	})
	return c
}

func (c *Cluster) startOne(t testing.TB, i int) {
	t.Helper()
	s, err := cluster.StartEmbedded(c.cfgs[i])
	if err != nil {
		t.Fatalf("start NATS %d: %v", i, err)
	}
	c.Servers[i] = s
}

// URLs are the servers' client addresses.
func (c *Cluster) URLs() []string {
	var out []string
	for _, cfg := range c.cfgs {
		out = append(out, "nats://"+cfg.Listen)
	}
	return out
}

// Kill shuts server i down (its files stay); Restart brings it back on the same addresses.
func (c *Cluster) Kill(i int) {
	c.Servers[i].Shutdown()
	c.Servers[i] = nil
}

// Restart starts server i again after Kill.
func (c *Cluster) Restart(t testing.TB, i int) { c.startOne(t, i) }

// Replicas is the replica count for n servers: 3 when there are 3 or more, else 1.
func (c *Cluster) Replicas() int {
	if len(c.Servers) >= 3 {
		return 3
	}
	return 1
}

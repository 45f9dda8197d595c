package cluster

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig is an in-process NATS server: a cluster member when Routes or ClusterListen are
// given, a single server otherwise.
type EmbeddedConfig struct {
	Name          string   // server name, unique in the cluster
	Listen        string   // client address host:port; port 0 picks one
	ClusterListen string   // route address host:port, "" for a single server
	Routes        []string // other members' route addresses host:port
	ClusterName   string   // "" = "tiktok-live"
	StoreDir      string   // JetStream's files
}

// Embedded is a running in-process NATS server.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts the server and waits until it accepts clients.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	host, port, err := splitHostPort(cfg.Listen, "127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("cluster: --nats-listen %q: %w", cfg.Listen, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: cfg.Name, Host: host, Port: port,
		JetStream: true, StoreDir: cfg.StoreDir,
		NoLog: true, NoSigs: true, // signals belong to the program
		MaxPayload: 8 << 20,
	}
	if cfg.ClusterListen != "" {
		ch, cp, err := splitHostPort(cfg.ClusterListen, "127.0.0.1")
		if err != nil {
			return nil, fmt.Errorf("cluster: --nats-cluster-listen %q: %w", cfg.ClusterListen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: ch, Port: cp}
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = "tiktok-live"
		}
		for _, r := range cfg.Routes {
			opts.Routes = append(opts.Routes, server.RoutesFromStr("nats-route://"+r)...)
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("cluster: embedded NATS did not accept clients within 10s (hint: is the port free?)")
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL is the server's nats:// address.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// Server is the nats-server, for tests that need to find stream leaders.
func (e *Embedded) Server() *server.Server { return e.srv }

func splitHostPort(addr, defHost string) (string, int, error) {
	if addr == "" {
		return defHost, 0, nil
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if h == "" {
		h = defHost
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return h, n, nil
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names in JetStream.
const (
	StreamName    = "TIKTOK"
	subjectPrefix = "tiktok."
	bucketDesired = "rooms_desired"
	bucketOwner   = "rooms_owner"
	bucketNodes   = "nodes"
	bucketState   = "room_state"
	bucketRoles   = "roles"
)

// Defaults for Config.
const (
	DefaultLeaseTTL = 15 * time.Second
)

// Config is how a node joins the cluster.
type Config struct {
	URLs     []string      // NATS servers (any member; the client learns the rest)
	NodeID   string        // unique per node; the owner name in status
	Replicas int           // JetStream replicas of the stream and buckets: 1, or 3 for a 3-member cluster
	LeaseTTL time.Duration // a room's owner must renew within this; 0 = DefaultLeaseTTL
	MaxAge   time.Duration // how long the event stream keeps events; 0 = 72h
	Logger   *slog.Logger
}

// Conn is a node's connection to the cluster: the event stream and the buckets.
type Conn struct {
	cfg     Config
	nc      *nats.Conn
	js      jetstream.JetStream
	events  jetstream.Stream
	desired jetstream.KeyValue
	owners  jetstream.KeyValue
	nodes   jetstream.KeyValue
	state   jetstream.KeyValue
	roles   jetstream.KeyValue // leases of roles one node at a time may have (ClaimRole)
	log     *slog.Logger

	reconnMu sync.Mutex
	reconn   chan struct{} // closed and replaced at each reconnect
}

// Dial connects and creates (or updates) the stream and buckets. Until JetStream has a meta leader
// (a few seconds after a cluster forms) requests can hang, so each is retried with a short
// deadline until ctx ends.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 72 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeID == "" {
		return nil, errors.New("cluster: no node id (hint: give --node-id, unique per node)")
	}
	c := &Conn{cfg: cfg, log: cfg.Logger, reconn: make(chan struct{})}
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","),
		nats.Name("tiktok-live-server "+cfg.NodeID),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(-1), // a publish during a reconnect fails at once; the chain retries it
		nats.ReconnectHandler(func(*nats.Conn) { c.onReconnect() }),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS %s: %w (hint: check --nats-url)", strings.Join(cfg.URLs, ","), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	c.nc, c.js = nc, js
	if err := c.setup(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) setup(ctx context.Context) error {
	ttl := c.cfg.LeaseTTL
	steps := []struct {
		what string
		do   func(ctx context.Context) error
	}{
		{"stream " + StreamName, func(ctx context.Context) (err error) {
			c.events, err = c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
				Name: StreamName, Subjects: []string{subjectPrefix + ">"},
				Storage: jetstream.FileStorage, Replicas: c.cfg.Replicas,
				Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld,
				MaxAge: c.cfg.MaxAge, Duplicates: 2 * time.Minute, AllowDirect: true,
			})
			return err
		}},
		{"bucket " + bucketDesired, func(ctx context.Context) (err error) {
			c.desired, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: bucketDesired, History: 1, Replicas: c.cfg.Replicas, Storage: jetstream.FileStorage})
			return err
		}},
		{"bucket " + bucketOwner, func(ctx context.Context) (err error) {
			// The bucket's TTL ages every revision from its own write: a lease not renewed
			// disappears TTL after its last renewal (a per-key TTL would not carry over to
			// Update). The limit marker makes watchers see the expiry.
			c.owners, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: bucketOwner, History: 1, TTL: ttl, LimitMarkerTTL: ttl,
				Replicas: c.cfg.Replicas, Storage: jetstream.FileStorage})
			return err
		}},
		{"bucket " + bucketNodes, func(ctx context.Context) (err error) {
			c.nodes, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: bucketNodes, History: 1, TTL: ttl, Replicas: c.cfg.Replicas, Storage: jetstream.FileStorage})
			return err
		}},
		{"bucket " + bucketRoles, func(ctx context.Context) (err error) {
			c.roles, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: bucketRoles, History: 1, TTL: ttl, Replicas: c.cfg.Replicas, Storage: jetstream.FileStorage})
			return err
		}},
		{"bucket " + bucketState, func(ctx context.Context) (err error) {
			c.state, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: bucketState, History: 1, Replicas: c.cfg.Replicas, Storage: jetstream.FileStorage})
			return err
		}},
	}
	for _, s := range steps {
		if err := retry(ctx, s.do); err != nil {
			return fmt.Errorf("cluster: create %s: %w (hint: is JetStream enabled on the NATS servers, with %d of them for --nats-replicas?)", s.what, err, c.cfg.Replicas)
		}
	}
	return nil
}

// retry runs do with a 2 s deadline per attempt until it succeeds or ctx ends.
func retry(ctx context.Context, do func(ctx context.Context) error) error {
	var last error
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := do(actx)
		cancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// NodeID is this node's id.
func (c *Conn) NodeID() string { return c.cfg.NodeID }

// LeaseTTL is the lease time.
func (c *Conn) LeaseTTL() time.Duration { return c.cfg.LeaseTTL }

// Connected reports whether the node has a NATS connection now (readiness).
func (c *Conn) Connected() bool { return c.nc.IsConnected() }

// ConnectedURL is the NATS server the node is connected to ("" while it is not).
func (c *Conn) ConnectedURL() string { return c.nc.ConnectedUrlRedacted() }

// Close drops the connection.
func (c *Conn) Close() { c.nc.Close() }

// Token is a room key as a subject token and KV key part: TikTok handles are letters, digits, '_'
// and '.', and '.' separates subject tokens, so '.' becomes '-' (which handles never contain).
func Token(room string) string { return strings.ReplaceAll(room, ".", "-") }

// RoomOfToken is Token's inverse.
func RoomOfToken(tok string) string { return strings.ReplaceAll(tok, "-", ".") }

func subject(room string) string { return subjectPrefix + Token(room) }
func roomKey(room string) string { return "room." + Token(room) }

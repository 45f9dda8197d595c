package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RoleWebhooks is the role of the node that sends the webhooks. One node at a time: each
// webhooks node follows its own archived log, so two would send every webhook twice.
const RoleWebhooks = "webhooks"

// RoleHeldError says another node holds a role this node was given.
type RoleHeldError struct {
	Role, Node string
	TTL        time.Duration
}

func (e *RoleHeldError) Error() string {
	return fmt.Sprintf("cluster: node %q holds the %s role (hint: give --role %s to one node only; a node that is gone lets go of it %s after its last renewal)",
		e.Node, e.Role, e.Role, e.TTL)
}

// ClaimRole takes a role only one node may hold. A hold left by this node's own previous run (the
// same node id, killed before it let go) is taken over at once; another node's is waited for up to
// wait, as a node that just died lets go after the TTL; then *RoleHeldError.
func (c *Conn) ClaimRole(ctx context.Context, role string, wait time.Duration) (*Lease, error) {
	key := "role." + role
	deadline := time.Now().Add(wait)
	told := false
	for {
		l, err := c.create(ctx, c.roles, key, role)
		if !errors.Is(err, ErrHeld) {
			return l, err
		}
		holder := ""
		o, rev, ok, err := readOwner(ctx, c.roles, key, role)
		switch {
		case err == nil && !ok:
			continue // gone meanwhile
		case err == nil && o.Node == c.cfg.NodeID:
			l, err := c.write(c.roles, key, role, func(val []byte) (uint64, error) { return c.roles.Update(ctx, key, val, rev) })
			if err != nil {
				continue // it changed meanwhile: look again
			}
			c.log.Info("cluster: took back this node's own hold of a role, left by its previous run", "role", role)
			return l, nil
		case err == nil:
			holder = o.Node
		}
		if !time.Now().Before(deadline) {
			return nil, &RoleHeldError{Role: role, Node: holder, TTL: c.cfg.LeaseTTL}
		}
		if !told {
			told = true
			c.log.Warn("cluster: another node holds a role this node was given; waiting for it to let go", "role", role, "holder", holder, "until", deadline.UTC().Format(time.RFC3339))
		}
		if !sleep(ctx, 500*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// HoldRole renews the role's lease every TTL/3 until ctx ends, then lets go of it. If another node
// took the role meanwhile (this one could not renew for a TTL) it calls lost with that node's id
// and returns: the caller must stop acting in the role. A lease that expired with nobody taking
// it is taken again.
func (c *Conn) HoldRole(ctx context.Context, l *Lease, lost func(holder string)) {
	t := time.NewTicker(c.cfg.LeaseTTL / 3)
	defer t.Stop()
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = c.Release(rctx, l)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c.Renew(actx, l)
		if errors.Is(err, ErrLost) {
			var again *Lease
			again, err = c.ClaimRole(actx, l.Room, 0)
			var held *RoleHeldError
			if errors.As(err, &held) {
				cancel()
				c.log.Error("cluster: another node took this node's role; it stops acting in it", "role", l.Room, "holder", held.Node)
				lost(held.Node)
				return
			}
			if err == nil {
				l = again
			}
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			c.log.Warn("cluster: role lease not renewed; retrying", "role", l.Room, "err", err)
		}
	}
}

// RoleHolder is the node that holds role now ("" when none).
func (c *Conn) RoleHolder(ctx context.Context, role string) (string, error) {
	o, _, _, err := readOwner(ctx, c.roles, "role."+role, role)
	return o.Node, err
}

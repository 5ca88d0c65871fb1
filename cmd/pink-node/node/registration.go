package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// registration keeps the node registered (a leased key under
// <prefix>/node/instances/) from start to stop, registering it again if
// the lease is lost (etcd unreachable for longer than the TTL, say).
type registration struct {
	reg  ports.NodeRegistry
	node domain.Node
	ttl  time.Duration
	log  *slog.Logger

	mu    sync.Mutex
	lease ports.Lease

	cancel context.CancelFunc
	done   chan struct{} // closed when keep returns
}

func newRegistration(cfg Config, reg ports.NodeRegistry, clk ports.Clock) *registration {
	n := domain.Node{ID: cfg.NodeID, Address: cfg.HTTPAddr, Version: cfg.Version, StartedAt: clk.Now().UTC()}
	n.Hostname = hostname()
	return &registration{reg: reg, node: n, ttl: cfg.LeaseTTL, log: cfg.Logger.With("node", cfg.NodeID)}
}

// start registers the node. A live registration with the same ID may be
// this node's previous process, killed less than a TTL ago: start waits
// up to a TTL (and a second) for it to expire before giving up.
func (r *registration) start(ctx context.Context) error {
	deadline := time.Now().Add(r.ttl + time.Second)
	warned := false
	for {
		l, err := r.reg.RegisterNode(ctx, r.node, r.ttl)
		if err == nil {
			r.setLease(l)
			break
		}
		if !errors.Is(err, domain.ErrAlreadyExists) || time.Now().After(deadline) {
			if errors.Is(err, domain.ErrAlreadyExists) {
				return fmt.Errorf("node ID %q is used by another live node (choose another --node-id): %w", r.node.ID, err)
			}
			return fmt.Errorf("register node %q: %w", r.node.ID, err)
		}
		if !warned {
			r.log.Warn("node ID still registered, maybe by this node's previous process; waiting for its lease to expire", "ttl", r.ttl)
			warned = true
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return fmt.Errorf("register node %q: %w", r.node.ID, ctx.Err())
		}
	}
	kctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.keep(kctx)
	r.log.Info("node registered", "ttl", r.ttl)
	return nil
}

// keep registers the node again whenever its lease ends, until ctx ends.
func (r *registration) keep(ctx context.Context) {
	defer close(r.done)
	for {
		l := r.current()
		select {
		case <-ctx.Done():
			return
		case <-l.Done():
		}
		r.log.Warn("node registration lost; registering again", "err", l.Err())
		backoff := 100 * time.Millisecond
		for {
			nl, err := r.reg.RegisterNode(ctx, r.node, r.ttl)
			if err == nil {
				r.setLease(nl)
				r.log.Info("node registered again")
				break
			}
			if ctx.Err() != nil {
				return
			}
			r.log.Debug("registering the node failed; retrying", "err", err, "backoff", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

// deregisterTimeout bounds the revoke of the registration on stop: if etcd
// does not answer, the lease expires on its own within its TTL.
const deregisterTimeout = 3 * time.Second

// stop deregisters the node. A failed revoke is only a warning: the
// registration expires within its TTL anyway.
func (r *registration) stop(ctx context.Context) error {
	r.cancel()
	<-r.done
	ctx, cancel := context.WithTimeout(ctx, deregisterTimeout)
	defer cancel()
	if err := r.current().Close(ctx); err != nil {
		r.log.Warn("could not deregister the node; its registration expires within the lease TTL", "err", err, "ttl", r.ttl)
		return nil
	}
	r.log.Info("node deregistered")
	return nil
}

// registered reports whether the node's registration lives.
func (r *registration) registered() bool {
	l := r.current()
	return l != nil && l.Err() == nil
}

func (r *registration) current() ports.Lease {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lease
}

func (r *registration) setLease(l ports.Lease) {
	r.mu.Lock()
	r.lease = l
	r.mu.Unlock()
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

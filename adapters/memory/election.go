package memory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// ElectionPrefix is the prefix of candidate keys, as in the etcd layout.
const ElectionPrefix = "/pink/node/election/"

// DefaultElectionTTL is the session TTL of an elector made with a ttl of 0,
// like concurrency.NewSession's default.
const DefaultElectionTTL = 60 * time.Second

// candidate is one candidacy: a key under ElectionPrefix attached to its
// own lease. Candidates queue in create-revision order; the first is the
// leader.
type candidate struct {
	key       string
	createRev int64
	nodeID    string
	lease     *lease
}

// Elector campaigns for leadership on a Backend (ports.Elector), the
// in-memory twin of etcd's concurrency.Election.
type Elector struct {
	b      *Backend
	nodeID string
	ttl    time.Duration
}

var _ ports.Elector = (*Elector)(nil)

// NewElector returns an elector campaigning as nodeID with a session TTL
// of ttl (rounded up to whole seconds, at least one; 0 means
// DefaultElectionTTL). The TTL only matters after StopKeepAlive.
// Electors of one backend compete.
func (b *Backend) NewElector(nodeID string, ttl time.Duration) ports.Elector {
	if ttl <= 0 {
		ttl = DefaultElectionTTL
	}
	ttl, _ = validateTTL(max(ttl, time.Second)) // cannot fail: at least 1s
	return &Elector{b: b, nodeID: nodeID, ttl: ttl}
}

// Campaign puts a candidate key under a new lease and blocks until it is
// the oldest candidate, that is the leader. If ctx is done first, it
// withdraws the candidacy and returns ctx.Err(); if the backend is closed,
// domain.ErrClosed.
func (e *Elector) Campaign(ctx context.Context) (ports.Leadership, error) {
	b := e.b
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("campaign as %q: %w", e.nodeID, domain.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("campaign as %q: %w", e.nodeID, err)
	}
	c := &candidate{nodeID: e.nodeID}
	c.lease = b.newLease(e.ttl, func() []entry {
		b.candidates = slices.DeleteFunc(b.candidates, func(x *candidate) bool { return x == c })
		return nil
	})
	c.key = ElectionPrefix + strconv.FormatInt(c.lease.id, 16)
	c.createRev = b.bump()
	b.candidates = append(b.candidates, c)
	b.publish()
	b.mu.Unlock()

	for {
		b.mu.Lock()
		switch {
		case c.lease.ended:
			err := c.lease.err
			b.mu.Unlock()
			return nil, fmt.Errorf("campaign as %q: candidacy ended: %w", e.nodeID, err)
		case b.closed:
			b.endLease(c.lease, domain.ErrClosed)
			b.mu.Unlock()
			return nil, fmt.Errorf("campaign as %q: %w", e.nodeID, domain.ErrClosed)
		case b.candidates[0] == c:
			b.mu.Unlock()
			return &Leadership{b: b, l: c.lease, fence: ports.Fence{Key: c.key, Token: c.createRev}}, nil
		}
		notify := b.notify
		b.mu.Unlock()
		select {
		case <-notify:
		case <-b.stop:
		case <-ctx.Done():
			b.mu.Lock()
			b.endLease(c.lease, domain.ErrClosed)
			b.mu.Unlock()
			return nil, fmt.Errorf("campaign as %q: %w", e.nodeID, ctx.Err())
		}
	}
}

// Leader returns the oldest candidate, which is the leader, or
// domain.ErrNotFound when there is none.
func (e *Elector) Leader(context.Context) (ports.LeaderInfo, error) {
	b := e.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.candidates) == 0 {
		return ports.LeaderInfo{}, fmt.Errorf("leader: %w", domain.ErrNotFound)
	}
	c := b.candidates[0]
	return ports.LeaderInfo{NodeID: c.nodeID, Fence: ports.Fence{Key: c.key, Token: c.createRev}}, nil
}

// Leadership is one term of leadership (ports.Leadership).
type Leadership struct {
	b     *Backend
	l     *lease
	fence ports.Fence
}

var _ ports.Leadership = (*Leadership)(nil)

// Fence returns the term's fencing token: the leader key and its create
// revision.
func (x *Leadership) Fence() ports.Fence { return x.fence }

// Done is closed when the term ends: Resign, KillLease, or expiry after
// StopKeepAlive.
func (x *Leadership) Done() <-chan struct{} { return x.l.done }

// Resign ends the term at once, deleting the leader key, so the next
// candidate takes over. It is safe to call more than once and after Done.
func (x *Leadership) Resign(context.Context) error {
	x.b.mu.Lock()
	defer x.b.mu.Unlock()
	x.b.endLease(x.l, domain.ErrClosed)
	return nil
}

package ports

import "context"

// LeaderInfo names the current leader.
type LeaderInfo struct {
	NodeID string
	Fence  Fence
}

// Elector runs leader election for one node. At most one Leadership is
// live across the cluster at a time, as far as fenced writes can tell: the
// lease alone is never trusted, every leader write carries the Fence.
type Elector interface {
	// Campaign blocks until this node is leader and returns the
	// leadership, or returns ctx.Err() when ctx is done first (the
	// candidacy is withdrawn). Call it again after a Leadership ends.
	Campaign(ctx context.Context) (Leadership, error)
	// Leader returns the current leader, or domain.ErrNotFound if there is
	// none. It is informational: correctness never depends on it.
	Leader(ctx context.Context) (LeaderInfo, error)
}

// Leadership is one term of leadership.
type Leadership interface {
	// Fence returns the term's fencing token.
	Fence() Fence
	// Done is closed when the term ends: the session expired or was
	// revoked, or Resign was called. Fenced writes fail from then on (and
	// may fail a little earlier).
	Done() <-chan struct{}
	// Resign ends the term at once so another node can take over. Safe to
	// call more than once and after Done.
	Resign(ctx context.Context) error
}

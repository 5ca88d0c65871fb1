package ports

import (
	"context"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// Lease is a registration that lives while its owner keeps it alive. The
// adapter renews it in the background until Close; if renewal fails for
// longer than the TTL the lease expires and the registration disappears.
type Lease interface {
	// Done is closed when the lease ends: expired, revoked or closed.
	Done() <-chan struct{}
	// Err returns nil before Done is closed, then domain.ErrLeaseExpired or
	// domain.ErrClosed.
	Err() error
	// Close revokes the lease, removing the registration at once. It is
	// safe to call more than once.
	Close(ctx context.Context) error
}

// WorkerEvent is one change to the set of registered workers.
type WorkerEvent struct {
	Type     EventType
	Worker   domain.Worker
	Revision int64
	Err      error
}

// WorkerRegistry tracks live workers.
type WorkerRegistry interface {
	// RegisterWorker registers w under a lease of ttl. Worker IDs are
	// unique across groups. Returns domain.ErrAlreadyExists if a live
	// worker has the same ID (in any group; after a lease was lost on the
	// client side, the server may still hold it until its TTL ends) and a
	// *domain.ValidationError for an invalid worker or ttl.
	RegisterWorker(ctx context.Context, w domain.Worker, ttl time.Duration) (Lease, error)
	// ListWorkers lists live workers of a group ("" for all groups), by ID,
	// and the revision from which WatchWorkers continues.
	ListWorkers(ctx context.Context, group string) ([]domain.Worker, int64, error)
	// WatchWorkers delivers registrations (EventPut) and expiries or
	// deregistrations (EventDelete) after revision ("" group for all).
	WatchWorkers(ctx context.Context, group string, afterRevision int64) <-chan WorkerEvent
}

// NodeRegistry tracks live scheduler nodes.
type NodeRegistry interface {
	// RegisterNode registers n under a lease of ttl. Returns
	// domain.ErrAlreadyExists if a live node has the same ID.
	RegisterNode(ctx context.Context, n domain.Node, ttl time.Duration) (Lease, error)
	// ListNodes lists live nodes by ID.
	ListNodes(ctx context.Context) ([]domain.Node, error)
}

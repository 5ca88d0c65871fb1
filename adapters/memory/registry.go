package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// workerRec is a live worker registration.
type workerRec struct {
	w     domain.Worker
	lease *lease
}

// nodeRec is a live node registration.
type nodeRec struct {
	n     domain.Node
	lease *lease
}

// RegisterWorker registers w under a new lease of ttl (rounded up to whole
// seconds). Returns domain.ErrAlreadyExists if a live worker has the same
// ID, and a *domain.ValidationError for an invalid worker or a ttl under
// one second.
func (b *Backend) RegisterWorker(_ context.Context, w domain.Worker, ttl time.Duration) (ports.Lease, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("register worker %q: %w", w.ID, err)
	}
	ttl, err := validateTTL(ttl)
	if err != nil {
		return nil, fmt.Errorf("register worker %q: %w", w.ID, err)
	}
	if err := b.checkSize(fmt.Sprintf("register worker %q", w.ID), w); err != nil {
		return nil, err
	}
	w = cloneWorker(w)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("register worker %q: %w", w.ID, domain.ErrClosed)
	}
	if _, ok := b.workers[w.ID]; ok {
		return nil, fmt.Errorf("register worker %q: %w", w.ID, domain.ErrAlreadyExists)
	}
	var l *lease
	l = b.newLease(ttl, func() []entry {
		if rec, ok := b.workers[w.ID]; ok && rec.lease == l {
			delete(b.workers, w.ID)
			return []entry{{kind: kindWorker, prev: w}}
		}
		return nil
	})
	b.bump()
	b.workers[w.ID] = workerRec{w: w, lease: l}
	b.publish(entry{kind: kindWorker, val: w})
	return &Lease{b: b, l: l}, nil
}

// ListWorkers lists the live workers of group ("" for all groups) by ID,
// and the revision from which WatchWorkers continues.
func (b *Backend) ListWorkers(_ context.Context, group string) ([]domain.Worker, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []domain.Worker
	for _, rec := range b.workers {
		if group == "" || rec.w.Group == group {
			out = append(out, cloneWorker(rec.w))
		}
	}
	slices.SortFunc(out, func(x, y domain.Worker) int { return strings.Compare(x.ID, y.ID) })
	return out, b.rev, nil
}

// WatchWorkers delivers registrations (EventPut) and expiries or
// deregistrations (EventDelete, with the registered value) of the workers
// of group ("" for all groups) after revision afterRevision, until ctx is
// done.
func (b *Backend) WatchWorkers(ctx context.Context, group string, afterRevision int64) <-chan ports.WorkerEvent {
	return watch(ctx, b, afterRevision, func(e entry) (ports.WorkerEvent, bool) {
		if e.kind != kindWorker {
			return ports.WorkerEvent{}, false
		}
		ev := ports.WorkerEvent{Type: ports.EventPut, Revision: e.rev}
		if e.val == nil {
			ev.Type, ev.Worker = ports.EventDelete, e.prev.(domain.Worker)
		} else {
			ev.Worker = e.val.(domain.Worker)
		}
		if group != "" && ev.Worker.Group != group {
			return ports.WorkerEvent{}, false
		}
		ev.Worker = cloneWorker(ev.Worker)
		return ev, true
	}, func(err error) ports.WorkerEvent { return ports.WorkerEvent{Err: err} })
}

// RegisterNode registers n under a new lease of ttl (rounded up to whole
// seconds). Returns domain.ErrAlreadyExists if a live node has the same
// ID, and a *domain.ValidationError for an invalid node or a ttl under one
// second.
func (b *Backend) RegisterNode(_ context.Context, n domain.Node, ttl time.Duration) (ports.Lease, error) {
	if err := n.Validate(); err != nil {
		return nil, fmt.Errorf("register node %q: %w", n.ID, err)
	}
	ttl, err := validateTTL(ttl)
	if err != nil {
		return nil, fmt.Errorf("register node %q: %w", n.ID, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("register node %q: %w", n.ID, domain.ErrClosed)
	}
	if _, ok := b.nodes[n.ID]; ok {
		return nil, fmt.Errorf("register node %q: %w", n.ID, domain.ErrAlreadyExists)
	}
	var l *lease
	l = b.newLease(ttl, func() []entry {
		if rec, ok := b.nodes[n.ID]; ok && rec.lease == l {
			delete(b.nodes, n.ID)
		}
		return nil
	})
	b.bump()
	b.nodes[n.ID] = nodeRec{n: n, lease: l}
	b.publish()
	return &Lease{b: b, l: l}, nil
}

// ListNodes lists the live nodes by ID.
func (b *Backend) ListNodes(context.Context) ([]domain.Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]domain.Node, 0, len(b.nodes))
	for _, rec := range b.nodes {
		out = append(out, rec.n)
	}
	slices.SortFunc(out, func(x, y domain.Node) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}

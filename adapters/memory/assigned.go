package memory

import (
	"context"
	"slices"
	"strings"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// assignedTo reports whether r is an active run of worker workerID of
// group: the runs the etcd adapter keeps under the worker's assignment
// prefix.
func assignedTo(r domain.Run, group, workerID string) bool {
	return r.Active() && r.WorkerID == workerID && r.Group == group
}

// ListAssigned returns the active runs assigned to a worker, by ID, and
// the revision from which WatchAssigned continues.
func (b *Backend) ListAssigned(_ context.Context, group, workerID string) ([]domain.Run, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []domain.Run
	for _, r := range b.runs {
		if assignedTo(r, group, workerID) {
			out = append(out, r.Clone())
		}
	}
	slices.SortFunc(out, func(x, y domain.Run) int { return strings.Compare(x.ID, y.ID) })
	return out, b.rev, nil
}

// WatchAssigned delivers the changes to the runs assigned to a worker
// after revision afterRevision, until ctx is done:
//   - EventPut with the new value and its version when a run becomes the
//     worker's, changes while it is, or is cancelled while it was (so the
//     worker stops it);
//   - EventDelete with the last assigned value when a run stops being the
//     worker's otherwise: finished, retried (back to pending), reassigned,
//     or deleted.
func (b *Backend) WatchAssigned(ctx context.Context, group, workerID string, afterRevision int64) <-chan ports.RunEvent {
	return watch(ctx, b, afterRevision, func(e entry) (ports.RunEvent, bool) {
		if e.kind != kindRun {
			return ports.RunEvent{}, false
		}
		was := e.prev != nil && assignedTo(e.prev.(domain.Run), group, workerID)
		var next domain.Run
		is := false
		if e.val != nil {
			next = e.val.(domain.Run)
			is = assignedTo(next, group, workerID)
		}
		switch {
		case is, was && e.val != nil && next.State == domain.RunCancelled && next.WorkerID == workerID:
			return ports.RunEvent{Type: ports.EventPut, Run: next.Clone(), At: runVersion(&next), Revision: e.rev}, true
		case was:
			return ports.RunEvent{Type: ports.EventDelete, Run: e.prev.(domain.Run).Clone(), Revision: e.rev}, true
		}
		return ports.RunEvent{}, false
	}, runFail)
}

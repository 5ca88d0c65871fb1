package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// runKey is a run's sort key; listings go from the largest to the
// smallest, newest first.
func runKey(r domain.Run) string { return timeKey(r.ScheduledAt) + "\x00" + r.ID }

// GetRun returns the run, or domain.ErrNotFound.
func (b *Backend) GetRun(_ context.Context, id string) (domain.Run, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.runs[id]
	if !ok {
		return domain.Run{}, fmt.Errorf("get run %q: %w", id, domain.ErrNotFound)
	}
	return r.Clone(), nil
}

// matchRun reports whether f selects r (paging aside).
func matchRun(f ports.RunFilter, r *domain.Run) bool {
	switch {
	case f.JobID != "" && r.JobID != f.JobID,
		f.Group != "" && r.Group != f.Group,
		f.WorkerID != "" && r.WorkerID != f.WorkerID,
		len(f.States) > 0 && !slices.Contains(f.States, r.State),
		!f.From.IsZero() && r.ScheduledAt.Before(f.From),
		!f.To.IsZero() && !r.ScheduledAt.Before(f.To):
		return false
	}
	return true
}

// ListRuns lists the runs f selects, newest first (by ScheduledAt, then
// ID).
func (b *Backend) ListRuns(_ context.Context, f ports.RunFilter) (ports.Page[domain.Run], error) {
	for _, s := range f.States {
		if !s.Valid() {
			return ports.Page[domain.Run]{}, fmt.Errorf("list runs: %w",
				&domain.ValidationError{Field: "states", Reason: fmt.Sprintf("unknown run state %q", s)})
		}
	}
	b.mu.Lock()
	var items []domain.Run
	for _, r := range b.runs {
		if matchRun(f, &r) {
			items = append(items, r.Clone())
		}
	}
	b.mu.Unlock()
	slices.SortFunc(items, func(x, y domain.Run) int { return strings.Compare(runKey(y), runKey(x)) })
	return paginate(listRuns, items, runKey, descending, f.PageRequest)
}

// UpdateRun changes a run through fn, atomically, like UpdateGroup; it is
// not fenced. fn changing the run's ID, fire, job or group gets a
// *domain.ValidationError.
func (b *Backend) UpdateRun(ctx context.Context, id string, fn func(*domain.Run) error) (domain.Run, error) {
	return b.updateRun(ctx, nil, id, fn)
}

// UpdateRunAt is UpdateRun for a caller that holds the run at a version
// (see ports.RunStore): in memory a read costs nothing, so fn always runs
// on the run as stored, exactly as on the fallback path of the etcd
// adapter. The version returned is the run's ID and Version.
func (b *Backend) UpdateRunAt(ctx context.Context, known domain.Run, _ ports.RunVersion, fn func(*domain.Run) error) (domain.Run, ports.RunVersion, error) {
	r, err := b.updateRun(ctx, nil, known.ID, fn)
	if err != nil {
		return domain.Run{}, ports.RunVersion{}, err
	}
	return r, runVersion(&r), nil
}

// runVersion is the version of run r as this backend stored it.
func runVersion(r *domain.Run) ports.RunVersion {
	return ports.RunVersion{Key: r.ID, Revision: r.Version}
}

// LeaderUpdateRun is UpdateRun fenced by the leader's token: it returns
// domain.ErrNotLeader, writing nothing, if fence is not the current
// leadership when the write is made.
func (b *Backend) LeaderUpdateRun(ctx context.Context, fence ports.Fence, id string, fn func(*domain.Run) error) (domain.Run, error) {
	return b.updateRun(ctx, func() error { return b.checkFence(fence) }, id, fn)
}

func (b *Backend) updateRun(ctx context.Context, guard func() error, id string, fn func(*domain.Run) error) (domain.Run, error) {
	return casUpdate[domain.Run]{
		what:    fmt.Sprintf("update run %q", id),
		load:    func() (domain.Run, bool) { r, ok := b.runs[id]; return r, ok },
		version: func(r domain.Run) int64 { return r.Version },
		clone:   domain.Run.Clone,
		check: func(cur, next *domain.Run) error {
			switch {
			case next.ID != cur.ID:
				return &domain.ValidationError{Field: "id", Reason: "a run's ID cannot change"}
			case next.FireID != cur.FireID:
				return &domain.ValidationError{Field: "fire_id", Reason: "a run's fire cannot change"}
			case next.JobID != cur.JobID:
				return &domain.ValidationError{Field: "job_id", Reason: "a run's job cannot change"}
			case next.Group != cur.Group:
				return &domain.ValidationError{Field: "group", Reason: "a run's group cannot change"}
			case !next.State.Valid():
				return &domain.ValidationError{Field: "state", Reason: fmt.Sprintf("unknown run state %q", next.State)}
			}
			return b.checkSize("run", next)
		},
		guard: guard,
		store: func(cur, next domain.Run) domain.Run {
			next = next.Clone()
			next.Version = b.bump()
			b.runs[id] = next
			b.publish(entry{kind: kindRun, prev: cur, val: next})
			return next
		},
	}.run(ctx, b, fn)
}

// ScanActiveRuns calls fn for every pending, assigned or running run of
// one snapshot, taken at the returned revision, from which WatchRuns
// continues. fn runs without the store locked.
func (b *Backend) ScanActiveRuns(ctx context.Context, fn func(domain.Run) error) (int64, error) {
	b.mu.Lock()
	rev := b.rev
	var snap []domain.Run
	for _, r := range b.runs {
		if r.Active() {
			snap = append(snap, r)
		}
	}
	b.mu.Unlock()
	for _, r := range snap {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("scan active runs: %w", err)
		}
		if err := fn(r.Clone()); err != nil {
			return 0, err
		}
	}
	return rev, nil
}

// runEvent makes the event of a run entry for a watch of every run.
func runEvent(e entry) (ports.RunEvent, bool) {
	if e.kind != kindRun {
		return ports.RunEvent{}, false
	}
	if e.val == nil {
		return ports.RunEvent{Type: ports.EventDelete, Run: e.prev.(domain.Run).Clone(), Revision: e.rev}, true
	}
	return ports.RunEvent{Type: ports.EventPut, Run: e.val.(domain.Run).Clone(), Revision: e.rev}, true
}

// runFail makes the last event of a run watch that failed.
func runFail(err error) ports.RunEvent { return ports.RunEvent{Err: err} }

// WatchRuns delivers every change to any run after revision afterRevision,
// in order, until ctx is done, like WatchJobs.
func (b *Backend) WatchRuns(ctx context.Context, afterRevision int64) <-chan ports.RunEvent {
	return watch(ctx, b, afterRevision, runEvent, runFail)
}

// DeleteRun removes a finished run. Returns domain.ErrNotFound, or
// domain.ErrConflict if the run is pending, assigned or running.
func (b *Backend) DeleteRun(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.runs[id]
	if !ok {
		return fmt.Errorf("delete run %q: %w", id, domain.ErrNotFound)
	}
	if r.Active() {
		return fmt.Errorf("delete run %q: it is %s: %w", id, r.State, domain.ErrConflict)
	}
	b.bump()
	delete(b.runs, id)
	b.publish(entry{kind: kindRun, prev: r})
	return nil
}

// LeaderDeleteRuns removes runs whatever their state, fenced, in one
// write. Missing IDs are ignored.
func (b *Backend) LeaderDeleteRuns(_ context.Context, fence ports.Fence, ids []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkFence(fence); err != nil {
		return fmt.Errorf("delete runs: %w", err)
	}
	b.bump()
	var events []entry
	for _, id := range ids {
		if r, ok := b.runs[id]; ok {
			delete(b.runs, id)
			events = append(events, entry{kind: kindRun, prev: r})
		}
	}
	b.publish(events...)
	return nil
}

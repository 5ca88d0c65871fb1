package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// jobKey is a job's sort key: group, then ID. NUL sorts before every
// character a name may hold, so group "a" sorts before group "a-b".
func jobKey(j domain.Job) string { return j.Group + "\x00" + j.ID }

// CreateJob stores a new job and sets its Version. It returns
// domain.ErrAlreadyExists if the ID is taken (in any group), an error that
// is both a *domain.ValidationError for field "group" and
// domain.ErrNotFound if the group does not exist (checked atomically with
// the write), and a *domain.ValidationError for an ID or group that is not
// a valid key segment or a record that is too big.
func (b *Backend) CreateJob(_ context.Context, j domain.Job) (domain.Job, error) {
	if err := domain.ValidateName("id", j.ID); err != nil {
		return domain.Job{}, fmt.Errorf("create job: %w", err)
	}
	if err := domain.ValidateName("group", j.Group); err != nil {
		return domain.Job{}, fmt.Errorf("create job %q: %w", j.ID, err)
	}
	if err := b.checkSize(fmt.Sprintf("create job %q", j.ID), j); err != nil {
		return domain.Job{}, err
	}
	j = j.Clone()
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.groups[j.Group]; !ok {
		return domain.Job{}, fmt.Errorf("create job %q: %w: %w", j.ID,
			&domain.ValidationError{Field: "group", Reason: fmt.Sprintf("group %q does not exist", j.Group)},
			domain.ErrNotFound)
	}
	if _, ok := b.jobs[j.ID]; ok {
		return domain.Job{}, fmt.Errorf("create job %q: %w", j.ID, domain.ErrAlreadyExists)
	}
	j.Version = b.bump()
	b.jobs[j.ID] = j
	b.publish(entry{kind: kindJob, val: j})
	return j.Clone(), nil
}

// GetJob returns the job, or domain.ErrNotFound.
func (b *Backend) GetJob(_ context.Context, id string) (domain.Job, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[id]
	if !ok {
		return domain.Job{}, fmt.Errorf("get job %q: %w", id, domain.ErrNotFound)
	}
	return j.Clone(), nil
}

// ListJobs lists the jobs f selects, ordered by group, then ID.
func (b *Backend) ListJobs(_ context.Context, f ports.JobFilter) (ports.Page[domain.Job], error) {
	b.mu.Lock()
	var items []domain.Job
	for _, j := range b.jobs {
		if (f.Group == "" || j.Group == f.Group) && (f.State == "" || j.State == f.State) {
			items = append(items, j.Clone())
		}
	}
	b.mu.Unlock()
	slices.SortFunc(items, func(x, y domain.Job) int { return strings.Compare(jobKey(x), jobKey(y)) })
	return paginate(listJobs, items, jobKey, strings.Compare, f.PageRequest)
}

// UpdateJob changes a job through fn, atomically, like UpdateGroup. fn
// changing the ID or the group gets a *domain.ValidationError.
func (b *Backend) UpdateJob(ctx context.Context, id string, fn func(*domain.Job) error) (domain.Job, error) {
	return casUpdate[domain.Job]{
		what:    fmt.Sprintf("update job %q", id),
		load:    func() (domain.Job, bool) { j, ok := b.jobs[id]; return j, ok },
		version: func(j domain.Job) int64 { return j.Version },
		clone:   domain.Job.Clone,
		check: func(cur, next *domain.Job) error {
			if next.ID != cur.ID {
				return &domain.ValidationError{Field: "id", Reason: "a job's ID cannot change"}
			}
			if next.Group != cur.Group {
				return &domain.ValidationError{Field: "group", Reason: "a job cannot move to another group"}
			}
			return b.checkSize("job", next)
		},
		store: func(cur, next domain.Job) domain.Job {
			next = next.Clone() // fn's caller may keep the pointer
			next.Version = b.bump()
			b.jobs[id] = next
			b.publish(entry{kind: kindJob, prev: cur, val: next})
			return next
		},
	}.run(ctx, b, fn)
}

// DeleteJob removes a job and returns its last value, or
// domain.ErrNotFound. Runs are left to the scheduler.
func (b *Backend) DeleteJob(_ context.Context, id string) (domain.Job, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[id]
	if !ok {
		return domain.Job{}, fmt.Errorf("delete job %q: %w", id, domain.ErrNotFound)
	}
	b.bump()
	delete(b.jobs, id)
	b.publish(entry{kind: kindJob, prev: j})
	return j.Clone(), nil
}

// ScanJobs calls fn for every job of one snapshot, taken at the returned
// revision, from which WatchJobs continues. fn runs without the store
// locked. It stops at fn's first error and returns it.
func (b *Backend) ScanJobs(ctx context.Context, fn func(domain.Job) error) (int64, error) {
	b.mu.Lock()
	rev := b.rev
	snap := make([]domain.Job, 0, len(b.jobs))
	for _, j := range b.jobs {
		snap = append(snap, j) // stored values are never changed in place
	}
	b.mu.Unlock()
	for _, j := range snap {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("scan jobs: %w", err)
		}
		if err := fn(j.Clone()); err != nil {
			return 0, err
		}
	}
	return rev, nil
}

// WatchJobs delivers every job change after revision afterRevision, in
// order, until ctx is done (the channel is then closed). A watch from a
// compacted revision, or one that falls behind the kept history, gets a
// last event with domain.ErrCompacted.
func (b *Backend) WatchJobs(ctx context.Context, afterRevision int64) <-chan ports.JobEvent {
	return watch(ctx, b, afterRevision, func(e entry) (ports.JobEvent, bool) {
		if e.kind != kindJob {
			return ports.JobEvent{}, false
		}
		if e.val == nil {
			return ports.JobEvent{Type: ports.EventDelete, Job: e.prev.(domain.Job).Clone(), Revision: e.rev}, true
		}
		return ports.JobEvent{Type: ports.EventPut, Job: e.val.(domain.Job).Clone(), Revision: e.rev}, true
	}, func(err error) ports.JobEvent { return ports.JobEvent{Err: err} })
}

package ports

import (
	"context"

	"github.com/pink-scheduler/pink/domain"
)

// GroupStore keeps job groups.
type GroupStore interface {
	// CreateGroup stores a new group; it sets Version. Returns
	// domain.ErrAlreadyExists if a group with that name exists.
	CreateGroup(ctx context.Context, g domain.Group) (domain.Group, error)
	// GetGroup returns domain.ErrNotFound if there is no such group.
	GetGroup(ctx context.Context, name string) (domain.Group, error)
	// ListGroups lists groups by name.
	ListGroups(ctx context.Context, p PageRequest) (Page[domain.Group], error)
	// UpdateGroup reads the group, calls fn on a copy and stores the result
	// if fn returns nil, atomically: if the group changed in between, it
	// retries with the new value (fn may run several times). The name
	// cannot change. Returns domain.ErrNotFound, fn's error, or
	// domain.ErrConflict after too many lost races.
	UpdateGroup(ctx context.Context, name string, fn func(*domain.Group) error) (domain.Group, error)
	// DeleteGroup removes an empty group. Returns domain.ErrNotFound, or
	// domain.ErrConflict if the group still has jobs.
	DeleteGroup(ctx context.Context, name string) error
}

// JobFilter selects jobs for ListJobs. Empty fields match everything.
type JobFilter struct {
	Group string
	State domain.JobState
	PageRequest
}

// JobEvent is one change to a job.
type JobEvent struct {
	Type EventType
	// Job is the new value for EventPut and the last value for EventDelete.
	Job      domain.Job
	Revision int64
	Err      error
}

// JobStore keeps job definitions. Job IDs are unique across groups.
type JobStore interface {
	// CreateJob stores a new job; it sets Version. Returns
	// domain.ErrAlreadyExists if the ID is taken and a
	// *domain.ValidationError for field "group" (errors.Is ErrNotFound
	// too) if the group does not exist — checked atomically with the write.
	CreateJob(ctx context.Context, j domain.Job) (domain.Job, error)
	// GetJob returns domain.ErrNotFound if there is no such job.
	GetJob(ctx context.Context, id string) (domain.Job, error)
	// ListJobs lists jobs ordered by group, then ID.
	ListJobs(ctx context.Context, f JobFilter) (Page[domain.Job], error)
	// UpdateJob changes a job through fn, atomically, like UpdateGroup. The
	// ID and group cannot change (fn changing them gets domain.ErrInvalid).
	UpdateJob(ctx context.Context, id string, fn func(*domain.Job) error) (domain.Job, error)
	// DeleteJob removes a job and returns its last value. Returns
	// domain.ErrNotFound. The scheduler deletes its pending runs.
	DeleteJob(ctx context.Context, id string) (domain.Job, error)
	// ScanJobs calls fn for every job, in no particular order, from one
	// consistent snapshot, and returns that snapshot's revision, from which
	// WatchJobs continues. It stops at fn's first error and returns it.
	ScanJobs(ctx context.Context, fn func(domain.Job) error) (revision int64, err error)
	// WatchJobs delivers every job change after revision, in order, until
	// ctx is done. It does not block the store: a watcher that falls too
	// far behind gets domain.ErrCompacted.
	WatchJobs(ctx context.Context, afterRevision int64) <-chan JobEvent
}

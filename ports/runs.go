package ports

import (
	"context"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// FireWrite is a fire record and the runs it creates, written together.
type FireWrite struct {
	Fire domain.Fire
	// Runs are created with the fire, pending or already assigned.
	Runs []domain.Run
}

// FireFilter selects fires for ListFires. Empty fields match everything.
type FireFilter struct {
	JobID  string
	Status domain.FireStatus
	PageRequest
}

// FireStore keeps the fire ledger: one record per (job, nominal time).
type FireStore interface {
	// CreateFires writes a batch of fires with their runs, fenced by the
	// leader's token. Each fire is created only if no fire with its ID
	// exists, atomically with its runs: created[i] reports whether fire i
	// (and its runs) was written; an existing fire is left as it is. A
	// batch too big for one store transaction is written in several, each
	// fenced: if leadership is lost between two of them, the fires already
	// written stay (created reports them) and the call returns
	// domain.ErrNotLeader; a fence that fails on the first write writes
	// nothing.
	CreateFires(ctx context.Context, fence Fence, batch []FireWrite) (created []bool, err error)
	// CreateManualFire writes a manual fire ("trigger now") and its runs,
	// create-if-absent, without a fence: any node may take a trigger, and
	// a manual fire's ID carries a nonce (domain.ManualFireID), so it can
	// never be a second record of a scheduled slot. Its runs are pending:
	// the leader dispatches them. Returns domain.ErrAlreadyExists if the ID
	// exists and a *domain.ValidationError if the fire is not a manual one
	// or its runs do not belong to it.
	CreateManualFire(ctx context.Context, w FireWrite) error
	// GetFire returns domain.ErrNotFound if there is no such fire.
	GetFire(ctx context.Context, id string) (domain.Fire, error)
	// ListFires lists fires newest first.
	ListFires(ctx context.Context, f FireFilter) (Page[domain.Fire], error)
	// LastFires returns, for every job with at least one fire record, the
	// newest nominal time among its scheduled fires (manual fires do not
	// count). The scheduler catches up from there after a takeover.
	LastFires(ctx context.Context) (map[string]time.Time, error)
}

// RunFilter selects runs for ListRuns. Empty fields match everything.
// From and To bound ScheduledAt (From inclusive, To exclusive).
type RunFilter struct {
	JobID    string
	Group    string
	WorkerID string
	States   []domain.RunState
	From, To time.Time
	PageRequest
}

// RunEvent is one change to a run.
type RunEvent struct {
	Type EventType
	// Run is the new value for EventPut and the last value for EventDelete.
	Run      domain.Run
	Revision int64
	Err      error
}

// Retention bounds the finished runs and fire records kept.
type Retention struct {
	// PerJob is how many finished runs (and fire records) to keep per job;
	// the newest fire record of a job, and its newest scheduled one, are
	// always kept (the scheduler catches up from it).
	PerJob int
	// MaxAge removes finished runs and fires whose nominal (scheduled)
	// time is older than this.
	MaxAge time.Duration
}

// RunStore keeps runs: the active ones (pending, assigned, running) and the
// finished history.
type RunStore interface {
	// GetRun returns domain.ErrNotFound if there is no such run.
	GetRun(ctx context.Context, id string) (domain.Run, error)
	// ListRuns lists runs newest first: by ID, which begins with the
	// nominal time of the run's fire (domain.RunID).
	ListRuns(ctx context.Context, f RunFilter) (Page[domain.Run], error)

	// UpdateRun changes a run through fn atomically, retrying fn on a
	// concurrent change like UpdateGroup. fn may not change the run's ID,
	// fire, job or group (domain.ErrInvalid). It is not fenced by leadership:
	// workers use it with the attempt checks of domain.Run (Start, Finish,
	// AppendOutput), and users to cancel. Returns domain.ErrNotFound or
	// fn's error (for example domain.ErrStaleAttempt).
	UpdateRun(ctx context.Context, id string, fn func(*domain.Run) error) (domain.Run, error)
	// LeaderUpdateRun is UpdateRun fenced by the leader's token: it returns
	// domain.ErrNotLeader, writing nothing, if fence is no longer current.
	LeaderUpdateRun(ctx context.Context, fence Fence, id string, fn func(*domain.Run) error) (domain.Run, error)

	// ScanActiveRuns calls fn for every pending, assigned or running run
	// from one snapshot and returns its revision, from which WatchRuns
	// continues.
	ScanActiveRuns(ctx context.Context, fn func(domain.Run) error) (revision int64, err error)
	// WatchRuns delivers every change to any run after revision.
	WatchRuns(ctx context.Context, afterRevision int64) <-chan RunEvent

	// ListAssigned returns the active runs assigned to a worker and the
	// revision from which WatchAssigned continues.
	ListAssigned(ctx context.Context, group, workerID string) ([]domain.Run, int64, error)
	// WatchAssigned delivers the changes to the runs assigned to a worker
	// after revision: EventPut when a run is assigned to it or changes
	// while assigned (for example is cancelled), EventDelete when a run
	// stops being its own (finished elsewhere, reassigned, deleted).
	WatchAssigned(ctx context.Context, group, workerID string, afterRevision int64) <-chan RunEvent

	// DeleteRun removes a finished run. Returns domain.ErrNotFound, or
	// domain.ErrConflict if the run is active.
	DeleteRun(ctx context.Context, id string) error
	// LeaderDeleteRuns removes runs whatever their state (pending runs of a
	// deleted job, for example), fenced. Missing IDs are ignored.
	LeaderDeleteRuns(ctx context.Context, fence Fence, ids []string) error
	// Prune removes finished runs and fire records beyond r, fenced, and
	// reports how many runs and fires it removed. It does at most a bounded
	// amount of work per call; call it periodically.
	Prune(ctx context.Context, fence Fence, r Retention, now time.Time) (runs, fires int, err error)
}

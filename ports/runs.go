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
	Run domain.Run
	// At is the stored version of Run for an EventPut of WatchAssigned:
	// pass both to UpdateRunAt to change the run without reading it first.
	// It is zero when the store does not know it (and for EventDelete).
	At       RunVersion
	Revision int64
	Err      error
}

// RunVersion names one stored version of a run, for RunStore.UpdateRunAt.
// It is opaque: only the store that made it interprets its fields (the etcd
// adapter: the run's key and that key's ModRevision; the memory adapter:
// the run's ID and Version), and callers only carry it from a RunEvent or
// an UpdateRunAt result to the next UpdateRunAt, together with the run it
// came with. The zero value names no version.
type RunVersion struct {
	Key      string
	Revision int64
}

// IsZero reports whether v names no version.
func (v RunVersion) IsZero() bool { return v == RunVersion{} }

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
	// UpdateRunAt is UpdateRun for a caller that holds the run as the store
	// gave it: known, stored at version at (both from a RunEvent of
	// WatchAssigned or from an earlier UpdateRunAt). If the run is still at
	// that version, fn runs on a copy of known and the change is written
	// with one compare-and-swap on the version and no read: one store
	// transaction. Otherwise (the run changed or moved since, at is zero or
	// not this store's, or fn refused known) it does what
	// UpdateRun(ctx, known.ID, fn) does: reads the run and runs fn on the
	// current value, retrying on a concurrent change. So fn may run more
	// than once and must make its own checks on the value it gets (the
	// attempt fence of domain.Run.Start, Finish and AppendOutput), never
	// trust known; the result is always the result of fn on the run as
	// stored when the write lands. Returns the new run and its version, and
	// UpdateRun's errors (domain.ErrNotFound if the run is gone, fn's error
	// such as domain.ErrStaleAttempt). known must be the value that came
	// with at, unchanged: a modified copy with a current version would be
	// written as if it were the stored run.
	UpdateRunAt(ctx context.Context, known domain.Run, at RunVersion, fn func(*domain.Run) error) (domain.Run, RunVersion, error)
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
	// while assigned (for example is cancelled: the event carries the
	// cancelled run), EventDelete when a run stops being its own otherwise
	// (finished, back to pending, reassigned, deleted). Each EventPut
	// carries the run's version (RunEvent.At) where the store knows it.
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

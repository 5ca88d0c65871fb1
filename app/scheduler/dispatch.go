package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// errChanged means a run changed since the term last saw it; the watch
// brings the new value, so the update is dropped.
var errChanged = errors.New("run changed meanwhile")

// updateRun applies fn to a run with a fenced write and records the result
// in the view. A run that changed or disappeared meanwhile is not an error;
// a refused fence or an unreachable store is.
func (t *term) updateRun(ctx context.Context, id string, fn func(*domain.Run) error) error {
	r, err := t.cfg.Runs.LeaderUpdateRun(ctx, t.fence, id, fn)
	switch {
	case err == nil:
		t.v.putRun(r)
		if r.State == domain.RunPending {
			t.dispatchDirty = true
		}
		return nil
	case errors.Is(err, errChanged), errors.Is(err, domain.ErrNotFound),
		errors.Is(err, domain.ErrIllegalTransition), errors.Is(err, domain.ErrStaleAttempt):
		t.log.Debug("run update dropped", "run", id, "err", err)
		return nil
	}
	return fmt.Errorf("update run %s: %w", id, err)
}

// same guards a leader update: the run must still be in the state and
// attempt the term decided on.
func same(seen domain.Run, cur *domain.Run) error {
	if cur.State != seen.State || cur.Attempt != seen.Attempt || cur.WorkerID != seen.WorkerID {
		return errChanged
	}
	return nil
}

// Bounds of one dispatch turn, so that the loop does not stall on
// thousands of pending runs: each dispatched run is a fenced store write
// (LeaderUpdateRun), and each run looked at is a routing decision. What is
// left is dispatched in the next turns, the loop serving its events and
// fires in between.
const (
	dispatchWritesPerTurn  = 32
	dispatchExaminePerTurn = 256
)

// dispatchPending routes the pending runs whose backoff has ended, earliest
// first, and skips first attempts that waited past their misfire window,
// at most dispatchWritesPerTurn writes and dispatchExaminePerTurn runs in
// one call. It reports whether due runs are left for another turn. Runs no
// worker can take now are parked until the pass is over (see
// pendingQueue); the next call after that starts a new pass.
func (t *term) dispatchPending(ctx context.Context, now time.Time) (more bool, err error) {
	q := t.v.pending
	if !q.hasDue(now) {
		q.unpark()
		t.parkWake = time.Time{}
	}
	writes := 0
	for examined := 0; examined < dispatchExaminePerTurn && writes < dispatchWritesPerTurn; examined++ {
		pe, ok := q.popDue(now)
		if !ok {
			break
		}
		p, ok := t.v.runs[pe.id]
		if !ok || p.State != domain.RunPending {
			continue // cannot happen: the view keeps the queue
		}
		seen := *p
		e := t.jobs[seen.JobID]
		if e != nil && seen.Attempt == 1 && !seen.Manual &&
			now.Sub(seen.ScheduledAt) > e.job.Misfire.Window.Std() {
			reason := fmt.Sprintf("%s: no eligible worker within the misfire window of %s", domain.SkipMisfire, e.job.Misfire.Window)
			if landed, err := t.landed(ctx, pe, p); err != nil {
				return false, err
			} else if !landed {
				return true, nil
			}
			writes++
			if err := t.updateRun(ctx, pe.id, func(cur *domain.Run) error {
				if err := same(seen, cur); err != nil {
					return err
				}
				return cur.Skip(reason, now)
			}); err != nil {
				return false, err
			}
			q.park(pe) // if the update was dropped; else a no-op
			continue
		}
		var counter *uint64
		if e != nil {
			counter = &e.rr
		} else {
			if t.orphanRR == nil {
				t.orphanRR = make(map[string]*uint64)
			}
			if counter = t.orphanRR[seen.JobID]; counter == nil {
				counter = new(uint64)
				t.orphanRR[seen.JobID] = counter
			}
		}
		w, ok := t.route(&seen, counter)
		if !ok {
			q.park(pe)
			if e != nil && seen.Attempt == 1 && !seen.Manual {
				// Wake when its misfire window ends, to skip it visibly.
				at := seen.ScheduledAt.Add(e.job.Misfire.Window.Std() + time.Nanosecond)
				if t.parkWake.IsZero() || at.Before(t.parkWake) {
					t.parkWake = at
				}
			}
			continue
		}
		if landed, err := t.landed(ctx, pe, p); err != nil {
			return false, err
		} else if !landed {
			return true, nil
		}
		writes++
		if err := t.updateRun(ctx, pe.id, func(cur *domain.Run) error {
			if err := same(seen, cur); err != nil {
				return err
			}
			return cur.Assign(w.ID, now)
		}); err != nil {
			return false, err
		}
		q.park(pe)
	}
	return q.hasDue(now), nil
}

// landed makes sure the pending run p (popped as pe) exists in the store
// before the term updates it: a run the term made itself (Version 0, not yet
// seen by the watch) may be in a batch in flight, so those are waited for.
// It reports false, with the run parked (if still pending), if the batches
// in flight changed the run (its fire existed already, so it is not the
// term's): the caller then ends its turn, and the next turns see the run as
// it is now.
func (t *term) landed(ctx context.Context, pe *pendEntry, p *domain.Run) (bool, error) {
	if p.Version != 0 || t.w.pending == 0 {
		return true, nil
	}
	if err := t.drain(ctx); err != nil {
		return false, err
	}
	if cur, ok := t.v.runs[pe.id]; !ok || cur != p {
		t.v.pending.park(pe)
		return false, nil
	}
	return true, nil
}

// sweepTimeouts ends attempts that outlived their timeout plus the grace
// period without a result (a hung or silent worker).
func (t *term) sweepTimeouts(ctx context.Context, now time.Time) error {
	var late []domain.Run
	for _, r := range t.v.runs {
		var since time.Time
		switch r.State {
		case domain.RunRunning:
			since = r.StartedAt
		case domain.RunAssigned:
			since = r.AssignedAt
		default:
			continue
		}
		if r.Timeout > 0 && now.Sub(since) > r.Timeout.Std()+t.cfg.TimeoutGrace {
			late = append(late, *r)
		}
	}
	if len(late) == 0 {
		return nil
	}
	if err := t.sync(ctx); err != nil { // the late runs' batches have landed
		return err
	}
	slices.SortFunc(late, func(a, b domain.Run) int { return compareStrings(a.ID, b.ID) })
	for _, seen := range late {
		t.log.Warn("run timed out without a result from its worker", "run", seen.ID, "worker", seen.WorkerID)
		if err := t.updateRun(ctx, seen.ID, func(cur *domain.Run) error {
			if err := same(seen, cur); err != nil {
				return err
			}
			return cur.TimeOut(now)
		}); err != nil {
			return err
		}
	}
	return nil
}

// loseRun fails over a run whose worker is gone.
func (t *term) loseRun(ctx context.Context, seen domain.Run, reason string) error {
	now := t.now()
	t.log.Warn("worker lost; failing its run over", "run", seen.ID, "worker", seen.WorkerID, "reason", reason)
	return t.updateRun(ctx, seen.ID, func(cur *domain.Run) error {
		if err := same(seen, cur); err != nil {
			return err
		}
		return cur.Lose("worker "+seen.WorkerID+" lost: "+reason, now)
	})
}

// cancelRun cancels an active run (overlap policy replace). Whatever the
// run did since the term last saw it (a worker started it, an attempt
// failed and waits for its retry), it is cancelled if it is still active:
// the term's view may lag the store by a batch in flight or a watch event,
// and a replaced run must not go on.
func (t *term) cancelRun(ctx context.Context, seen domain.Run, reason string) error {
	now := t.now()
	return t.updateRun(ctx, seen.ID, func(cur *domain.Run) error {
		return cur.Cancel(reason, now)
	})
}

// orphans returns the assigned or running runs whose worker is not live.
func (t *term) orphans() []domain.Run {
	var out []domain.Run
	for _, r := range t.v.runs {
		if (r.State == domain.RunAssigned || r.State == domain.RunRunning) && !t.live(r.WorkerID) {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b domain.Run) int { return compareStrings(a.ID, b.ID) })
	return out
}

func (t *term) live(workerID string) bool {
	_, ok := t.v.workers[workerID]
	return ok
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// onJob applies a job change: plan, re-plan, stop planning, or delete.
func (t *term) onJob(ctx context.Context, ev ports.JobEvent) error {
	if ev.Err != nil {
		return fmt.Errorf("jobs watch: %w", ev.Err)
	}
	id := ev.Job.ID
	if ev.Type == ports.EventDelete {
		// The job's pending runs in batches in flight must exist to be
		// deleted.
		if err := t.sync(ctx); err != nil {
			return err
		}
		t.plan.remove(id)
		delete(t.jobs, id)
		var pending []string
		for _, r := range t.v.activeOf(id) {
			if r.State == domain.RunPending {
				pending = append(pending, r.ID)
			}
		}
		if len(pending) > 0 {
			if err := t.cfg.Runs.LeaderDeleteRuns(ctx, t.fence, pending); err != nil {
				return fmt.Errorf("delete pending runs of job %s: %w", id, err)
			}
			for _, rid := range pending {
				t.v.dropRun(rid)
			}
		}
		t.log.Info("job deleted; stopped planning it", "job", id, "pending_runs_deleted", len(pending))
		return nil
	}
	e, changed := t.putJob(ev.Job, true)
	if e == nil || !changed {
		return nil
	}
	if e.job.State != domain.JobActive {
		t.plan.remove(id)
		return nil
	}
	if err := t.planJob(ctx, e, t.now(), false); err != nil {
		return err
	}
	return t.flush(ctx)
}

// onRun keeps the view current and reacts to finished runs.
func (t *term) onRun(ev ports.RunEvent) error {
	if ev.Err != nil {
		return fmt.Errorf("runs watch: %w", ev.Err)
	}
	if ev.Type == ports.EventDelete {
		t.v.dropRun(ev.Run.ID)
		t.dispatchDirty = true
		return nil
	}
	r := ev.Run
	t.v.putRun(r)
	switch {
	case r.State == domain.RunPending:
		t.dispatchDirty = true
	case r.State.Terminal():
		t.dispatchDirty = true // capacity freed
		switch r.State {
		case domain.RunFailed, domain.RunTimedOut, domain.RunLost:
			t.notify(context.Background(), ports.Alert{Kind: "run_" + string(r.State), JobID: r.JobID,
				RunID: r.ID, Group: r.Group, At: r.FinishedAt,
				Message: fmt.Sprintf("run %s %s after %d attempt(s): %s", r.ID, r.State, r.Attempt, r.Error)})
		}
	}
	return nil
}

// onWorker tracks workers; a worker that leaves has its runs failed over.
func (t *term) onWorker(ctx context.Context, ev ports.WorkerEvent) error {
	if ev.Err != nil {
		return fmt.Errorf("workers watch: %w", ev.Err)
	}
	if ev.Type == ports.EventPut {
		t.v.putWorker(ev.Worker)
		t.dispatchDirty = true
		return nil
	}
	if _, ok := t.v.dropWorker(ev.Worker.ID); !ok {
		return nil
	}
	// Its runs in batches in flight must exist to be failed over.
	if err := t.sync(ctx); err != nil {
		return err
	}
	for _, r := range t.v.runsOn(ev.Worker.ID) {
		if err := t.loseRun(ctx, r, "its registration ended"); err != nil {
			return err
		}
	}
	t.dispatchDirty = true
	return nil
}

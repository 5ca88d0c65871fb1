package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// onDue handles a planned nominal time that has come: fired on time, or, if
// the leader itself fell behind by more than the job's misfire window (a
// stall, CPU starvation), handed to the misfire policy like a takeover.
func (t *term) onDue(ctx context.Context, e *jobEntry, at, now time.Time) error {
	if now.Sub(at) > e.job.Misfire.Window.Std() {
		e.last = at.Add(-time.Nanosecond)
		return t.planJob(ctx, e, now, false)
	}
	if err := t.fireDue(ctx, e, at, now); err != nil {
		return err
	}
	if next, ok := e.sched.Next(at); ok {
		t.plan.set(e.job.ID, next)
	}
	return nil
}

// fireDue adds the fire of job e at nominal time at to the batch, applying
// the overlap policy and routing its runs.
func (t *term) fireDue(ctx context.Context, e *jobEntry, at, now time.Time) error {
	j := &e.job
	e.last = at
	f := domain.Fire{
		ID: domain.FireID(j.ID, at), JobID: j.ID, Group: j.Group, Nominal: at,
		Kind: domain.FireScheduled, CreatedAt: now, LeaderToken: t.fence.Token,
	}
	// The overlap policy looks at the job's active runs; allow needs
	// none of them (and a busy job may have many).
	if j.Overlap != domain.OverlapAllow && t.v.hasActive(j.ID) {
		active := t.v.activeOf(j.ID)
		switch j.Overlap {
		case domain.OverlapForbid:
			f.Status = domain.FireSkipped
			f.Reason = fmt.Sprintf("%s: run %s is still %s", domain.SkipOverlap, active[0].ID, active[0].State)
			return t.add(ctx, e, ports.FireWrite{Fire: f})
		case domain.OverlapReplace:
			// The cancellations must land before the new runs exist, and
			// the runs they cancel must exist: write every batch first.
			if err := t.sync(ctx); err != nil {
				return err
			}
			for _, r := range t.v.activeOf(j.ID) {
				if err := t.cancelRun(ctx, r, "replaced by fire "+f.ID+" (overlap policy replace)"); err != nil {
					return err
				}
			}
		}
	}
	runs := t.makeRuns(e, &f, now)
	if len(runs) == 0 {
		f.Status = domain.FireSkipped
		f.Reason = domain.SkipNoRuns + ": no live worker of group " + j.Group + " can run a broadcast of handler " + j.Handler
		return t.add(ctx, e, ports.FireWrite{Fire: f})
	}
	f.Status = domain.FireDispatched
	for _, r := range runs {
		f.RunIDs = append(f.RunIDs, r.ID)
		t.v.putRun(r) // seen by overlap and load checks before the flush
	}
	return t.add(ctx, e, ports.FireWrite{Fire: f, Runs: runs})
}

// addSkip adds a skipped-fire record to the batch.
func (t *term) addSkip(ctx context.Context, e *jobEntry, at time.Time, reason string, sum *domain.SkipSummary, now time.Time) error {
	e.last = at
	if sum != nil && sum.Last.After(at) {
		e.last = sum.Last
	}
	return t.add(ctx, e, ports.FireWrite{Fire: domain.Fire{
		ID: domain.FireID(e.job.ID, at), JobID: e.job.ID, Group: e.job.Group, Nominal: at,
		Kind: domain.FireScheduled, Status: domain.FireSkipped, Reason: reason, Summary: sum,
		CreatedAt: now, LeaderToken: t.fence.Token,
	}})
}

// makeRuns builds the runs of a fire: one per shard, routed now if a worker
// is eligible (else pending), or one per eligible worker for broadcast.
func (t *term) makeRuns(e *jobEntry, f *domain.Fire, now time.Time) []domain.Run {
	j := &e.job
	if j.Route == domain.RouteBroadcast {
		probe := domain.NewRun(j, f, 0, now)
		ws := domain.Eligible(&probe, t.v.capableOf(&probe), domain.RouteInput{Load: t.v.load})
		runs := make([]domain.Run, 0, len(ws))
		for i, w := range ws {
			r := domain.NewRun(j, f, i, now)
			r.PinnedWorker = w.ID
			_ = r.Assign(w.ID, now) // pending -> assigned cannot fail
			runs = append(runs, r)
		}
		return runs
	}
	runs := make([]domain.Run, 0, j.Shards)
	for i := 0; i < j.Shards; i++ {
		r := domain.NewRun(j, f, i, now)
		if w, ok := t.route(&r, &e.rr); ok {
			_ = r.Assign(w.ID, now)
			t.v.load[w.ID]++ // counted before the view sees the run
		}
		runs = append(runs, r)
	}
	// The view recounts load when the runs are put; undo the provisional
	// counts so they are not doubled.
	for _, r := range runs {
		if r.State == domain.RunAssigned {
			t.v.load[r.WorkerID]--
		}
	}
	return runs
}

// route picks a worker for a pending run by its strategy.
func (t *term) route(r *domain.Run, rr *uint64) (domain.Worker, bool) {
	in := domain.RouteInput{Load: t.v.load}
	if len(r.Attempts) > 0 {
		in.Avoid = r.PreviousWorkers()
	}
	t.eligible = domain.AppendEligible(t.eligible[:0], r, t.v.capableOf(r), in)
	eligible := t.eligible
	if len(eligible) == 0 {
		return domain.Worker{}, false
	}
	in.Counter = *rr
	*rr++
	in.Random = t.cfg.Random()
	return domain.Pick(r.Route, r.RouteKey, eligible, in)
}

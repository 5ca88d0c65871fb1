package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// jobEntry is the term's copy of one job.
type jobEntry struct {
	job   domain.Job
	sched *domain.Schedule
	// last is the newest nominal time recorded (fired or skipped).
	last time.Time
	// rr is the job's round-robin counter.
	rr uint64
	// flying counts the batches in flight holding fires of the job.
	flying int
}

// term is one term of leadership: its state lives and dies with it, so a
// new term always starts from the store's truth.
type term struct {
	s     *Scheduler
	cfg   *Config
	log   *slog.Logger
	fence ports.Fence

	jobs   map[string]*jobEntry
	scheds map[string]*domain.Schedule // parsed schedules by Job.ScheduleKey
	plan   *planner
	v      *view
	// batch is the next batch of fires, batchJobs the job of each, and
	// batchPending the runs in it written pending; w the batches in flight.
	batch        []ports.FireWrite
	batchJobs    []*jobEntry
	batchPending int
	w            writers

	dispatchDirty bool            // pending runs may have become dispatchable
	parkWake      time.Time       // a parked run's misfire window ends
	nextSweep     time.Time       // next timeout check
	eligible      []domain.Worker // route's buffer
	// orphanRR holds the round-robin counters of pending runs whose job is
	// gone.
	orphanRR map[string]*uint64
}

func newTerm(s *Scheduler, l ports.Leadership) *term {
	return &term{
		s: s, cfg: &s.cfg, fence: l.Fence(),
		log:  s.log.With("token", l.Fence().Token),
		jobs: make(map[string]*jobEntry), scheds: make(map[string]*domain.Schedule),
		plan: newPlanner(), v: newView(),
	}
}

func (t *term) now() time.Time { return t.cfg.Clock.Now() }

// run loads the state, catches up, then serves until ctx ends or a write is
// refused. The goroutines it starts (writers, pruner) end with it: it
// cancels and waits for them before it returns.
func (t *term) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	t.w = newWriters(&wg)
	start := t.now()
	jobsRev, err := t.cfg.Jobs.ScanJobs(ctx, func(j domain.Job) error {
		t.putJob(j, false)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load jobs: %w", err)
	}
	last, err := t.cfg.Fires.LastFires(ctx)
	if err != nil {
		return fmt.Errorf("load last fires: %w", err)
	}
	runsRev, err := t.cfg.Runs.ScanActiveRuns(ctx, func(r domain.Run) error {
		t.v.putRun(r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load runs: %w", err)
	}
	ws, workersRev, err := t.cfg.Workers.ListWorkers(ctx, "")
	if err != nil {
		return fmt.Errorf("load workers: %w", err)
	}
	for _, w := range ws {
		t.v.putWorker(w)
	}
	jobsCh := t.cfg.Jobs.WatchJobs(ctx, jobsRev)
	runsCh := t.cfg.Runs.WatchRuns(ctx, runsRev)
	workersCh := t.cfg.Workers.WatchWorkers(ctx, "", workersRev)

	// Catch up every active job from its last record.
	now := t.now()
	for id, e := range t.jobs {
		e.last = last[id]
		if e.job.State == domain.JobActive {
			if err := t.planJob(ctx, e, now, true); err != nil {
				return err
			}
		}
	}
	// Every catch-up fire is written before the leader reports ready and
	// fails over the orphans below.
	if err := t.sync(ctx); err != nil {
		return err
	}
	// Runs whose worker died while no leader was watching.
	for _, r := range t.orphans() {
		if err := t.loseRun(ctx, r, "worker not registered when the leader took over"); err != nil {
			return err
		}
	}
	t.dispatchDirty = true
	pruneErr := t.startPruner(ctx, &wg)
	t.log.Info("leader ready", "jobs", len(t.jobs), "planned", t.plan.len(),
		"active_runs", len(t.v.runs), "workers", len(t.v.workers), "took", t.now().Sub(start))

	timer := t.cfg.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if err := t.tick(ctx); err != nil {
			return err
		}
		t.s.setStatus(func(st *Status) { st.PlannedJobs = t.plan.len() })
		timer.Reset(t.sleepFor())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C():
		case f := <-t.w.done:
			if err := t.receive(f); err != nil {
				return err
			}
		case err := <-pruneErr:
			return err
		case ev, ok := <-jobsCh:
			if !ok {
				return ctx.Err()
			}
			if err := t.onJob(ctx, ev); err != nil {
				return err
			}
		case ev, ok := <-runsCh:
			if !ok {
				return ctx.Err()
			}
			if err := t.onRun(ev); err != nil {
				return err
			}
			if closed, err := t.moreRunEvents(runsCh); err != nil {
				return err
			} else if closed {
				return ctx.Err()
			}
		case ev, ok := <-workersCh:
			if !ok {
				return ctx.Err()
			}
			if err := t.onWorker(ctx, ev); err != nil {
				return err
			}
		}
	}
}

// Bounds of the loop's turns under load: a tick builds at most
// fireBatchesPerTick batches of due fires (the rest is due at the next
// tick, right after), and the loop takes at most runEventsPerTurn run
// events waiting on the watch before it ticks again. So when more fires
// are due than the leader can write, it still sees runs finish (freeing
// capacity) and dispatches pending runs in between.
const (
	fireBatchesPerTick = 16
	runEventsPerTurn   = 256
)

// moreRunEvents handles the run events already waiting, up to
// runEventsPerTurn, without blocking. It reports whether the watch ended.
func (t *term) moreRunEvents(runsCh <-chan ports.RunEvent) (closed bool, err error) {
	for range runEventsPerTurn - 1 {
		select {
		case ev, ok := <-runsCh:
			if !ok {
				return true, nil
			}
			if err := t.onRun(ev); err != nil {
				return false, err
			}
		default:
			return false, nil
		}
	}
	return false, nil
}

// tick does what is due: fires (a bounded number of batches), dispatch of
// pending runs (a bounded turn) and timeouts. It first takes the results
// of the batches written meanwhile.
func (t *term) tick(ctx context.Context) error {
	if err := t.poll(); err != nil {
		return err
	}
	now := t.now()
	for range fireBatchesPerTick {
		due := t.plan.due(now, t.cfg.BatchSize)
		if len(due) == 0 {
			break
		}
		for _, d := range due {
			e := t.jobs[d.jobID]
			if e == nil || e.job.State != domain.JobActive {
				continue
			}
			if err := t.onDue(ctx, e, d.at, now); err != nil {
				return err
			}
		}
		if err := t.flush(ctx); err != nil {
			return err
		}
	}
	if !t.parkWake.IsZero() && !now.Before(t.parkWake) {
		t.parkWake = time.Time{}
		t.dispatchDirty = true
	}
	if t.dispatchDirty || t.v.pending.hasDue(now) {
		t.dispatchDirty = false
		more, err := t.dispatchPending(ctx, now)
		if err != nil {
			return err
		}
		t.dispatchDirty = more // go on after serving what came meanwhile
	}
	if !now.Before(t.nextSweep) {
		if err := t.sweepTimeouts(ctx, now); err != nil {
			return err
		}
		t.nextSweep = now.Add(time.Second)
	}
	return nil
}

// sleepFor returns how long the loop may wait before the next due work.
func (t *term) sleepFor() time.Duration {
	if t.dispatchDirty {
		return 0
	}
	now := t.now()
	wake := now.Add(time.Hour) // events wake the loop; nothing else is due
	consider := func(at time.Time) {
		if !at.IsZero() && at.Before(wake) {
			wake = at
		}
	}
	if at, ok := t.plan.next(); ok {
		consider(at)
	}
	consider(t.v.earliestNotBefore(now))
	consider(t.parkWake)
	if len(t.v.runs) > 0 {
		consider(t.nextSweep)
	}
	d := wake.Sub(now)
	if d < 0 {
		d = 0
	}
	return d
}

// schedule returns the parsed schedule of j, from the cache.
func (t *term) schedule(j *domain.Job) (*domain.Schedule, error) {
	k := j.ScheduleKey()
	if s, ok := t.scheds[k]; ok {
		return s, nil
	}
	s, err := domain.ParseSchedule(j.Schedule, j.Timezone)
	if err != nil {
		return nil, err
	}
	t.scheds[k] = s
	return s, nil
}

// putJob records a job's new value. It reports whether its plan must be
// recomputed (schedule, zone, state or PlanFrom changed).
func (t *term) putJob(j domain.Job, replan bool) (*jobEntry, bool) {
	sched, err := t.schedule(&j)
	if err != nil {
		// Stores only hold validated jobs; a schedule this binary cannot
		// parse (written by a newer version?) is logged and ignored.
		t.log.Error("job has an invalid schedule; not planning it", "job", j.ID, "err", err)
		t.plan.remove(j.ID)
		delete(t.jobs, j.ID)
		return nil, false
	}
	old, ok := t.jobs[j.ID]
	if !ok {
		e := &jobEntry{job: j, sched: sched}
		t.jobs[j.ID] = e
		return e, true
	}
	changed := old.job.ScheduleKey() != j.ScheduleKey() || old.job.State != j.State ||
		!old.job.PlanFrom.Equal(j.PlanFrom)
	old.job, old.sched = j, sched
	return old, changed
}

// planJob catches a job up from its last record (or PlanFrom) to now and
// plans its next fire.
func (t *term) planJob(ctx context.Context, e *jobEntry, now time.Time, takeover bool) error {
	since := e.last
	if from := e.job.PlanFrom.Add(-time.Nanosecond); from.After(since) {
		since = from
	}
	if since.Before(now) {
		cu := domain.PlanCatchUp(e.sched, since, now, e.job.Misfire)
		if n := len(cu.Skip) + summaryCount(cu.Summary); n > 0 {
			t.log.Warn("missed fires recorded as skipped", "job", e.job.ID, "count", n,
				"policy", e.job.Misfire.Policy, "window", e.job.Misfire.Window, "takeover", takeover)
			t.notify(ctx, ports.Alert{Kind: "fires_skipped", JobID: e.job.ID, Group: e.job.Group, At: now,
				Message: fmt.Sprintf("%d fire(s) missed and skipped (misfire policy %s, window %s)", n, e.job.Misfire.Policy, e.job.Misfire.Window)})
		}
		for _, at := range cu.Skip {
			if err := t.addSkip(ctx, e, at, domain.SkipMisfire+": missed while no leader could fire it", nil, now); err != nil {
				return err
			}
		}
		if cu.Summary != nil {
			if err := t.addSkip(ctx, e, cu.Summary.First, domain.SkipMisfire+": missed while no leader could fire it", cu.Summary, now); err != nil {
				return err
			}
		}
		for _, at := range cu.Fire {
			if err := t.fireDue(ctx, e, at, now); err != nil {
				return err
			}
			if len(t.batch) >= t.cfg.BatchSize {
				if err := t.flush(ctx); err != nil {
					return err
				}
			}
		}
		if len(t.batch) >= t.cfg.BatchSize {
			if err := t.flush(ctx); err != nil {
				return err
			}
		}
		since = now
	}
	if at, ok := e.sched.Next(since); ok {
		t.plan.set(e.job.ID, at)
	} else {
		t.plan.remove(e.job.ID)
	}
	return nil
}

func summaryCount(s *domain.SkipSummary) int {
	if s == nil {
		return 0
	}
	return s.Count
}

// notify sends an alert; failures are logged, never fatal.
func (t *term) notify(ctx context.Context, a ports.Alert) {
	if t.cfg.Notifier == nil {
		return
	}
	if err := t.cfg.Notifier.Notify(ctx, a); err != nil && !errors.Is(err, context.Canceled) {
		t.log.Warn("alert not delivered", "kind", a.Kind, "err", err)
	}
}

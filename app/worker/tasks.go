package worker

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// runKey names one attempt of a run: what the worker executes at most once.
type runKey struct {
	id      string
	attempt int
}

func keyOf(r *domain.Run) runKey { return runKey{r.ID, r.Attempt} }

// taskState is where an attempt the worker took stands.
type taskState int

const (
	// taskQueued waits for capacity.
	taskQueued taskState = iota + 1
	// taskRunning has a supervisor goroutine (starting, executing or
	// reporting it).
	taskRunning
	// taskDone ended here. It is remembered until the store says the
	// attempt left the worker, so a late event cannot start it again.
	taskDone
)

// task is an attempt the worker took. The loop goroutine owns it.
type task struct {
	run domain.Run
	// at is run's stored version, from the watch event that brought it
	// (zero for a run from a listing): the supervisor's first write
	// compares it instead of reading the run.
	at    ports.RunVersion
	state taskState
	// gone: the store said the attempt is no longer this worker's.
	gone   bool
	cancel context.CancelCauseFunc // while running
	exec   *execState              // while running
}

// execState is shared by the loop and the supervisor of one task.
type execState struct {
	// ending is set once the handler returned (or was abandoned):
	// cancelling its context is moot from then on.
	ending atomic.Bool
}

// onEvent applies one change to the runs assigned to the worker.
func (l *loop) onEvent(ev ports.RunEvent) {
	r := ev.Run
	k := keyOf(&r)
	if ev.Type == ports.EventDelete {
		l.drop(k, ErrRunTakenAway)
		return
	}
	l.supersede(r.ID, r.Attempt)
	switch {
	case r.State == domain.RunCancelled:
		l.drop(k, ErrRunCancelled)
	case r.WorkerID != l.cfg.ID || r.Group != l.cfg.Group || !r.Active():
		l.drop(k, ErrRunTakenAway) // not expected from WatchAssigned
	case r.State == domain.RunAssigned:
		l.offer(r, ev.At)
	}
	// RunRunning: the echo of the worker's own Start.
}

// reconcile applies a full listing of the runs assigned to the worker.
func (l *loop) reconcile(runs []domain.Run) {
	listed := make(map[runKey]bool, len(runs))
	for i := range runs {
		listed[keyOf(&runs[i])] = true
	}
	for k := range l.tasks {
		if !listed[k] {
			l.drop(k, ErrRunTakenAway) // its Delete fell in a gap of the watch
		}
	}
	for _, r := range runs {
		l.supersede(r.ID, r.Attempt)
		switch r.State {
		case domain.RunAssigned:
			l.offer(r, ports.RunVersion{})
		case domain.RunRunning:
			if t, ok := l.tasks[keyOf(&r)]; !ok || t.state == taskDone {
				l.orphan(r)
			}
		}
	}
}

// supersede drops the earlier attempts of a run: a later one exists.
func (l *loop) supersede(id string, attempt int) {
	for a := attempt - 1; a >= 1 && a >= attempt-domain.MaxMaxAttempts; a-- {
		l.drop(runKey{id, a}, ErrRunTakenAway)
	}
}

// drop forgets an attempt that is no longer the worker's, cancelling its
// handler with cause if it runs.
func (l *loop) drop(k runKey, cause error) {
	t, ok := l.tasks[k]
	if !ok {
		return
	}
	if t.state != taskRunning {
		delete(l.tasks, k) // a queued key left in l.queue is skipped
		return
	}
	if !t.gone && !t.exec.ending.Load() {
		l.log.Info("run is no longer this worker's; cancelling its handler",
			"run", k.id, "attempt", k.attempt, "cause", cause)
	}
	t.gone = true
	t.cancel(cause)
}

// offer takes an assigned run, stored at version at (zero if unknown): it
// starts it, or queues it at capacity.
func (l *loop) offer(r domain.Run, at ports.RunVersion) {
	k := keyOf(&r)
	if _, known := l.tasks[k]; known {
		return // never execute one attempt twice
	}
	if l.stopping || l.lease == nil {
		l.log.Debug("run left to the leader: the worker is stopping", "run", r.ID, "attempt", r.Attempt)
		return
	}
	l.tasks[k] = &task{run: r, at: at, state: taskQueued}
	l.queue = append(l.queue, k)
	if l.running >= l.cfg.Capacity {
		l.log.Info("run queued: the worker is at capacity", "run", r.ID, "attempt", r.Attempt,
			"capacity", l.cfg.Capacity, "queued", len(l.queue))
	}
	l.fill()
}

// fill starts queued runs while there is capacity.
func (l *loop) fill() {
	for l.running < l.cfg.Capacity && len(l.queue) > 0 && !l.stopping && l.lease != nil {
		k := l.queue[0]
		l.queue = l.queue[1:]
		if t, ok := l.tasks[k]; ok && t.state == taskQueued {
			l.start(k, t)
		}
	}
	if len(l.queue) == 0 {
		l.queue = nil // let the backing array go
	}
}

// start launches the supervisor of a task.
func (l *loop) start(k runKey, t *task) {
	ctx, cancel := context.WithCancelCause(l.bg)
	t.state, t.cancel, t.exec = taskRunning, cancel, &execState{}
	l.running++
	l.sup.Add(1)
	go l.supervise(ctx, cancel, stored{t.run, t.at}, t.exec)
}

// done is called by a supervisor as it ends.
func (l *loop) done(k runKey) {
	l.mu.Lock()
	l.finished = append(l.finished, k)
	l.mu.Unlock()
	l.poke()
}

// collect takes in the supervisors that ended and fills their places.
func (l *loop) collect() {
	l.mu.Lock()
	keys := l.finished
	l.finished = nil
	l.mu.Unlock()
	for _, k := range keys {
		l.running--
		t, ok := l.tasks[k]
		if !ok {
			continue
		}
		if t.gone {
			delete(l.tasks, k)
			continue
		}
		t.state, t.cancel, t.exec = taskDone, nil, nil
	}
	l.fill()
}

// orphan fails a run the store says runs here but that no supervisor of
// this worker executes (its handler was interrupted by a lost lease, or a
// previous process with the same ID died): nobody would ever report it.
// The write is fenced by the attempt, so it is harmless if the leader
// failed the run over meanwhile.
func (l *loop) orphan(r domain.Run) {
	k := keyOf(&r)
	msg := fmt.Sprintf("worker %s is not executing this attempt any more (its handler was interrupted)", l.cfg.ID)
	rep := domain.Report{RunID: r.ID, WorkerID: l.cfg.ID, Attempt: r.Attempt, State: domain.RunFailed, Error: msg}
	ctx, cancel := context.WithTimeout(l.bg, callTimeout)
	_, err := l.cfg.Runs.UpdateRun(ctx, r.ID, func(x *domain.Run) error {
		return x.Finish(rep, l.cfg.MaxOutput, l.clock.Now())
	})
	cancel()
	log := l.log.With("run", r.ID, "attempt", r.Attempt)
	switch {
	case err == nil:
		log.Warn("run was marked running on this worker but not executed here; reported it failed")
	case rejected(err):
		log.Info("orphaned run already moved on", "err", err)
	default:
		log.Warn("reporting an orphaned run failed; trying again at the next listing", "err", err)
	}
	l.tasks[k] = &task{run: r, state: taskDone}
}

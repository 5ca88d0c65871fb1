package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/internal/timing"
	"github.com/pink-scheduler/pink/ports"
)

// loop is one call of Worker.Run. The goroutine of Run owns its fields,
// except those under "shared".
type loop struct {
	cfg       *Config
	log       *slog.Logger
	clock     ports.Clock
	handlers  map[string]HandlerFunc
	names     []string
	startedAt time.Time

	// bg carries the values of Run's context without its cancellation:
	// handlers, watches and reports outlive it. stopBG ends it when Run
	// returns.
	bg     context.Context
	stopBG context.CancelFunc
	// reportCtx bounds the store writes of supervisors; cancelled when
	// the worker gives up on them, a grace period after the drain timeout.
	reportCtx   context.Context
	stopReports context.CancelFunc
	// abandon is closed a grace period after the drain timeout:
	// supervisors then report their runs without waiting for their
	// handlers any longer.
	abandon chan struct{}

	lease       ports.Lease
	watchCh     <-chan ports.RunEvent
	watchCancel context.CancelFunc
	watchFails  int // consecutive watch failures without an event between

	regBackoff, listBackoff timing.Backoff
	regAlarm, listAlarm     timing.Alarm
	// The shutdown's steps: drain timeout (cancel the handlers), abandon
	// (stop waiting for them), give up (stop writing results).
	drainAlarm, abandonAlarm, giveUpAlarm timing.Alarm

	gaveUp bool // reportCtx is cancelled

	tasks    map[runKey]*task
	queue    []runKey // queued tasks, oldest first (may hold stale keys)
	running  int      // tasks with a live supervisor
	stopping bool
	err      error // what Run returns

	// shared with supervisors and handler goroutines
	sup          sync.WaitGroup // supervisors
	handlersLive atomic.Int64   // handler goroutines that have not returned
	mu           sync.Mutex
	finished     []runKey      // supervisors that ended, for the loop
	wake         chan struct{} // capacity 1: news for the loop
}

func newLoop(w *Worker, ctx context.Context, handlers map[string]HandlerFunc) *loop {
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	reportCtx, stopReports := context.WithCancel(bg)
	return &loop{
		cfg: &w.cfg, log: w.log, clock: w.cfg.Clock,
		handlers: handlers, names: slices.Sorted(maps.Keys(handlers)),
		startedAt: w.cfg.Clock.Now(),
		bg:        bg, stopBG: stopBG, reportCtx: reportCtx, stopReports: stopReports,
		abandon: make(chan struct{}),
		tasks:   make(map[runKey]*task),
		wake:    make(chan struct{}, 1),
	}
}

// record is the worker's registration.
func (l *loop) record() domain.Worker {
	return domain.Worker{
		ID: l.cfg.ID, Group: l.cfg.Group, Hostname: l.cfg.Hostname,
		Labels: maps.Clone(l.cfg.Labels), Handlers: slices.Clone(l.names),
		Capacity: l.cfg.Capacity, StartedAt: l.startedAt, Protocol: protocolSDK,
	}
}

// run is the worker's event loop: registration, the assigned-runs watch,
// supervisors that end, and the shutdown timers.
func (l *loop) run(ctx context.Context) error {
	defer l.stopBG()
	ctxDone := ctx.Done()
	l.register(ctx)
	for !l.stopping || l.running > 0 {
		select {
		case <-ctxDone:
			ctxDone = nil
			l.beginDrain()
		case <-l.leaseDone():
			l.leaseLost(ctx)
		case <-l.regAlarm.C():
			l.regAlarm.Fired()
			l.register(ctx)
		case <-l.listAlarm.C():
			l.listAlarm.Fired()
			l.relist()
		case ev, ok := <-l.watchCh:
			l.onWatch(ev, ok)
		case <-l.wake:
			l.collect()
		case <-l.drainAlarm.C():
			l.drainAlarm.Fired()
			l.drainTimeout()
		case <-l.abandonAlarm.C():
			l.abandonAlarm.Fired()
			l.log.Error("handlers did not return after their cancellation; reporting their runs without them",
				"running", l.running, "grace", shutdownGrace)
			close(l.abandon)
			l.giveUpAlarm.Set(l.clock, shutdownGrace)
		case <-l.giveUpAlarm.C():
			l.giveUp()
		}
	}
	return l.shutdown()
}

func (l *loop) leaseDone() <-chan struct{} {
	if l.lease == nil {
		return nil
	}
	return l.lease.Done()
}

// poke tells the loop to look at the shared state.
func (l *loop) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// register registers the worker, or arms a retry.
func (l *loop) register(ctx context.Context) {
	if l.stopping || l.lease != nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	lease, err := l.cfg.Registry.RegisterWorker(cctx, l.record(), l.cfg.LeaseTTL)
	cancel()
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return // stopping: the loop sees ctx done next
	case errors.Is(err, domain.ErrInvalid):
		l.err = fmt.Errorf("worker %s: registration refused: %w", l.cfg.ID, err)
		l.log.Error("worker registration refused; stopping", "err", err)
		l.beginDrain()
		return
	default:
		// domain.ErrAlreadyExists after a lost lease means the store has
		// not expired the old registration yet: wait and try again.
		d := l.regBackoff.Next()
		l.log.Warn("worker registration failed; retrying", "err", err, "in", d)
		l.regAlarm.Set(l.clock, d)
		return
	}
	l.regBackoff.Reset()
	l.lease = lease
	l.log.Info("worker registered", "group", l.cfg.Group, "id", l.cfg.ID, "handlers", l.names,
		"capacity", l.cfg.Capacity, "hostname", l.cfg.Hostname, "lease_ttl", l.cfg.LeaseTTL)
	l.relist()
}

// leaseLost handles the end of the lease while the worker did not close
// it: cancel the running handlers and register again.
func (l *loop) leaseLost(ctx context.Context) {
	err := l.lease.Err()
	l.lease = nil
	l.closeWatch()
	l.listAlarm.Stop()
	cancelled := 0
	for k, t := range l.tasks {
		switch t.state {
		case taskRunning:
			if !t.exec.ending.Load() {
				cancelled++
			}
			t.cancel(ErrLeaseLost)
		case taskQueued:
			delete(l.tasks, k)
		}
	}
	l.queue = nil
	next := "registering again"
	if l.stopping {
		next = "stopping"
	}
	l.log.Error("WORKER LEASE LOST: its registration ended behind its back; cancelled its running handlers, whose runs the leader fails over; "+next,
		"group", l.cfg.Group, "id", l.cfg.ID, "err", err, "cancelled", cancelled)
	l.register(ctx)
}

// relist reads the runs assigned to the worker and watches from there.
func (l *loop) relist() {
	l.closeWatch()
	if l.lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(l.bg, callTimeout)
	runs, rev, err := l.cfg.Runs.ListAssigned(ctx, l.cfg.Group, l.cfg.ID)
	cancel()
	if err != nil {
		d := l.listBackoff.Next()
		l.log.Warn("listing the assigned runs failed; retrying", "err", err, "in", d)
		l.listAlarm.Set(l.clock, d)
		return
	}
	l.reconcile(runs)
	wctx, wcancel := context.WithCancel(l.bg)
	l.watchCh, l.watchCancel = l.cfg.Runs.WatchAssigned(wctx, l.cfg.Group, l.cfg.ID, rev), wcancel
}

// closeWatch ends the current watch, if any.
func (l *loop) closeWatch() {
	if l.watchCancel != nil {
		l.watchCancel()
	}
	l.watchCh, l.watchCancel = nil, nil
}

// endWatch ends the current watch and waits, briefly, for the store to
// close its channel, so no watch outlives Run.
func (l *loop) endWatch() {
	ch := l.watchCh
	l.closeWatch()
	if ch == nil {
		return
	}
	var a timing.Alarm
	a.Set(l.clock, callTimeout)
	defer a.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-a.C():
			l.log.Warn("the assigned-runs watch did not close after its cancellation")
			return
		}
	}
}

// onWatch handles one value of the watch channel.
func (l *loop) onWatch(ev ports.RunEvent, ok bool) {
	if ok && ev.Err == nil {
		l.watchFails = 0
		l.listBackoff.Reset()
		l.onEvent(ev)
		return
	}
	err := ev.Err
	if !ok {
		err = errors.New("watch channel closed")
	}
	l.closeWatch()
	l.watchFails++
	if l.watchFails == 1 {
		level := slog.LevelWarn
		if errors.Is(err, domain.ErrCompacted) {
			level = slog.LevelInfo
		}
		l.log.Log(l.bg, level, "assigned-runs watch ended; listing again", "err", err)
		l.relist()
		return
	}
	d := l.listBackoff.Next()
	l.log.Warn("assigned-runs watch failed again; listing again after a pause", "err", err, "in", d)
	l.listAlarm.Set(l.clock, d)
}

// beginDrain stops taking runs; the loop ends when none runs.
func (l *loop) beginDrain() {
	if l.stopping {
		return
	}
	l.stopping = true
	l.regAlarm.Stop()
	for k, t := range l.tasks {
		if t.state == taskQueued {
			delete(l.tasks, k)
		}
	}
	l.queue = nil
	l.log.Info("worker stopping: taking no new runs", "running", l.running, "drain_timeout", l.cfg.DrainTimeout)
	if l.running > 0 {
		l.drainAlarm.Set(l.clock, l.cfg.DrainTimeout)
	}
}

// drainTimeout cancels the handlers still running at the drain timeout;
// their runs are reported failed.
func (l *loop) drainTimeout() {
	l.log.Warn("drain timeout passed: cancelling the running handlers", "running", l.running,
		"drain_timeout", l.cfg.DrainTimeout)
	for _, t := range l.tasks {
		if t.state == taskRunning {
			t.cancel(ErrShuttingDown)
		}
	}
	l.abandonAlarm.Set(l.clock, shutdownGrace)
}

// giveUp stops the writes of results that could not be made within the
// grace period after the abandon step.
func (l *loop) giveUp() {
	l.giveUpAlarm.Fired()
	l.gaveUp = true
	l.log.Error("giving up on what is left of the runs and handlers", "running", l.running,
		"handlers", l.handlersLive.Load())
	l.stopReports()
}

// shutdown deregisters the worker and waits for its goroutines.
func (l *loop) shutdown() error {
	l.drainAlarm.Stop()
	l.abandonAlarm.Stop()
	l.regAlarm.Stop()
	l.listAlarm.Stop()
	l.endWatch()
	if l.lease != nil {
		ctx, cancel := context.WithTimeout(l.bg, callTimeout)
		if err := l.lease.Close(ctx); err != nil {
			l.log.Warn("closing the worker's lease failed; the registration ends with its TTL", "err", err)
		} else {
			l.log.Info("worker deregistered", "group", l.cfg.Group, "id", l.cfg.ID)
		}
		cancel()
		l.lease = nil
	}
	l.sup.Wait() // every supervisor has ended (running is 0); let them return
	// A handler whose outcome its supervisor received is returning now;
	// one that was abandoned gets until the give-up step.
wait:
	for l.handlersLive.Load() > 0 && !l.gaveUp {
		select {
		case <-l.wake:
		case <-l.giveUpAlarm.C():
			l.giveUp()
			break wait
		}
	}
	l.giveUpAlarm.Stop()
	l.stopReports()
	if n := l.handlersLive.Load(); n > 0 {
		err := fmt.Errorf("worker %s: %d handler(s) still running after shutdown: they ignore the cancellation of their context", l.cfg.ID, n)
		l.log.Error("worker stopped with handlers still running", "handlers", n)
		return errors.Join(l.err, err)
	}
	l.log.Info("worker stopped")
	return l.err
}

// rejected reports whether a worker write failed because the attempt is
// no longer the worker's: final, never retried.
func rejected(err error) bool {
	return errors.Is(err, domain.ErrStaleAttempt) || errors.Is(err, domain.ErrIllegalTransition) ||
		errors.Is(err, domain.ErrNotFound)
}

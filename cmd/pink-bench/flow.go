package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
)

// flowResult is what a dispatch or e2e phase measured in its window.
type flowResult struct {
	name     string
	jobs     int
	offered  float64 // fires per second the schedules ask for
	loadKeys int64
	loadTook time.Duration
	ready    time.Duration // scheduler start -> leader ready

	fired     float64 // dispatched fire records per second
	skipped   int64   // skipped fire records in the whole phase
	pending   int64   // runs created pending in the whole phase
	assign    dist    // nominal -> fire and assigned run committed
	assignEnd dist    // the same, for the window's last second only
	cpu       float64 // cores used by the process in the window

	// e2e only
	execute   bool
	completed float64 // succeeded results recorded per second
	failed    int64
	started   dist // nominal -> handler start (measured in the handler)
	result    dist // nominal -> result recorded
}

// firesPerSecond returns how often schedule fires, from its next minute.
func firesPerSecond(schedule string) float64 {
	s, err := domain.ParseSchedule(schedule, "")
	if err != nil {
		return 0
	}
	now := time.Now()
	n := 0
	for t, ok := s.Next(now); ok && t.Before(now.Add(time.Minute)); t, ok = s.Next(t) {
		n++
	}
	return float64(n) / 60
}

// runFlow loads jobs jobs on the -schedule and measures the scheduler
// dispatching them: to registered workers that never execute (execute
// false: the leader's pipeline alone) or to in-process workers with a
// no-op handler (execute true: end to end).
func runFlow(ctx context.Context, e *env, name string, jobs int, execute bool) (flowResult, error) {
	o := e.opts
	prefix := "/bench-" + name
	defer e.cleanup(prefix)
	res := flowResult{name: name, jobs: jobs, execute: execute,
		offered: float64(jobs) * firesPerSecond(o.schedule)}
	st := e.store(prefix)

	t0 := time.Now()
	var err error
	res.loadKeys, err = bulkLoad(ctx, e.cli, st, loadSpec{prefix: prefix, group: "bench", jobs: jobs,
		schedule: o.schedule, shards: o.shards, planFrom: t0}, o.putsPerTxn, o.loaders)
	if err != nil {
		return res, err
	}
	res.loadTook = time.Since(t0)
	e.progress("%s: loaded %d jobs (%d keys) in %s", name, jobs, res.loadKeys, res.loadTook.Round(time.Millisecond))

	p := &probes{}
	var handlerStart recorder
	stopWorkers, err := startWorkers(ctx, e, st, prefix, res, p, &handlerStart)
	if err != nil {
		return res, err
	}
	defer stopWorkers()

	s, err := e.newScheduler(e.cli, prefix, "node-1", 0, p)
	if err != nil {
		return res, err
	}
	r := startScheduler(ctx, s, "node-1")
	defer r.stop()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	ready, ok := e.logs.wait(wctx, "node-1", "leader ready", r.started)
	cancel()
	if !ok {
		return res, fmt.Errorf("%s: no leader ready: %w", name, context.Cause(wctx))
	}
	res.ready = ready.at.Sub(r.started)
	e.progress("%s: leader ready after %s; warming up %s, then measuring %s", name, ms(res.ready), o.warmup, o.duration)

	if !sleep(ctx, o.warmup) {
		return res, ctx.Err()
	}
	stopProfile := e.profile(name)
	from, cpu0 := time.Now(), cpuTime()
	ok = sleep(ctx, o.duration)
	to, cpu1 := time.Now(), cpuTime()
	stopProfile()
	if !ok {
		return res, ctx.Err()
	}
	secs := to.Sub(from).Seconds()
	res.cpu = (cpu1 - cpu0).Seconds() / secs
	res.fired = float64(len(p.fired.window(from, to))) / secs
	res.assign = distOf(p.assigned.window(from, to))
	res.assignEnd = distOf(p.assigned.window(to.Add(-time.Second), to))
	res.skipped, res.pending = p.skipped.Load(), p.pending.Load()
	if execute {
		done := p.finished.window(from, to)
		res.completed = float64(len(done)) / secs
		res.result = distOf(done)
		res.started = distOf(handlerStart.window(from, to))
		res.failed = p.failed.Load()
	}
	e.progress("%s: %.0f fires/s dispatched (offered %.0f/s), %.0f runs/s completed", name, res.fired, res.offered, res.completed)
	return res, nil
}

// startWorkers starts o.workers in-process workers whose no-op handler
// records its lag (execute), or registers sinks: workers that never take
// their runs, whose assignments the harness deletes every 100 ms so that
// their capacity frees up as if the runs had finished (not execute: the
// leader's pipeline alone); o.workers of them, or more if that many cannot
// hold 5 seconds of runs. It waits until the workers are
// registered and returns a function that stops them.
func startWorkers(ctx context.Context, e *env, st *etcd.Store, prefix string, res flowResult, p *probes, started *recorder) (func(), error) {
	var stop func()
	var err error
	n := e.opts.workers
	if res.execute {
		stop, err = runWorkers(ctx, e, st, p, started)
	} else {
		// Enough sinks to hold 5 seconds of runs: the leader's catch-up
		// at its start and the runs between two drains.
		n = max(n, int(math.Ceil(res.offered*float64(e.opts.shards)*5/domain.MaxCapacity)))
		stop, err = runSinks(ctx, e, st, prefix, n)
	}
	if err != nil {
		return nil, err
	}
	for {
		ws, _, err := st.ListWorkers(ctx, "bench")
		if err != nil {
			stop()
			return nil, err
		}
		if len(ws) >= n {
			return stop, nil
		}
		if !sleep(ctx, 10*time.Millisecond) {
			stop()
			return nil, ctx.Err()
		}
	}
}

// runWorkers starts the in-process workers.
func runWorkers(ctx context.Context, e *env, st *etcd.Store, p *probes, started *recorder) (func(), error) {
	o := e.opts
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{}, o.workers)
	for i := range o.workers {
		w, err := worker.New(worker.Config{
			Group: "bench", ID: fmt.Sprintf("worker-%d", i), Hostname: "pink-bench",
			Capacity: o.capacity, DrainTimeout: 5 * time.Second, Registry: st, Runs: runProbe{RunStore: st, p: p},
			Logger: e.logs.logger(slog.LevelWarn, "worker", i),
		})
		if err != nil {
			cancel()
			for range i {
				<-done
			}
			return nil, err
		}
		w.Handle("noop", func(_ context.Context, run worker.Run) (worker.Result, error) {
			now := time.Now()
			started.add(now, now.Sub(run.ScheduledAt))
			return worker.Result{}, nil
		})
		go func() {
			defer func() { done <- struct{}{} }()
			if err := w.Run(wctx); err != nil {
				e.progress("worker %d: %v", i, err)
			}
		}()
	}
	return func() {
		cancel()
		for range o.workers {
			<-done
		}
	}, nil
}

// runSinks registers the sink workers and starts the drain.
func runSinks(ctx context.Context, e *env, st *etcd.Store, prefix string, n int) (func(), error) {
	var ls leases
	for i := range n {
		l, err := st.RegisterWorker(ctx, domain.Worker{
			ID: fmt.Sprintf("sink-%d", i), Group: "bench", Hostname: "pink-bench",
			Handlers: []string{"noop"}, Capacity: domain.MaxCapacity, StartedAt: time.Now(),
		}, 10*time.Second)
		if err != nil {
			ls.closeAll()
			return nil, err
		}
		ls.add(l)
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for sleep(dctx, 100*time.Millisecond) {
			_, _ = e.cli.Delete(dctx, prefix+"/execute/snapshots/bench/", clientv3.WithPrefix())
		}
	}()
	return func() {
		cancel()
		<-drained
		ls.closeAll()
	}, nil
}

// sleep waits d; it reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

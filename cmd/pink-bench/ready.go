package main

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// readyResult is what the ready (and idle) phase measured.
type readyResult struct {
	jobs     int
	fires    bool
	loadKeys int64
	loadTook time.Duration
	// rawScan: reading every job key once, 1000 a request, without
	// decoding (the floor of a leader's load).
	rawScan time.Duration
	// ready: scheduler start -> "leader ready"; load: the term's own
	// "took" (reading jobs, last fires, runs, workers; planning).
	ready, load time.Duration

	heapBefore, heapAfter uint64
	rssBefore, rssAfter   int64

	// idle CPU, in cores: with the scheduler leading, and without it
	// (etcd and the harness alone).
	idle               bool
	idleWith, idleWout float64
	idleWindow         time.Duration
}

func (r readyResult) heapPerJob() float64 {
	return (float64(r.heapAfter) - float64(r.heapBefore)) / float64(r.jobs)
}

func (r readyResult) rssPerJob() float64 {
	return float64(r.rssAfter-r.rssBefore) / float64(r.jobs)
}

// runReady bulk-loads -ready-jobs jobs on -idle-schedule (none due), with
// one past fire each, and times a scheduler becoming a ready leader. The
// heap is measured after GC with the jobs in etcd and no scheduler, then
// with the leader ready: the difference is the scheduler's. With idle it
// then measures the process's CPU for -idle with the leader up and nothing
// due, and again for -idle with the scheduler stopped.
func runReady(ctx context.Context, e *env, idle bool) (readyResult, error) {
	o := e.opts
	const prefix = "/bench-ready"
	defer e.cleanup(prefix)
	res := readyResult{jobs: o.readyJobs, fires: o.readyFires, idle: idle, idleWindow: o.idle}
	st := e.store(prefix)

	t0 := time.Now()
	var err error
	res.loadKeys, err = bulkLoad(ctx, e.cli, st, loadSpec{prefix: prefix, group: "bench", jobs: o.readyJobs,
		schedule: o.idleSchedule, shards: 1, planFrom: t0, withFire: o.readyFires}, o.putsPerTxn, o.loaders)
	if err != nil {
		return res, err
	}
	res.loadTook = time.Since(t0)
	e.progress("ready: loaded %d jobs (%d keys) in %s", o.readyJobs, res.loadKeys, res.loadTook.Round(time.Millisecond))

	t0 = time.Now()
	n, err := rawScan(ctx, e.cli, prefix+"/job/instances/")
	if err != nil {
		return res, err
	}
	res.rawScan = time.Since(t0)
	if n != o.readyJobs {
		return res, fmt.Errorf("ready: raw scan found %d jobs, loaded %d", n, o.readyJobs)
	}

	res.heapBefore, res.rssBefore = heapAfterGC(), rssBytes()
	s, err := e.newScheduler(e.cli, prefix, "node-1", 0)
	if err != nil {
		return res, err
	}
	stopProfile := e.profile("ready")
	r := startScheduler(ctx, s, "node-1")
	defer r.stop()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	ev, ok := e.logs.wait(wctx, "node-1", "leader ready", r.started)
	cancel()
	stopProfile()
	if !ok {
		return res, fmt.Errorf("ready: no leader ready: %w", context.Cause(wctx))
	}
	res.ready, res.load = ev.at.Sub(r.started), ev.took
	if p := s.Status().PlannedJobs; p != 0 && p != o.readyJobs {
		return res, fmt.Errorf("ready: %d jobs planned, %d stored", p, o.readyJobs)
	}
	res.heapAfter, res.rssAfter = heapAfterGC(), rssBytes()
	e.heapProfile("ready")
	e.progress("ready: leader ready after %s (term load %s), heap %+.0f B/job",
		res.ready.Round(time.Millisecond), res.load.Round(time.Millisecond), res.heapPerJob())
	if !idle {
		return res, nil
	}

	// Let the term settle (its first prune, the planner's first sleep).
	if !sleep(ctx, time.Second) {
		return res, ctx.Err()
	}
	e.progress("idle: measuring CPU for %s with the leader up, then %s without it", o.idle, o.idle)
	c0 := cpuTime()
	if !sleep(ctx, o.idle) {
		return res, ctx.Err()
	}
	res.idleWith = (cpuTime() - c0).Seconds() / o.idle.Seconds()
	r.stop()
	heapAfterGC()
	if !sleep(ctx, time.Second) {
		return res, ctx.Err()
	}
	c0 = cpuTime()
	if !sleep(ctx, o.idle) {
		return res, ctx.Err()
	}
	res.idleWout = (cpuTime() - c0).Seconds() / o.idle.Seconds()
	return res, nil
}

// rawScan reads every key under prefix, 1000 a request, and counts them.
func rawScan(ctx context.Context, cli *clientv3.Client, prefix string) (int, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	from, n := prefix, 0
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(1000)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := cli.Get(ctx, from, opts...)
		if err != nil {
			return n, err
		}
		rev = resp.Header.Revision
		n += len(resp.Kvs)
		if !resp.More || len(resp.Kvs) == 0 {
			return n, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

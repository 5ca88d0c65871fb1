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
	loadKeys int64
	loadTook time.Duration
	// rawScan: reading every job key once, 1000 a request, without
	// decoding: what etcd itself takes to hand the jobs over.
	rawScan time.Duration
	// ready: scheduler start -> "leader ready"; load: the term's own
	// "took" (reading jobs, last fires, runs, workers; planning). Jobs
	// only, no fire ledger.
	ready, load time.Duration

	// Heap after GC: before the scheduler starts, with the leader ready,
	// and once it stopped (its term's state is garbage then). etcd shares
	// the heap, and its raft log grows and shrinks with what the earlier
	// phases wrote, so the ready - stopped difference, taken seconds
	// apart, is the cleaner measure of the scheduler's own memory.
	heapBefore, heapAfter, heapStopped uint64
	rssBefore, rssAfter                int64

	// idle CPU, in cores: with the scheduler leading, and without it
	// (etcd and the harness alone).
	idle               bool
	idleWith, idleWout float64
	idleWindow         time.Duration

	// The same jobs with one past fire each in the ledger, as in a store
	// in use: start -> leader ready, or the time waited if it timed out.
	fires         bool
	readyFires    time.Duration
	loadFires     time.Duration
	firesTimedOut bool
}

func (r readyResult) heapPerJob() float64 {
	return (float64(r.heapAfter) - float64(r.heapStopped)) / float64(r.jobs)
}

func (r readyResult) heapPerJobBefore() float64 {
	return (float64(r.heapAfter) - float64(r.heapBefore)) / float64(r.jobs)
}

func (r readyResult) rssPerJob() float64 {
	return float64(r.rssAfter-r.rssBefore) / float64(r.jobs)
}

// runReady bulk-loads -ready-jobs jobs on -idle-schedule (none due) and
// times a scheduler becoming a ready leader. The heap is measured after GC
// with the jobs in etcd and no scheduler, then with the leader ready: the
// difference is the scheduler's. With idle it then measures the process's
// CPU for -idle with the leader up and nothing due, and again for -idle
// with the scheduler stopped. With -ready-fires it finally stores one past
// fire per job and times a new leader again, for at most -ready-timeout.
func runReady(ctx context.Context, e *env, idle bool) (readyResult, error) {
	o := e.opts
	const prefix = "/bench-ready"
	defer e.cleanup(prefix)
	res := readyResult{jobs: o.readyJobs, fires: o.readyFires, idle: idle, idleWindow: o.idle}
	st := e.store(prefix)
	spec := loadSpec{prefix: prefix, group: "bench", jobs: o.readyJobs, schedule: o.idleSchedule,
		shards: 1, planFrom: time.Now()}

	t0 := time.Now()
	var err error
	res.loadKeys, err = bulkLoad(ctx, e.cli, st, spec, o.putsPerTxn, o.loaders)
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
	r, ev, err := startLeader(ctx, e, prefix, "node-1", "ready", 10*time.Minute)
	if err != nil {
		if r != nil {
			r.stop()
		}
		return res, err
	}
	defer r.stop()
	res.ready, res.load = ev.at.Sub(r.started), ev.took
	if p := r.s.Status().PlannedJobs; p != 0 && p != o.readyJobs {
		return res, fmt.Errorf("ready: %d jobs planned, %d stored", p, o.readyJobs)
	}
	res.heapAfter, res.rssAfter = heapAfterGC(), rssBytes()
	e.heapProfile("ready")
	e.progress("ready: leader ready after %s (term load %s), heap %+.0f B/job since before the start",
		ms(res.ready), ms(res.load), res.heapPerJobBefore())

	if idle {
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
		res.heapStopped = heapAfterGC()
		if !sleep(ctx, time.Second) {
			return res, ctx.Err()
		}
		c0 = cpuTime()
		if !sleep(ctx, o.idle) {
			return res, ctx.Err()
		}
		res.idleWout = (cpuTime() - c0).Seconds() / o.idle.Seconds()
	} else {
		r.stop()
		res.heapStopped = heapAfterGC()
	}
	if !o.readyFires {
		return res, nil
	}

	spec.firesOnly = true
	t0 = time.Now()
	keys, err := bulkLoad(ctx, e.cli, st, spec, o.putsPerTxn, o.loaders)
	if err != nil {
		return res, err
	}
	e.progress("ready: added a past fire to each job (%d keys) in %s; timing a new leader for at most %s",
		keys, ms(time.Since(t0)), o.readyTimeout)
	r2, ev, err := startLeader(ctx, e, prefix, "node-2", "ready-fires", o.readyTimeout)
	switch {
	case err == nil:
		res.readyFires, res.loadFires = ev.at.Sub(r2.started), ev.took
		e.progress("ready: with fires, leader ready after %s (term load %s)", ms(res.readyFires), ms(res.loadFires))
	case ctx.Err() == nil && r2 != nil:
		res.readyFires, res.firesTimedOut = time.Since(r2.started), true
		e.progress("ready: with fires, no leader ready after %s; stopping it", ms(res.readyFires))
	default:
		if r2 != nil {
			r2.stop()
		}
		return res, err
	}
	r2.stop()
	return res, nil
}

// startLeader starts a scheduler under prefix and waits at most limit for
// it to be a ready leader, with a CPU profile named phase. On a timeout it
// returns the running scheduler with the error; the caller stops it.
func startLeader(ctx context.Context, e *env, prefix, node, phase string, limit time.Duration) (*running, logEvent, error) {
	s, err := e.newScheduler(e.cli, prefix, node, 0, nil)
	if err != nil {
		return nil, logEvent{}, err
	}
	stopProfile := e.profile(phase)
	defer stopProfile()
	r := startScheduler(ctx, s, node)
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	ev, ok := e.logs.wait(wctx, node, "leader ready", r.started)
	if !ok {
		return r, ev, fmt.Errorf("%s: no leader ready after %s: %w", phase, ms(time.Since(r.started)), context.Cause(wctx))
	}
	return r, ev, nil
}

// rawScan reads every key under prefix, at most 1000 a request, at one
// revision, and counts them: the floor of a leader's load. etcd counts the
// keys from a request's start to its range end on every request (the
// response's Count), so pages of [from, prefix end) would cost O(keys left)
// each; rawScan ends each request at a window boundary instead, the end of
// the keys sharing from's first depth bytes, with depth adapted so that a
// window holds about a page.
func rawScan(ctx context.Context, cli *clientv3.Client, prefix string) (int, error) {
	const page = 1000
	end := clientv3.GetPrefixRangeEnd(prefix)
	from, n, depth, fresh := prefix, 0, 0, false
	var rev int64
	for from < end {
		wend := end
		if depth > 0 && depth <= len(from) {
			if e := clientv3.GetPrefixRangeEnd(from[:depth]); e < wend {
				wend = e
			}
		}
		opts := []clientv3.OpOption{clientv3.WithRange(wend), clientv3.WithLimit(page)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := cli.Get(ctx, from, opts...)
		if err != nil {
			return n, err
		}
		rev = resp.Header.Revision
		n += len(resp.Kvs)
		switch {
		case resp.More:
			last := string(resp.Kvs[len(resp.Kvs)-1].Key)
			from = last + "\x00"
			if depth == 0 {
				depth = max(len(prefix)+1, len(last)-3) // first guess: windows of the last 3 bytes
			} else if resp.Count > 4*page {
				depth++
			}
		default:
			if fresh && len(resp.Kvs) < page/2 && depth > len(prefix)+1 {
				depth-- // a whole window with few keys: widen
			}
			from = wend
		}
		fresh = !resp.More
	}
	return n, nil
}

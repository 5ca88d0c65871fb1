package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pink-scheduler/pink/domain"
)

// failoverCase is one way of losing the leader, and what the follower
// took to dispatch after it.
type failoverCase struct {
	name  string
	took  time.Duration // event -> the follower's first fire recorded
	ready time.Duration // event -> the follower's "leader ready"
}

type failoverResult struct {
	jobs  int
	ttl   time.Duration
	cases []failoverCase
}

// failover events, in the order the phase runs them.
const (
	evResign = "resign"
	evRevoke = "revoke"
	evKill   = "kill"
)

// runFailover runs each failover case on -failover-jobs jobs on
// -schedule. Node A leads on a client of its own (a gRPC connection, as a
// second node would have); node B follows on the in-process client. Just
// before a second boundary (so that fires are due right after) A is
// stopped: it resigns, as on SIGTERM (resign); its lease is revoked
// behind its back (revoke: what etcd does when the TTL runs out, without
// the wait); or its client is closed without a resign, so its lease
// expires after the TTL (kill, as kill -9 of a node whose etcd survives).
// The figure is the time from the event to B's first fire recorded.
func runFailover(ctx context.Context, e *env) (failoverResult, error) {
	res := failoverResult{jobs: e.opts.failJobs, ttl: e.opts.ttl}
	for _, ev := range []string{evResign, evRevoke, evKill} {
		c, err := failoverOnce(ctx, e, ev)
		if err != nil {
			return res, fmt.Errorf("failover (%s): %w", ev, err)
		}
		e.progress("failover: %s -> first dispatch by the follower after %s (follower ready after %s)",
			ev, c.took.Round(time.Millisecond), c.ready.Round(time.Millisecond))
		res.cases = append(res.cases, c)
	}
	return res, nil
}

func failoverOnce(ctx context.Context, e *env, event string) (failoverCase, error) {
	o := e.opts
	c := failoverCase{name: event}
	prefix := "/bench-failover-" + event
	defer e.cleanup(prefix)
	st := e.store(prefix)
	if _, err := bulkLoad(ctx, e.cli, st, loadSpec{prefix: prefix, group: "bench", jobs: o.failJobs,
		schedule: o.schedule, shards: o.shards, planFrom: time.Now()}, o.putsPerTxn, o.loaders); err != nil {
		return c, err
	}
	stopWorkers, err := startWorkers(ctx, e, st, prefix, flowResult{}, nil, nil)
	if err != nil {
		return c, err
	}
	defer stopWorkers()

	cliA, err := clientv3.New(clientv3.Config{Endpoints: []string{e.srv.ClientURL()}, DialTimeout: 5 * time.Second,
		Logger: zap.NewNop()})
	if err != nil {
		return c, err
	}
	defer cliA.Close()
	a, err := e.newScheduler(cliA, prefix, "node-a", o.ttl, nil)
	if err != nil {
		return c, err
	}
	b, err := e.newScheduler(e.cli, prefix, "node-b", o.ttl, nil)
	if err != nil {
		return c, err
	}
	ra := startScheduler(ctx, a, "node-a")
	defer ra.stop()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, ok := e.logs.wait(wctx, "node-a", "leader ready", ra.started); !ok {
		return c, fmt.Errorf("node A not ready: %w", context.Cause(wctx))
	}
	rb := startScheduler(ctx, b, "node-b")
	defer rb.stop()
	if err := waitCandidates(wctx, e.cli, prefix, 2); err != nil {
		return c, err
	}
	if !sleep(ctx, o.failLead) { // A dispatches in its steady state
		return c, ctx.Err()
	}
	// Just before the next second boundary: fires are due right after.
	now := time.Now()
	if !sleep(ctx, now.Truncate(time.Second).Add(time.Second-2*time.Millisecond).Sub(now)) {
		return c, ctx.Err()
	}
	at := time.Now()
	switch event {
	case evResign:
		ra.cancel()
	case evRevoke:
		if err := revokeLeader(ctx, e.cli, prefix); err != nil {
			return c, err
		}
	case evKill:
		// Only the connection dies: A's scheduler is cancelled once B has
		// dispatched, so that its resign on cancel cannot reach etcd
		// through a connection that is still closing (seen once: 46 ms).
		_ = cliA.Close()
		defer ra.cancel()
	}
	limit := time.Now().Add(o.ttl + time.Minute)
	for b.Status().Fired == 0 {
		if time.Now().After(limit) {
			return c, fmt.Errorf("node B did not dispatch within %s", time.Since(at).Round(time.Millisecond))
		}
		if !sleep(ctx, 200*time.Microsecond) {
			return c, ctx.Err()
		}
	}
	c.took = time.Since(at)
	if ev, ok := e.logs.wait(wctx, "node-b", "leader ready", at); ok {
		c.ready = ev.at.Sub(at)
	}
	return c, nil
}

// waitCandidates waits until n candidates are campaigning under prefix.
func waitCandidates(ctx context.Context, cli *clientv3.Client, prefix string, n int64) error {
	for {
		resp, err := cli.Get(ctx, prefix+"/node/election/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return err
		}
		if resp.Count >= n {
			return nil
		}
		if !sleep(ctx, 5*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// revokeLeader revokes the lease of the current leader's election key
// (concurrency.Election names it "<prefix>/node/election/<lease ID, hex>").
func revokeLeader(ctx context.Context, cli *clientv3.Client, prefix string) error {
	resp, err := cli.Get(ctx, prefix+"/node/election/", clientv3.WithFirstCreate()...)
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 {
		return fmt.Errorf("no leader: %w", domain.ErrNotFound)
	}
	key := string(resp.Kvs[0].Key)
	id, err := strconv.ParseInt(key[strings.LastIndexByte(key, '/')+1:], 16, 64)
	if err != nil {
		return fmt.Errorf("leader key %q: %w", key, err)
	}
	_, err = cli.Revoke(ctx, clientv3.LeaseID(id))
	return err
}

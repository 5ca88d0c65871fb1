package node_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// TestFailoverKeepsFiring runs a 1-second job on three nodes and a worker,
// through two handovers: the leader stopped gracefully (it resigns, a
// follower takes over at once), then a leader whose session is revoked
// behind its back (as if it had paused past its lease): it stops, its
// fenced writes are refused, another node takes over. Across both, the
// fire ledger has exactly one record per nominal second, every one
// dispatched (none missed or skipped), and every run succeeded.
func TestFailoverKeepsFiring(t *testing.T) {
	ctx := context.Background()
	prefix := testPrefix()
	ms := []*member{
		startMember(t, prefix, "node-a"),
		startMember(t, prefix, "node-b"),
		startMember(t, prefix, "node-c"),
	}
	first := waitLeader(t, ms, 10*time.Second)

	// The test's own view of the store, and a worker, each on its own
	// client (separate processes, in a real deployment).
	admin := newClient(t)
	store := etcd.NewStore(admin, etcd.Options{Prefix: prefix})
	wlog, _ := newLog(t, "worker")
	wstore := etcd.NewStore(newClient(t), etcd.Options{Prefix: prefix, Logger: wlog})
	w, err := worker.New(worker.Config{Group: "reports", ID: "worker-1", Registry: wstore, Runs: wstore,
		LeaseTTL: leaseTTL, Logger: wlog})
	require.NoError(t, err)
	var mu sync.Mutex
	executed := map[string]int{}
	w.Handle("tick", func(_ context.Context, r worker.Run) (worker.Result, error) {
		mu.Lock()
		executed[r.ID]++
		mu.Unlock()
		return worker.Result{}, nil
	})
	wctx, stopWorker := context.WithCancel(ctx)
	var workerErr error
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); workerErr = w.Run(wctx) }()
	defer func() { stopWorker(); <-workerDone }()

	svc, err := jobs.New(jobs.Config{Groups: store, Jobs: store, Clock: clock.System{}})
	require.NoError(t, err)
	_, err = svc.CreateGroup(ctx, domain.Group{Name: "reports"})
	require.NoError(t, err)
	job, err := svc.CreateJob(ctx, domain.Job{
		Group: "reports", Name: "every second", Schedule: "* * * * * *", Handler: "tick",
		// Catch-up fires of a handover run together: let them overlap,
		// and fire every missed one within 30 s.
		Overlap: domain.OverlapAllow,
		Misfire: domain.Misfire{Policy: domain.MisfireFireAll, Window: domain.Duration(30 * time.Second)},
	})
	require.NoError(t, err)

	// succeededSince counts the job's succeeded runs scheduled after t0.
	succeededSince := func(t0 time.Time) int {
		n := 0
		for _, r := range listRuns(t, store, job.ID) {
			if r.State == domain.RunSucceeded && r.ScheduledAt.After(t0) {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return succeededSince(time.Time{}) >= 3 }, 15*time.Second, 20*time.Millisecond,
		"the first leader fires and the worker runs")

	// 1. Graceful stop: the leader resigns; a follower leads within
	// milliseconds, long before the lease TTL would have run out.
	begin := time.Now()
	first.stop(t)
	second := waitLeader(t, ms, leaseTTL*3/4, first)
	t.Logf("graceful handover %s -> %s in %s", first.id, second.id, time.Since(begin))
	require.Contains(t, first.log.String(), `msg="stopped leading: shutting down"`)
	require.Contains(t, first.log.String(), `msg=resigned`)
	require.Contains(t, first.log.String(), `resign_err=<nil>`)
	handover := time.Now()
	require.Eventually(t, func() bool { return succeededSince(handover) >= 3 }, 15*time.Second, 20*time.Millisecond,
		"the new leader keeps firing")

	// 2. The leader's session is revoked behind its back.
	fence := second.sched.Status().Fence
	require.False(t, fence.IsZero())
	resp, err := admin.Get(ctx, fence.Key)
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1, "the leader key")
	begin = time.Now()
	_, err = admin.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	require.NoError(t, err)
	third := waitLeader(t, ms, 5*time.Second, second)
	t.Logf("forced handover %s -> %s in %s", second.id, third.id, time.Since(begin))
	require.Eventually(t, func() bool { return second.sched.Status().Fence != fence }, 5*time.Second, 5*time.Millisecond,
		"the old leader's term ended")
	require.Contains(t, second.log.String(), `msg="lost leadership"`)
	require.Contains(t, second.log.String(), `msg="stopped leading`)
	// What a paused ex-leader's next dispatch would get: refused, nothing
	// written.
	now := time.Now().UTC()
	probe := domain.Fire{ID: domain.FireID("probe", now), JobID: "probe", Group: "reports", Nominal: now,
		Kind: domain.FireScheduled, Status: domain.FireDispatched, CreatedAt: now}
	_, err = store.CreateFires(ctx, fence, []ports.FireWrite{{Fire: probe}})
	require.ErrorIs(t, err, domain.ErrNotLeader)
	_, err = store.GetFire(ctx, probe.ID)
	require.ErrorIs(t, err, domain.ErrNotFound)

	handover = time.Now()
	require.Eventually(t, func() bool { return succeededSince(handover) >= 3 }, 15*time.Second, 20*time.Millisecond,
		"the third leader keeps firing")

	// Stop every node, let the worker finish what it was given, then read
	// the ledger.
	for _, m := range ms {
		m.stop(t)
	}
	fires := listFires(t, store, job.ID)
	require.NotEmpty(t, fires)
	require.Eventually(t, func() bool {
		for _, r := range listRuns(t, store, job.ID) {
			if r.State != domain.RunSucceeded {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "every run succeeds")
	stopWorker()
	<-workerDone
	require.NoError(t, workerErr)

	runs := listRuns(t, store, job.ID)
	runsByFire := map[string][]domain.Run{}
	for _, r := range runs {
		runsByFire[r.FireID] = append(runsByFire[r.FireID], r)
	}
	tokens := map[int64]bool{}
	for i, f := range fires {
		require.Equal(t, domain.FireScheduled, f.Kind, f.ID)
		require.Equal(t, domain.FireDispatched, f.Status, "%s: no fire missed or skipped (%s)", f.ID, f.Reason)
		if i > 0 {
			require.Equal(t, time.Second, f.Nominal.Sub(fires[i-1].Nominal),
				"one record per nominal second, no gap and no repeat: %s after %s", f.ID, fires[i-1].ID)
			require.GreaterOrEqual(t, f.LeaderToken, fires[i-1].LeaderToken, "terms only move forward")
		}
		require.Len(t, f.RunIDs, 1, f.ID)
		rs := runsByFire[f.ID]
		require.Len(t, rs, 1, "one run per fire: %s", f.ID)
		require.Equal(t, f.RunIDs[0], rs[0].ID)
		require.Equal(t, domain.RunSucceeded, rs[0].State, f.ID)
		tokens[f.LeaderToken] = true
	}
	require.Len(t, runs, len(fires), "no run without a fire")
	require.GreaterOrEqual(t, len(tokens), 3, "fires of three terms")
	mu.Lock()
	defer mu.Unlock()
	for _, r := range runs {
		require.Equal(t, 1, executed[r.ID], "run %s executed once", r.ID)
	}
	t.Logf("%d fires from %s to %s over %d terms", len(fires),
		fires[0].Nominal.Format(time.TimeOnly), fires[len(fires)-1].Nominal.Format(time.TimeOnly), len(tokens))
}

// listFires returns every fire of a job, oldest first.
func listFires(t *testing.T, s ports.FireStore, jobID string) []domain.Fire {
	t.Helper()
	var out []domain.Fire
	req := ports.FireFilter{JobID: jobID, PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}}
	for {
		p, err := s.ListFires(context.Background(), req)
		require.NoError(t, err)
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			break
		}
		req.Cursor = p.NextCursor
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Nominal.Before(out[j].Nominal) })
	return out
}

// listRuns returns every run of a job.
func listRuns(t *testing.T, s ports.RunStore, jobID string) []domain.Run {
	t.Helper()
	var out []domain.Run
	req := ports.RunFilter{JobID: jobID, PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}}
	for {
		p, err := s.ListRuns(context.Background(), req)
		if errors.Is(err, context.Canceled) {
			return out
		}
		require.NoError(t, err)
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			break
		}
		req.Cursor = p.NextCursor
	}
	return out
}

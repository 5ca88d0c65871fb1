package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// client is what a test uses to manage jobs: the job service on the node's
// etcd, as any node would.
type client struct {
	store *etcd.Store
	svc   *jobs.Service
}

func newClient(t *testing.T, n *node) *client {
	t.Helper()
	store := etcd.NewStore(n.cli, etcd.Options{Logger: slog.New(slog.DiscardHandler)})
	svc, err := jobs.New(jobs.Config{Groups: store, Jobs: store, Fires: store, Workers: store, Clock: clock.System{}})
	require.NoError(t, err)
	return &client{store: store, svc: svc}
}

func (c *client) runs(t *testing.T, jobID string) []domain.Run {
	t.Helper()
	p, err := c.store.ListRuns(context.Background(), ports.RunFilter{JobID: jobID, PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}})
	require.NoError(t, err)
	return p.Items
}

func (c *client) workers(t *testing.T, group string) []domain.Worker {
	t.Helper()
	ws, _, err := c.store.ListWorkers(context.Background(), group)
	require.NoError(t, err)
	return ws
}

// TestGoWorkersRunJobsAndSurviveAKill9: a pink-node and two pink-worker
// processes; a 1-second job runs on the workers with its output; a worker
// killed with -9 in the middle of a run has that run retried on the other
// worker once its lease (2 s) has expired.
func TestGoWorkersRunJobsAndSurviveAKill9(t *testing.T) {
	n := startNode(t)
	c := newClient(t, n)
	ctx := context.Background()
	_, err := c.svc.CreateGroup(ctx, domain.Group{Name: "e2e"})
	require.NoError(t, err)

	w1 := start(t, "pink-worker", "--group", "e2e", "--etcd", n.etcdURL, "--id", "w-one", "--allow-shell", "--lease-ttl", "2s")
	w2 := start(t, "pink-worker", "--group", "e2e", "--etcd", n.etcdURL, "--id", "w-two", "--allow-shell", "--lease-ttl", "2s")
	require.Eventually(t, func() bool { return len(c.workers(t, "e2e")) == 2 }, 30*time.Second, 50*time.Millisecond)

	tick, err := c.svc.CreateJob(ctx, domain.Job{Group: "e2e", Name: "tick", Schedule: "* * * * * *", Handler: "shell",
		Params: json.RawMessage(`{"command":["echo","tick"]}`)})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ok := 0
		for _, r := range c.runs(t, tick.ID) {
			if r.State == domain.RunSucceeded && r.Output == "tick\n" {
				ok++
			}
		}
		return ok >= 3
	}, 30*time.Second, 100*time.Millisecond, "a 1-second job runs on the workers")
	_, err = c.svc.PauseJob(ctx, tick.ID)
	require.NoError(t, err)

	slow, err := c.svc.CreateJob(ctx, domain.Job{Group: "e2e", Name: "slow", Schedule: "@yearly", Handler: "shell",
		Params: json.RawMessage(`{"command":["sh","-c","echo started; sleep 4; echo finished"]}`),
		Retry:  domain.Retry{MaxAttempts: 2, Backoff: domain.Duration(100 * time.Millisecond), MaxBackoff: domain.Duration(time.Second)}})
	require.NoError(t, err)
	fire, err := c.svc.TriggerJob(ctx, slow.ID, nil, "e2e-test")
	require.NoError(t, err)
	runID := fire.RunIDs[0]
	var first domain.Run
	require.Eventually(t, func() bool {
		first, err = c.store.GetRun(ctx, runID)
		return err == nil && first.State == domain.RunRunning
	}, 30*time.Second, 20*time.Millisecond, "the slow run starts")

	victim, survivor := w1, "w-two"
	if first.WorkerID == "w-two" {
		victim, survivor = w2, "w-one"
	}
	killed := time.Now()
	victim.Kill9()

	var final domain.Run
	require.Eventually(t, func() bool {
		final, err = c.store.GetRun(ctx, runID)
		return err == nil && final.State.Terminal()
	}, 30*time.Second, 50*time.Millisecond, "the run is retried and finishes")
	took := time.Since(killed)
	t.Logf("run %s: worker %s killed -9, run finished on %s after %s (attempt %d)", runID, first.WorkerID, final.WorkerID, took, final.Attempt)
	require.Equal(t, domain.RunSucceeded, final.State, final.Error)
	require.Equal(t, survivor, final.WorkerID)
	require.Equal(t, 2, final.Attempt)
	require.Len(t, final.Attempts, 1)
	require.Equal(t, domain.RunLost, final.Attempts[0].State)
	require.Equal(t, first.WorkerID, final.Attempts[0].WorkerID)
	require.True(t, strings.HasSuffix(final.Output, "finished\n"), final.Output)
	require.NotEmpty(t, logLine(n.Output(), "worker lost"), "the leader logged the failover")
}

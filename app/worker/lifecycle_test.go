package worker_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
)

func TestTwoWorkersOnOneHostHaveDistinctIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		var mu sync.Mutex
		ran := map[string]string{} // run ID -> worker ID
		handler := func(id *string) worker.HandlerFunc {
			return func(_ context.Context, run worker.Run) (worker.Result, error) {
				mu.Lock()
				defer mu.Unlock()
				ran[run.ID] = *id
				return worker.Result{}, nil
			}
		}
		var id1, id2 string
		host := func(c *worker.Config) { c.Hostname = "Build-Host_01.Example.COM" }
		p1 := e.start(map[string]worker.HandlerFunc{"h": handler(&id1)}, host)
		p2 := e.start(map[string]worker.HandlerFunc{"h": handler(&id2)}, host)
		id1, id2 = p1.w.ID(), p2.w.ID()

		require.NotEqual(t, id1, id2)
		for _, id := range []string{id1, id2} {
			require.NoError(t, domain.ValidateName("id", id))
			require.True(t, strings.HasPrefix(id, "build-host_01.example.com-"), id)
		}
		ws := e.workers()
		require.Len(t, ws, 2, "two workers on one host are two workers")

		r1 := e.assign(id1, "h")
		r2 := e.assign(id2, "h")
		synctest.Wait()
		require.Equal(t, map[string]string{r1.ID: id1, r2.ID: id2}, ran)
	})
}

func TestGeneratedIDs(t *testing.T) {
	for host, prefix := range map[string]string{
		"---":                   "worker-",
		"web-01":                "web-01-",
		"Ünïcode host":          "n-code-host-",
		strings.Repeat("a", 80): strings.Repeat("a", 50) + "-",
		"a.b.":                  "a.b-",
	} {
		w, err := worker.New(worker.Config{Group: group, Hostname: host, Registry: &registry{}, Runs: &runStore{}})
		require.NoError(t, err, "host %q", host)
		require.NoError(t, domain.ValidateName("id", w.ID()), "host %q", host)
		require.True(t, strings.HasPrefix(w.ID(), prefix), "host %q: %s", host, w.ID())
		require.Len(t, w.ID(), len(prefix)+12, "host %q", host)
	}
}

func TestLeaseLostCancelsHandlersAndReregisters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(true)
		p := e.start(map[string]worker.HandlerFunc{
			"wait": g.handle,
			"ok":   func(context.Context, worker.Run) (worker.Result, error) { return worker.Result{}, nil },
		})
		require.Equal(t, 1, e.reg.count())
		r := e.assign(p.w.ID(), "wait")
		synctest.Wait()
		require.Equal(t, domain.RunRunning, e.run(r.ID).State)

		// The store still holds the old registration for a while: the
		// first re-registrations are refused.
		e.reg.mu.Lock()
		e.reg.failNext = 2
		e.reg.mu.Unlock()
		require.NoError(t, e.mem.KillLease(e.reg.last()))
		synctest.Wait()

		require.ErrorIs(t, g.cause(r.ID), worker.ErrLeaseLost)
		require.Equal(t, 1, e.logs.count("WORKER LEASE LOST", "id="+p.w.ID()))
		require.Empty(t, e.workers(), "not registered yet: the store refuses")

		time.Sleep(10 * time.Second) // the worker backs off and retries
		synctest.Wait()
		e.reg.mu.Lock()
		require.Equal(t, 2, e.reg.refused)
		e.reg.mu.Unlock()
		require.Equal(t, 2, e.reg.count())
		ws := e.workers()
		require.Len(t, ws, 1)
		require.Equal(t, p.w.ID(), ws[0].ID, "same ID: the old registration is gone")
		require.Equal(t, 2, e.logs.count("worker registered", "id="+p.w.ID()))

		// Without a leader to fail it over, the worker's own (fenced) report
		// ended the interrupted attempt.
		got := e.run(r.ID)
		require.Equal(t, domain.RunFailed, got.State)
		require.Contains(t, got.Error, "lost its registration")

		// And it resumed.
		r2 := e.assign(p.w.ID(), "ok")
		synctest.Wait()
		require.Equal(t, domain.RunSucceeded, e.run(r2.ID).State)
		require.NoError(t, p.stop())
		require.Empty(t, e.workers())
	})
}

func TestLeaseLostLeaderFailsOverFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(false) // slow to notice
		p := e.start(map[string]worker.HandlerFunc{"wait": g.handle})
		r := e.assign(p.w.ID(), "wait", func(r *domain.Run) { r.MaxAttempts = 2 })
		synctest.Wait()
		require.NoError(t, e.mem.KillLease(e.reg.last()))
		// The leader fails the run over before the handler returns.
		e.leaderUpdate(r.ID, func(x *domain.Run) error { return x.Lose("worker lease ended", time.Now()) })
		synctest.Wait()
		close(g.release)
		synctest.Wait()
		got := e.run(r.ID)
		require.Equal(t, domain.RunPending, got.State, "the leader's failover stands")
		require.Equal(t, 2, got.Attempt)
		require.Equal(t, domain.RunLost, got.Attempts[0].State)
		require.Len(t, e.workers(), 1, "re-registered")
		require.NoError(t, p.stop())
	})
}

func TestGracefulShutdownDrainsRunningHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.start(map[string]worker.HandlerFunc{
			"slow": func(ctx context.Context, run worker.Run) (worker.Result, error) {
				select {
				case <-time.After(3 * time.Second):
				case <-ctx.Done():
					return worker.Result{}, ctx.Err()
				}
				fmt.Fprint(run.Output, "finished")
				return worker.Result{}, nil
			},
		})
		r := e.assign(p.w.ID(), "slow")
		synctest.Wait()
		p.cancel()
		synctest.Wait()

		ended, _ := p.returned()
		require.False(t, ended, "draining")
		require.Len(t, e.workers(), 1, "still registered while draining, so the leader does not fail its runs over")
		late := e.assign(p.w.ID(), "slow")
		synctest.Wait()

		time.Sleep(3 * time.Second)
		synctest.Wait()
		ended, err := p.returned()
		require.True(t, ended)
		require.NoError(t, err)
		got := e.run(r.ID)
		require.Equal(t, domain.RunSucceeded, got.State)
		require.Equal(t, "finished", got.Output)
		require.Empty(t, e.workers(), "deregistered")
		require.Equal(t, domain.RunAssigned, e.run(late.ID).State, "no new run taken while stopping")
		require.Equal(t, 1, e.logs.count("worker stopping"))
		require.Equal(t, 1, e.logs.count("worker deregistered"))
	})
}

func TestShutdownCancelsHandlersPastDrainTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(true)
		p := e.start(map[string]worker.HandlerFunc{"wait": g.handle}, func(c *worker.Config) { c.DrainTimeout = 2 * time.Second })
		r := e.assign(p.w.ID(), "wait")
		synctest.Wait()
		start := time.Now()
		require.NoError(t, p.stop())
		require.Equal(t, 2*time.Second, time.Since(start))
		require.ErrorIs(t, g.cause(r.ID), worker.ErrShuttingDown)
		got := e.run(r.ID)
		require.Equal(t, domain.RunFailed, got.State)
		require.True(t, strings.HasPrefix(got.Error, "worker shutting down"), got.Error)
		require.Contains(t, got.Output, "started "+r.ID)
		require.Empty(t, e.workers())
	})
}

func TestShutdownWithHandlerIgnoringCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(false)
		p := e.start(map[string]worker.HandlerFunc{"stuck": g.handle}, func(c *worker.Config) { c.DrainTimeout = time.Second })
		r := e.assign(p.w.ID(), "stuck")
		synctest.Wait()
		start := time.Now()
		err := p.stop()
		require.ErrorContains(t, err, "1 handler(s) still running")
		require.Equal(t, 11*time.Second, time.Since(start), "drain timeout, grace to return, grace to finish")
		got := e.run(r.ID)
		require.Equal(t, domain.RunFailed, got.State)
		require.Contains(t, got.Error, "worker shutting down")
		require.Empty(t, e.workers())
		close(g.release) // let the bubble end
		synctest.Wait()
	})
}

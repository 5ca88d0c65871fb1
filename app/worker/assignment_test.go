package worker_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
)

func TestCancelCancelsHandlerContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(true)
		p := e.start(map[string]worker.HandlerFunc{"wait": g.handle})
		r := e.assign(p.w.ID(), "wait")
		synctest.Wait()
		require.Equal(t, 1, g.invocations(r.ID))

		_, err := e.mem.UpdateRun(e.ctx, r.ID, func(x *domain.Run) error { return x.Cancel("cancelled by alice", time.Now()) })
		require.NoError(t, err)
		synctest.Wait()

		require.ErrorIs(t, g.cause(r.ID), worker.ErrRunCancelled)
		got := e.run(r.ID)
		require.Equal(t, domain.RunCancelled, got.State)
		require.Equal(t, "cancelled by alice", got.Error, "the worker does not overwrite the cancellation")
		require.Equal(t, 1, e.logs.count("run finished", r.ID, "state=cancelled", "reported=false"))

		// The worker is free again.
		r2 := e.assign(p.w.ID(), "wait")
		synctest.Wait()
		close(g.release)
		synctest.Wait()
		require.Equal(t, domain.RunSucceeded, e.run(r2.ID).State)
	})
}

func TestCancelWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(true)
		p := e.start(map[string]worker.HandlerFunc{"wait": g.handle}, func(c *worker.Config) { c.Capacity = 1 })
		a := e.assign(p.w.ID(), "wait")
		b := e.assign(p.w.ID(), "wait")
		synctest.Wait()
		require.Equal(t, domain.RunAssigned, e.run(b.ID).State, "queued behind a")
		_, err := e.mem.UpdateRun(e.ctx, b.ID, func(x *domain.Run) error { return x.Cancel("not needed", time.Now()) })
		require.NoError(t, err)
		synctest.Wait()
		close(g.release)
		synctest.Wait()
		require.Equal(t, domain.RunSucceeded, e.run(a.ID).State)
		require.Equal(t, domain.RunCancelled, e.run(b.ID).State)
		require.Zero(t, g.invocations(b.ID), "a cancelled queued run never starts")
	})
}

func TestStaleAttemptResultRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(false) // a handler that ignores its context
		p := e.start(map[string]worker.HandlerFunc{"stubborn": g.handle})
		r := e.assign(p.w.ID(), "stubborn", func(r *domain.Run) { r.MaxAttempts = 3 })
		synctest.Wait()
		require.Equal(t, domain.RunRunning, e.run(r.ID).State)

		// The leader decides the worker is lost and gives the run to another.
		e.leaderUpdate(r.ID, func(x *domain.Run) error { return x.Lose("worker presumed dead", time.Now()) })
		e.leaderUpdate(r.ID, func(x *domain.Run) error { return x.Assign("other-worker", time.Now()) })
		synctest.Wait()
		require.ErrorIs(t, g.cause(r.ID), worker.ErrRunTakenAway, "the handler's context was cancelled")

		close(g.release) // the handler finishes anyway, and reports success
		synctest.Wait()

		got := e.run(r.ID)
		require.Equal(t, domain.RunAssigned, got.State, "the late result did not land")
		require.Equal(t, "other-worker", got.WorkerID)
		require.Equal(t, 2, got.Attempt)
		require.NotContains(t, got.Output, "released")
		require.Len(t, got.Attempts, 1)
		require.Equal(t, domain.RunLost, got.Attempts[0].State)
		require.Equal(t, p.w.ID(), got.Attempts[0].WorkerID)
		require.Equal(t, 1, e.logs.count("run result rejected", r.ID, "state=succeeded"))
		require.NoError(t, p.stop())
	})
}

func TestCapacityRespected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(true)
		p := e.start(map[string]worker.HandlerFunc{"wait": g.handle}, func(c *worker.Config) { c.Capacity = 2 })
		require.Equal(t, 2, e.workers()[0].Capacity)
		var runs []domain.Run
		for range 4 {
			runs = append(runs, e.assign(p.w.ID(), "wait"))
		}
		synctest.Wait()
		active, _ := g.activeMax()
		require.Equal(t, 2, active)
		states := map[domain.RunState]int{}
		for _, r := range runs {
			states[e.run(r.ID).State]++
		}
		require.Equal(t, map[domain.RunState]int{domain.RunRunning: 2, domain.RunAssigned: 2}, states)

		g.release <- struct{}{} // one finishes: one queued run starts
		synctest.Wait()
		active, _ = g.activeMax()
		require.Equal(t, 2, active)

		close(g.release)
		synctest.Wait()
		_, most := g.activeMax()
		require.Equal(t, 2, most, "never more than Capacity handlers at once")
		for _, r := range runs {
			require.Equal(t, domain.RunSucceeded, e.run(r.ID).State)
			require.Equal(t, 1, g.invocations(r.ID))
		}
	})
}

func TestRelistAfterWatchFailureNeitherMissesNorRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(true)
		p := e.start(map[string]worker.HandlerFunc{"wait": g.handle})
		a := e.assign(p.w.ID(), "wait", func(r *domain.Run) { r.MaxAttempts = 2 })
		c := e.assign(p.w.ID(), "wait", func(r *domain.Run) { r.MaxAttempts = 2 })
		synctest.Wait()
		require.Equal(t, 1, g.invocations(a.ID))
		require.Equal(t, 1, g.invocations(c.ID))

		// The watch stops delivering: what happens now is lost to it.
		close(e.runs.current().hold)
		synctest.Wait()
		b := e.assign(p.w.ID(), "wait")                                                       // a new run
		e.leaderUpdate(c.ID, func(x *domain.Run) error { return x.Lose("gone", time.Now()) }) // one taken away
		e.leaderUpdate(c.ID, func(x *domain.Run) error { return x.Assign("elsewhere", time.Now()) })
		synctest.Wait()
		require.Zero(t, g.invocations(b.ID), "the watch missed it")

		e.runs.current().fail <- domain.ErrCompacted
		synctest.Wait()

		require.Equal(t, 1, g.invocations(a.ID), "not repeated")
		require.Equal(t, 1, g.invocations(b.ID), "not missed")
		require.ErrorIs(t, g.cause(c.ID), worker.ErrRunTakenAway, "its removal was not missed either")
		require.Equal(t, 1, e.logs.count("listing again", "compacted"))

		close(g.release)
		synctest.Wait()
		require.Equal(t, domain.RunSucceeded, e.run(a.ID).State)
		require.Equal(t, domain.RunSucceeded, e.run(b.ID).State)
		require.Equal(t, "elsewhere", e.run(c.ID).WorkerID)
		require.NoError(t, p.stop())
	})
}

func TestRealCompactionOfTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		ok := func(context.Context, worker.Run) (worker.Result, error) { return worker.Result{}, nil }
		p := e.start(map[string]worker.HandlerFunc{"ok": ok})
		e.mem.Compact()
		var runs []domain.Run
		for range 5 {
			runs = append(runs, e.assign(p.w.ID(), "ok"))
			e.mem.Compact()
		}
		// A watch that fails again right after a listing is retried after
		// a pause (at most timing.MaxBackoff).
		time.Sleep(5 * time.Second)
		synctest.Wait()
		for _, r := range runs {
			require.Equal(t, domain.RunSucceeded, e.run(r.ID).State)
		}
	})
}

func TestOrphanedRunningRunIsFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		// A previous process with the same (configured) ID died while it
		// ran this run, and no leader noticed.
		r := e.assign("fixed-id", "h")
		_, err := e.mem.UpdateRun(e.ctx, r.ID, func(x *domain.Run) error { return x.Start("fixed-id", 1, time.Now()) })
		require.NoError(t, err)

		p := e.start(map[string]worker.HandlerFunc{
			"h": func(context.Context, worker.Run) (worker.Result, error) { return worker.Result{}, nil },
		}, func(c *worker.Config) { c.ID = "fixed-id" })
		require.Equal(t, "fixed-id", p.w.ID())
		got := e.run(r.ID)
		require.Equal(t, domain.RunFailed, got.State)
		require.Contains(t, got.Error, "not executing this attempt")
	})
}

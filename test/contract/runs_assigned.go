package contract

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// testAssigned checks ListAssigned and WatchAssigned: what a worker sees.
func testAssigned(t *testing.T, nb NewBackend, f Features) {
	t.Run("ListAndWatchAssigned", func(t *testing.T) {
		job := newJob("j1", "alpha", 3) // retried, so a lost run goes back to pending
		fx := newRunFixture(t, nb, job, minutes(0, 1, 2, 3, 4)...)
		ctx := timeoutCtx(t)
		r := ids(fx.runs, runID)

		mine, rev, err := fx.b.Runs.ListAssigned(ctx, "alpha", "w1")
		require.NoError(t, err)
		require.Empty(t, mine)

		// Assigned between the listing and the watch: still seen.
		a1 := updateRun(t, fx.b.Runs, r[0], assign("w1"))
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch := fx.b.Runs.WatchAssigned(wctx, "alpha", "w1", rev)
		expect := func(typ ports.EventType, id string, state domain.RunState) domain.Run {
			t.Helper()
			ev := recv(t, ch)
			require.NoError(t, ev.Err)
			require.Equal(t, typ, ev.Type, "event for %s", ev.Run.ID)
			require.Equal(t, id, ev.Run.ID)
			if state != "" {
				require.Equal(t, state, ev.Run.State)
			}
			return ev.Run
		}
		require.Equal(t, a1, expect(ports.EventPut, r[0], domain.RunAssigned))

		updateRun(t, fx.b.Runs, r[1], assign("w2")) // not w1's: no event
		updateRun(t, fx.b.Runs, r[0], func(x *domain.Run) error { return x.Start("w1", 1, t0) })
		expect(ports.EventPut, r[0], domain.RunRunning)
		updateRun(t, fx.b.Runs, r[0], func(x *domain.Run) error { return x.Cancel("user", t0) })
		cancelled := expect(ports.EventPut, r[0], domain.RunCancelled) // the worker must hear of it
		require.Equal(t, "w1", cancelled.WorkerID)

		updateRun(t, fx.b.Runs, r[2], assign("w1"))
		expect(ports.EventPut, r[2], domain.RunAssigned)
		updateRun(t, fx.b.Runs, r[2], finish("w1", domain.RunSucceeded))
		expect(ports.EventDelete, r[2], "")

		updateRun(t, fx.b.Runs, r[3], assign("w1"))
		expect(ports.EventPut, r[3], domain.RunAssigned)
		retried, err := fx.b.Runs.LeaderUpdateRun(ctx, fx.lead.Fence(), r[3], func(x *domain.Run) error {
			return x.Lose("worker w1 lost", t0)
		})
		require.NoError(t, err)
		require.Equal(t, domain.RunPending, retried.State, "the fixture's job retries")
		expect(ports.EventDelete, r[3], "")
		updateRun(t, fx.b.Runs, r[3], assign("w2")) // reassigned elsewhere: no event for w1

		updateRun(t, fx.b.Runs, r[4], assign("w1"))
		expect(ports.EventPut, r[4], domain.RunAssigned) // proves nothing came in between

		mine, rev2, err := fx.b.Runs.ListAssigned(ctx, "alpha", "w1")
		require.NoError(t, err)
		require.Equal(t, []string{r[4]}, ids(mine, runID), "only active runs of the worker")
		require.GreaterOrEqual(t, rev2, rev)
		theirs, _, err := fx.b.Runs.ListAssigned(ctx, "alpha", "w2")
		require.NoError(t, err)
		got := ids(theirs, runID)
		slices.Sort(got)
		require.Equal(t, []string{r[1], r[3]}, got)
		none, _, err := fx.b.Runs.ListAssigned(ctx, "beta", "w1")
		require.NoError(t, err)
		require.Empty(t, none, "another group's worker of the same ID has nothing")

		ch2 := fx.b.Runs.WatchAssigned(wctx, "alpha", "w1", rev2)
		require.NoError(t, fx.b.Runs.LeaderDeleteRuns(ctx, fx.lead.Fence(), []string{r[4]}))
		expect(ports.EventDelete, r[4], "")
		ev := recv(t, ch2)
		require.NoError(t, ev.Err)
		require.Equal(t, ports.EventDelete, ev.Type)
		require.Equal(t, r[4], ev.Run.ID)

		cancel()
		waitClosed(t, ch)
		waitClosed(t, ch2)
	})

	t.Run("WatchAssignedCompacted", func(t *testing.T) {
		fx := newRunFixture(t, nb, newJob("j1", "alpha", 0), minutes(0, 1, 2)...)
		if f.NoCompaction || fx.b.Compact == nil {
			t.Skip("the adapter does not compact")
		}
		ctx := timeoutCtx(t)
		_, rev, err := fx.b.Runs.ListAssigned(ctx, "alpha", "w1")
		require.NoError(t, err)
		for _, x := range fx.runs {
			updateRun(t, fx.b.Runs, x.ID, assign("w1"))
		}
		fx.b.Compact(t)
		ch := fx.b.Runs.WatchAssigned(ctx, "alpha", "w1", rev)
		require.ErrorIs(t, recv(t, ch).Err, domain.ErrCompacted)
		require.Empty(t, waitClosed(t, ch))
	})
}

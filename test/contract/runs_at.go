package contract

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// assignedWatch is a worker's watch of its assigned runs in a test.
type assignedWatch struct {
	t  *testing.T
	ch <-chan ports.RunEvent
}

// watchAssigned watches what worker of group is assigned from now on; the
// watch ends with the test.
func watchAssigned(t *testing.T, runs ports.RunStore, group, worker string) *assignedWatch {
	t.Helper()
	_, rev, err := runs.ListAssigned(timeoutCtx(t), group, worker)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ch := runs.WatchAssigned(ctx, group, worker, rev)
	t.Cleanup(func() { cancel(); waitClosed(t, ch) })
	return &assignedWatch{t: t, ch: ch}
}

// next receives the next event and checks its type, run and state.
func (w *assignedWatch) next(typ ports.EventType, id string, state domain.RunState) ports.RunEvent {
	w.t.Helper()
	ev := recv(w.t, w.ch)
	require.NoError(w.t, ev.Err)
	require.Equal(w.t, typ, ev.Type, "event for %s (%s)", ev.Run.ID, ev.Run.State)
	require.Equal(w.t, id, ev.Run.ID)
	if state != "" {
		require.Equal(w.t, state, ev.Run.State)
	}
	return ev
}

// assignVia assigns run id to worker and returns the watch's event of it,
// which carries the run's version.
func assignVia(t *testing.T, runs ports.RunStore, w *assignedWatch, id, worker string) ports.RunEvent {
	t.Helper()
	updateRun(t, runs, id, assign(worker))
	ev := w.next(ports.EventPut, id, domain.RunAssigned)
	require.False(t, ev.At.IsZero(), "an assignment event carries the run's version")
	return ev
}

func startAs(worker string, attempt int) func(*domain.Run) error {
	return func(r *domain.Run) error { return r.Start(worker, attempt, t0) }
}

func reportAs(worker string, attempt int, s domain.RunState) func(*domain.Run) error {
	return func(r *domain.Run) error {
		return r.Finish(domain.Report{RunID: r.ID, WorkerID: worker, Attempt: attempt, State: s}, 0, t0.Add(time.Minute))
	}
}

// testUpdateRunAt checks UpdateRunAt (a write from a known version) and how
// WatchAssigned reports the worker's own results against cancellations.
func testUpdateRunAt(t *testing.T, nb NewBackend, _ Features) {
	t.Run("UpdateRunAtKnownVersion", func(t *testing.T) {
		fx := newRunFixture(t, nb, newJob("j1", "alpha", 0), t0)
		ctx := timeoutCtx(t)
		id := fx.runs[0].ID
		w := watchAssigned(t, fx.b.Runs, "alpha", "w1")
		ev := assignVia(t, fx.b.Runs, w, id, "w1")
		require.Equal(t, fx.get(t, id), ev.Run)

		running, v1, err := fx.b.Runs.UpdateRunAt(ctx, ev.Run, ev.At, startAs("w1", 1))
		require.NoError(t, err)
		require.Equal(t, domain.RunRunning, running.State)
		require.Greater(t, running.Version, ev.Run.Version)
		require.False(t, v1.IsZero())
		require.NotEqual(t, ev.At, v1)
		require.Equal(t, running, fx.get(t, id))
		echo := w.next(ports.EventPut, id, domain.RunRunning)
		require.Equal(t, running, echo.Run)
		require.Equal(t, v1, echo.At, "the watch and the write agree on the version")

		out, v2, err := fx.b.Runs.UpdateRunAt(ctx, running, v1, func(r *domain.Run) error {
			return r.AppendOutput("w1", 1, "hello ", 0)
		})
		require.NoError(t, err)
		require.Equal(t, "hello ", out.Output)
		w.next(ports.EventPut, id, domain.RunRunning)

		rep := domain.Report{RunID: id, WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded, Output: "done"}
		done, v3, err := fx.b.Runs.UpdateRunAt(ctx, out, v2, func(r *domain.Run) error { return r.Finish(rep, 0, t0) })
		require.NoError(t, err)
		require.Equal(t, domain.RunSucceeded, done.State)
		require.Equal(t, "hello done", done.Output)
		require.False(t, v3.IsZero())
		require.Equal(t, done, fx.get(t, id))
		w.next(ports.EventDelete, id, domain.RunRunning) // the worker's own result: not a cancellation

		// Accepted at most once: the same report again, from the version it
		// was made at, is refused.
		_, _, err = fx.b.Runs.UpdateRunAt(ctx, out, v2, func(r *domain.Run) error { return r.Finish(rep, 0, t0) })
		require.ErrorIs(t, err, domain.ErrIllegalTransition)
		require.Equal(t, done, fx.get(t, id))
	})

	t.Run("UpdateRunAtStaleVersionReadsAgain", func(t *testing.T) {
		fx := newRunFixture(t, nb, newJob("j1", "alpha", 0), t0)
		ctx := timeoutCtx(t)
		id := fx.runs[0].ID
		w := watchAssigned(t, fx.b.Runs, "alpha", "w1")
		ev := assignVia(t, fx.b.Runs, w, id, "w1")
		running, v1, err := fx.b.Runs.UpdateRunAt(ctx, ev.Run, ev.At, startAs("w1", 1))
		require.NoError(t, err)

		// Two writes from the same version: the second one finds the run
		// changed and applies fn to the run as it is now (no lost update).
		a, _, err := fx.b.Runs.UpdateRunAt(ctx, running, v1, func(r *domain.Run) error { return r.AppendOutput("w1", 1, "a", 0) })
		require.NoError(t, err)
		require.Equal(t, "a", a.Output)
		calls := 0
		b, vb, err := fx.b.Runs.UpdateRunAt(ctx, running, v1, func(r *domain.Run) error {
			calls++
			return r.AppendOutput("w1", 1, "b", 0)
		})
		require.NoError(t, err)
		require.Equal(t, "ab", b.Output)
		require.GreaterOrEqual(t, calls, 1)
		require.Equal(t, b, fx.get(t, id))

		// A zero version, or another run's, is just a read first.
		c, _, err := fx.b.Runs.UpdateRunAt(ctx, running, ports.RunVersion{}, func(r *domain.Run) error { return r.AppendOutput("w1", 1, "c", 0) })
		require.NoError(t, err)
		require.Equal(t, "abc", c.Output)
		for range 4 { // start, a, b, c
			w.next(ports.EventPut, id, domain.RunRunning)
		}
		other := fx.add(t, newJob("j1", "alpha", 0), t0.Add(time.Minute))[0]
		oev := assignVia(t, fx.b.Runs, w, other.ID, "w1")
		d, _, err := fx.b.Runs.UpdateRunAt(ctx, running, oev.At, func(r *domain.Run) error { return r.AppendOutput("w1", 1, "d", 0) })
		require.NoError(t, err)
		require.Equal(t, "abcd", d.Output)
		require.Equal(t, domain.RunAssigned, fx.get(t, other.ID).State, "the other run is untouched")

		// The version of the earlier write is stale too, and fenced the same.
		_, _, err = fx.b.Runs.UpdateRunAt(ctx, b, vb, reportAs("w1", 2, domain.RunSucceeded))
		require.ErrorIs(t, err, domain.ErrStaleAttempt)
		require.Equal(t, d, fx.get(t, id))
	})

	t.Run("UpdateRunAtLateResultOfStaleAttempt", func(t *testing.T) {
		fx := newRunFixture(t, nb, newJob("j1", "alpha", 3), t0)
		ctx := timeoutCtx(t)
		id := fx.runs[0].ID
		w := watchAssigned(t, fx.b.Runs, "alpha", "w1")
		ev := assignVia(t, fx.b.Runs, w, id, "w1")
		running, v1, err := fx.b.Runs.UpdateRunAt(ctx, ev.Run, ev.At, startAs("w1", 1))
		require.NoError(t, err)

		// The leader fails w1's attempt over: retried, then taken by w2.
		_, err = fx.b.Runs.LeaderUpdateRun(ctx, fx.lead.Fence(), id, func(r *domain.Run) error { return r.Lose("worker w1 lost", t0) })
		require.NoError(t, err)
		second := updateRun(t, fx.b.Runs, id, assign("w2"))
		require.Equal(t, 2, second.Attempt)

		// w1's late result, from the version it last wrote, is refused and
		// changes nothing; so is a late start of its old assignment.
		for _, fn := range []func(*domain.Run) error{
			reportAs("w1", 1, domain.RunSucceeded),
			reportAs("w1", 1, domain.RunFailed),
			func(r *domain.Run) error { return r.AppendOutput("w1", 1, "late", 0) },
		} {
			_, _, err = fx.b.Runs.UpdateRunAt(ctx, running, v1, fn)
			require.ErrorIs(t, err, domain.ErrStaleAttempt)
			require.Equal(t, second, fx.get(t, id))
		}
		_, _, err = fx.b.Runs.UpdateRunAt(ctx, ev.Run, ev.At, startAs("w1", 1))
		require.ErrorIs(t, err, domain.ErrStaleAttempt)
		require.Equal(t, second, fx.get(t, id))
	})

	t.Run("UpdateRunAtCancelledOrDeleted", func(t *testing.T) {
		fx := newRunFixture(t, nb, newJob("j1", "alpha", 0), t0, t0.Add(time.Minute))
		ctx := timeoutCtx(t)
		r0, r1 := fx.runs[0].ID, fx.runs[1].ID
		w := watchAssigned(t, fx.b.Runs, "alpha", "w1")
		ev0 := assignVia(t, fx.b.Runs, w, r0, "w1")
		ev1 := assignVia(t, fx.b.Runs, w, r1, "w1")

		cancelled := updateRun(t, fx.b.Runs, r0, func(r *domain.Run) error { return r.Cancel("by alice", t0) })
		w.next(ports.EventPut, r0, domain.RunCancelled)
		_, _, err := fx.b.Runs.UpdateRunAt(ctx, ev0.Run, ev0.At, startAs("w1", 1))
		require.ErrorIs(t, err, domain.ErrIllegalTransition, "a cancelled run does not start")
		require.Equal(t, cancelled, fx.get(t, r0))

		require.NoError(t, fx.b.Runs.LeaderDeleteRuns(ctx, fx.lead.Fence(), []string{r1}))
		w.next(ports.EventDelete, r1, "")
		_, _, err = fx.b.Runs.UpdateRunAt(ctx, ev1.Run, ev1.At, startAs("w1", 1))
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("WatchAssignedOwnResultIsNotCancellation", func(t *testing.T) {
		job := newJob("j1", "alpha", 2)
		fx := newRunFixture(t, nb, job, minutes(0, 1, 2, 3)...)
		ctx := timeoutCtx(t)
		w := watchAssigned(t, fx.b.Runs, "alpha", "w1")
		started := make([]domain.Run, len(fx.runs))
		at := make([]ports.RunVersion, len(fx.runs))
		for i, r := range fx.runs {
			ev := assignVia(t, fx.b.Runs, w, r.ID, "w1")
			var err error
			started[i], at[i], err = fx.b.Runs.UpdateRunAt(ctx, ev.Run, ev.At, startAs("w1", 1))
			require.NoError(t, err)
			w.next(ports.EventPut, r.ID, domain.RunRunning)
		}

		// The worker's own results: succeeded, and failed with a retry
		// left (back to pending): deletes.
		_, _, err := fx.b.Runs.UpdateRunAt(ctx, started[0], at[0], reportAs("w1", 1, domain.RunSucceeded))
		require.NoError(t, err)
		w.next(ports.EventDelete, started[0].ID, domain.RunRunning)
		retried, _, err := fx.b.Runs.UpdateRunAt(ctx, started[1], at[1], reportAs("w1", 1, domain.RunFailed))
		require.NoError(t, err)
		require.Equal(t, domain.RunPending, retried.State)
		w.next(ports.EventDelete, started[1].ID, domain.RunRunning)

		// A user's cancellation: the worker hears of it, with the
		// cancelled run.
		c := updateRun(t, fx.b.Runs, started[2].ID, func(r *domain.Run) error { return r.Cancel("by alice", t0) })
		ev := w.next(ports.EventPut, started[2].ID, domain.RunCancelled)
		require.Equal(t, c, ev.Run)
		require.Equal(t, "w1", ev.Run.WorkerID)

		// A worker that reports its run cancelled (as handlers may): also
		// a cancellation, as before.
		rc, _, err := fx.b.Runs.UpdateRunAt(ctx, started[3], at[3], reportAs("w1", 1, domain.RunCancelled))
		require.NoError(t, err)
		ev = w.next(ports.EventPut, started[3].ID, domain.RunCancelled)
		require.Equal(t, rc, ev.Run)
	})

	t.Run("WatchAssignedResultRacesCancellation", func(t *testing.T) {
		const n = 8
		var nominals []time.Time
		for i := range n {
			nominals = append(nominals, t0.Add(time.Duration(i)*time.Minute))
		}
		fx := newRunFixture(t, nb, newJob("j1", "alpha", 0), nominals...)
		ctx := timeoutCtx(t)
		w := watchAssigned(t, fx.b.Runs, "alpha", "w1")
		started := make([]domain.Run, n)
		at := make([]ports.RunVersion, n)
		for i, r := range fx.runs {
			ev := assignVia(t, fx.b.Runs, w, r.ID, "w1")
			var err error
			started[i], at[i], err = fx.b.Runs.UpdateRunAt(ctx, ev.Run, ev.At, startAs("w1", 1))
			require.NoError(t, err)
			w.next(ports.EventPut, r.ID, domain.RunRunning)
		}
		// Each run's result races a cancellation: exactly one lands, and
		// the watch reports what did.
		var wg sync.WaitGroup
		for i := range started {
			wg.Go(func() {
				_, _, _ = fx.b.Runs.UpdateRunAt(ctx, started[i], at[i], reportAs("w1", 1, domain.RunSucceeded))
			})
			wg.Go(func() {
				_, _ = fx.b.Runs.UpdateRun(ctx, started[i].ID, func(r *domain.Run) error { return r.Cancel("by alice", t0) })
			})
		}
		wg.Wait()
		seen := map[string]ports.RunEvent{}
		for range n {
			ev := recv(t, w.ch)
			require.NoError(t, ev.Err)
			seen[ev.Run.ID] = ev
		}
		for _, r := range started {
			final := fx.get(t, r.ID)
			ev, ok := seen[r.ID]
			require.True(t, ok, "an event for %s", r.ID)
			switch final.State {
			case domain.RunCancelled:
				require.Equal(t, ports.EventPut, ev.Type)
				require.Equal(t, final, ev.Run)
			case domain.RunSucceeded:
				require.Equal(t, ports.EventDelete, ev.Type)
			default:
				t.Fatalf("run %s is %s", r.ID, final.State)
			}
		}
	})
}

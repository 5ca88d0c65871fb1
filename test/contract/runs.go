package contract

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// runFixture is a fresh backend with a leader and pending runs.
type runFixture struct {
	b    Backend
	lead ports.Leadership
	runs []domain.Run // in creation order
}

// newRunFixture creates one fire of job j (with j.Shards runs) per nominal
// time.
func newRunFixture(t *testing.T, nb NewBackend, j domain.Job, nominals ...time.Time) *runFixture {
	b := nb(t)
	fx := &runFixture{b: b, lead: campaign(t, b, "n1")}
	fx.add(t, j, nominals...)
	return fx
}

// add creates more fires.
func (fx *runFixture) add(t *testing.T, j domain.Job, nominals ...time.Time) []domain.Run {
	var ws []ports.FireWrite
	var runs []domain.Run
	for _, n := range nominals {
		w := fireWrite(j, n)
		ws = append(ws, w)
		runs = append(runs, w.Runs...)
	}
	if len(ws) > 0 {
		createFires(t, fx.b.Fires, fx.lead.Fence(), ws...)
	}
	fx.runs = append(fx.runs, runs...)
	return runs
}

// get reads a run.
func (fx *runFixture) get(t *testing.T, id string) domain.Run {
	t.Helper()
	r, err := fx.b.Runs.GetRun(timeoutCtx(t), id)
	require.NoError(t, err)
	return r
}

// minutes returns t0 plus each number of minutes.
func minutes(ms ...int) []time.Time {
	out := make([]time.Time, 0, len(ms))
	for _, m := range ms {
		out = append(out, t0.Add(time.Duration(m)*time.Minute))
	}
	return out
}

// TestRunStore checks the ports.RunStore contract.
func TestRunStore(t *testing.T, nb NewBackend, f Features) {
	job := newJob("j1", "alpha", 0)

	t.Run("GetMissing", func(t *testing.T) {
		_, err := nb(t).Runs.GetRun(timeoutCtx(t), "nope")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("UpdateRunTransitions", func(t *testing.T) {
		fx := newRunFixture(t, nb, job, t0)
		ctx := timeoutCtx(t)
		id := fx.runs[0].ID
		pending := fx.get(t, id)

		assigned := updateRun(t, fx.b.Runs, id, assign("w1"))
		require.Equal(t, domain.RunAssigned, assigned.State)
		require.Equal(t, "w1", assigned.WorkerID)
		require.Greater(t, assigned.Version, pending.Version)
		require.Equal(t, assigned, fx.get(t, id))

		// A stale worker or attempt is refused and changes nothing.
		for _, start := range []func(*domain.Run) error{
			func(r *domain.Run) error { return r.Start("w1", 2, t0) },
			func(r *domain.Run) error { return r.Start("w2", 1, t0) },
		} {
			_, err := fx.b.Runs.UpdateRun(ctx, id, start)
			require.ErrorIs(t, err, domain.ErrStaleAttempt)
			require.Equal(t, assigned, fx.get(t, id))
		}

		running := updateRun(t, fx.b.Runs, id, func(r *domain.Run) error { return r.Start("w1", 1, t0) })
		require.Equal(t, domain.RunRunning, running.State)

		stale := domain.Report{RunID: id, WorkerID: "w1", Attempt: 2, State: domain.RunSucceeded}
		_, err := fx.b.Runs.UpdateRun(ctx, id, func(r *domain.Run) error { return r.Finish(stale, 0, t0) })
		require.ErrorIs(t, err, domain.ErrStaleAttempt)
		require.Equal(t, running, fx.get(t, id))

		ok := domain.Report{RunID: id, WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded, Output: "done"}
		done := updateRun(t, fx.b.Runs, id, func(r *domain.Run) error { return r.Finish(ok, 0, t0.Add(time.Second)) })
		require.Equal(t, domain.RunSucceeded, done.State)
		require.Equal(t, "done", done.Output)

		_, err = fx.b.Runs.UpdateRun(ctx, id, func(r *domain.Run) error { return r.Finish(ok, 0, t0) })
		require.ErrorIs(t, err, domain.ErrIllegalTransition, "a result is accepted at most once")
		require.Equal(t, done, fx.get(t, id))
	})

	t.Run("UpdateRunIDRefused", func(t *testing.T) {
		fx := newRunFixture(t, nb, job, t0)
		id := fx.runs[0].ID
		before := fx.get(t, id)
		_, err := fx.b.Runs.UpdateRun(timeoutCtx(t), id, func(r *domain.Run) error { r.ID = "other"; return nil })
		require.ErrorIs(t, err, domain.ErrInvalid)
		require.Equal(t, before, fx.get(t, id))
	})

	t.Run("UpdateRunMissing", func(t *testing.T) {
		called := false
		_, err := nb(t).Runs.UpdateRun(timeoutCtx(t), "nope", func(*domain.Run) error { called = true; return nil })
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.False(t, called)
	})

	t.Run("LeaderUpdateRunFenced", func(t *testing.T) {
		fx := newRunFixture(t, nb, job, t0)
		ctx := timeoutCtx(t)
		id := fx.runs[0].ID
		r, err := fx.b.Runs.LeaderUpdateRun(ctx, fx.lead.Fence(), id, assign("w1"))
		require.NoError(t, err)
		require.Equal(t, domain.RunAssigned, r.State)

		require.NoError(t, fx.lead.Resign(ctx))
		_, err = fx.b.Runs.LeaderUpdateRun(ctx, fx.lead.Fence(), id, func(r *domain.Run) error {
			return r.Lose("worker gone", t0)
		})
		require.ErrorIs(t, err, domain.ErrNotLeader)
		require.Equal(t, r, fx.get(t, id), "a refused fenced write changes nothing")
		_, err = fx.b.Runs.LeaderUpdateRun(ctx, ports.Fence{}, id, func(r *domain.Run) error {
			r.Error = "must not be stored"
			return nil
		})
		require.ErrorIs(t, err, domain.ErrNotLeader)
		require.Equal(t, r, fx.get(t, id))
	})

	t.Run("ScanActiveRunsThenWatch", func(t *testing.T) {
		fx := newRunFixture(t, nb, job, minutes(0, 1, 2, 3)...)
		ctx := timeoutCtx(t)
		updateRun(t, fx.b.Runs, fx.runs[2].ID, finish("w1", domain.RunSucceeded))
		updateRun(t, fx.b.Runs, fx.runs[3].ID, func(r *domain.Run) error { return r.Cancel("user", t0) })

		var active []string
		rev, err := fx.b.Runs.ScanActiveRuns(ctx, func(r domain.Run) error {
			active = append(active, r.ID)
			return nil
		})
		require.NoError(t, err)
		slices.Sort(active)
		require.Equal(t, []string{fx.runs[0].ID, fx.runs[1].ID}, active, "terminal runs are not scanned")

		// Missed by neither the scan nor the watch.
		assigned := updateRun(t, fx.b.Runs, fx.runs[0].ID, assign("w1"))
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch := fx.b.Runs.WatchRuns(wctx, rev)
		last1 := fx.get(t, fx.runs[1].ID)
		require.NoError(t, fx.b.Runs.LeaderDeleteRuns(ctx, fx.lead.Fence(), []string{fx.runs[1].ID}))
		newRuns := fx.add(t, job, t0.Add(time.Hour))

		ev := recv(t, ch)
		require.NoError(t, ev.Err)
		require.Equal(t, ports.EventPut, ev.Type)
		require.Equal(t, assigned, ev.Run)
		require.Greater(t, ev.Revision, rev)
		ev2 := recv(t, ch)
		require.NoError(t, ev2.Err)
		require.Equal(t, ports.EventDelete, ev2.Type)
		require.Equal(t, last1, ev2.Run, "a delete event carries the last value")
		require.Greater(t, ev2.Revision, ev.Revision)
		ev3 := recv(t, ch)
		require.NoError(t, ev3.Err)
		require.Equal(t, ports.EventPut, ev3.Type)
		require.Equal(t, newRuns[0].ID, ev3.Run.ID, "runs created with a fire are watched")
		require.Greater(t, ev3.Revision, ev2.Revision)

		cancel()
		waitClosed(t, ch)
	})

	t.Run("WatchRunsCompacted", func(t *testing.T) {
		fx := newRunFixture(t, nb, job, t0)
		if f.NoCompaction || fx.b.Compact == nil {
			t.Skip("the adapter does not compact")
		}
		ctx := timeoutCtx(t)
		rev, err := fx.b.Runs.ScanActiveRuns(ctx, func(domain.Run) error { return nil })
		require.NoError(t, err)
		for _, m := range minutes(1, 2, 3) {
			fx.add(t, job, m) // three writes
		}
		fx.b.Compact(t)
		ch := fx.b.Runs.WatchRuns(ctx, rev)
		require.ErrorIs(t, recv(t, ch).Err, domain.ErrCompacted)
		require.Empty(t, waitClosed(t, ch))
	})

	t.Run("ListRunsFiltersNewestFirst", func(t *testing.T) {
		other := newJob("j2", "beta", 0)
		fx := newRunFixture(t, nb, job, minutes(0, 10, 20, 30, 40)...)
		fx.add(t, other, minutes(10, 25)...)
		ctx := timeoutCtx(t)
		r := fx.runs // j1: 0..4 at 0,10,20,30,40; j2: 5 at 10, 6 at 25
		updateRun(t, fx.b.Runs, r[0].ID, finish("w1", domain.RunSucceeded))
		updateRun(t, fx.b.Runs, r[1].ID, finish("w2", domain.RunFailed))
		updateRun(t, fx.b.Runs, r[2].ID, assign("w1"))
		updateRun(t, fx.b.Runs, r[5].ID, finish("w3", domain.RunSucceeded))

		all := slices.Clone(fx.runs)
		slices.SortFunc(all, func(x, y domain.Run) int {
			if c := y.ScheduledAt.Compare(x.ScheduledAt); c != 0 {
				return c
			}
			return strings.Compare(y.ID, x.ID)
		})
		wantIDs := func(keep func(domain.Run) bool) []string {
			var out []string
			for _, x := range all {
				if keep(x) {
					out = append(out, x.ID)
				}
			}
			return out
		}
		list := func(f ports.RunFilter) func(ports.PageRequest) (ports.Page[domain.Run], error) {
			return func(p ports.PageRequest) (ports.Page[domain.Run], error) {
				f.PageRequest = p
				return fx.b.Runs.ListRuns(ctx, f)
			}
		}
		cases := []struct {
			name string
			f    ports.RunFilter
			want []string
		}{
			{"all", ports.RunFilter{}, wantIDs(func(domain.Run) bool { return true })},
			{"job", ports.RunFilter{JobID: "j2"}, []string{r[6].ID, r[5].ID}},
			{"group", ports.RunFilter{Group: "alpha"}, []string{r[4].ID, r[3].ID, r[2].ID, r[1].ID, r[0].ID}},
			{"worker", ports.RunFilter{WorkerID: "w1"}, []string{r[2].ID, r[0].ID}},
			{"states", ports.RunFilter{States: []domain.RunState{domain.RunSucceeded, domain.RunFailed}},
				[]string{r[5].ID, r[1].ID, r[0].ID}}, // same time: by ID, newest first
			{"pending", ports.RunFilter{States: []domain.RunState{domain.RunPending}}, []string{r[4].ID, r[3].ID, r[6].ID}},
			{"from inclusive, to exclusive", ports.RunFilter{From: t0.Add(10 * time.Minute), To: t0.Add(30 * time.Minute)},
				wantIDs(func(x domain.Run) bool {
					return !x.ScheduledAt.Before(t0.Add(10*time.Minute)) && x.ScheduledAt.Before(t0.Add(30*time.Minute))
				})},
			{"from only", ports.RunFilter{From: t0.Add(30 * time.Minute)}, []string{r[4].ID, r[3].ID}},
			{"to only", ports.RunFilter{To: t0.Add(10 * time.Minute)}, []string{r[0].ID}},
			{"combined", ports.RunFilter{Group: "alpha", States: []domain.RunState{domain.RunPending, domain.RunAssigned},
				From: t0.Add(20 * time.Minute)}, []string{r[4].ID, r[3].ID, r[2].ID}},
			{"none", ports.RunFilter{JobID: "nope"}, nil},
		}
		require.Len(t, cases[0].want, 7)
		for _, c := range cases {
			for _, limit := range []int{1, 2, 3, 100} {
				got := walkPages(t, limit, list(c.f))
				require.Equal(t, c.want, ids(got, runID), "%s, limit %d", c.name, limit)
			}
		}
		checkBadCursors(t, list(ports.RunFilter{}))
	})

	t.Run("DeleteRun", func(t *testing.T) {
		fx := newRunFixture(t, nb, job, minutes(0, 1)...)
		ctx := timeoutCtx(t)
		active, finished := fx.runs[0].ID, fx.runs[1].ID
		updateRun(t, fx.b.Runs, finished, finish("w1", domain.RunSucceeded))
		require.ErrorIs(t, fx.b.Runs.DeleteRun(ctx, active), domain.ErrConflict)
		fx.get(t, active)
		require.NoError(t, fx.b.Runs.DeleteRun(ctx, finished))
		_, err := fx.b.Runs.GetRun(ctx, finished)
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.ErrorIs(t, fx.b.Runs.DeleteRun(ctx, finished), domain.ErrNotFound)
	})

	t.Run("LeaderDeleteRuns", func(t *testing.T) {
		fx := newRunFixture(t, nb, job, minutes(0, 1, 2)...)
		ctx := timeoutCtx(t)
		updateRun(t, fx.b.Runs, fx.runs[1].ID, finish("w1", domain.RunSucceeded))
		require.NoError(t, fx.b.Runs.LeaderDeleteRuns(ctx, fx.lead.Fence(),
			[]string{fx.runs[0].ID, fx.runs[1].ID, "missing-run"}))
		for _, id := range []string{fx.runs[0].ID, fx.runs[1].ID} {
			_, err := fx.b.Runs.GetRun(ctx, id)
			require.ErrorIs(t, err, domain.ErrNotFound)
		}
		require.NoError(t, fx.b.Runs.LeaderDeleteRuns(ctx, fx.lead.Fence(), nil))

		require.NoError(t, fx.lead.Resign(ctx))
		err := fx.b.Runs.LeaderDeleteRuns(ctx, fx.lead.Fence(), []string{fx.runs[2].ID})
		require.ErrorIs(t, err, domain.ErrNotLeader)
		fx.get(t, fx.runs[2].ID)
	})

	testAssigned(t, nb, f)
	testUpdateRunAt(t, nb, f)
	testPrune(t, nb, f)
}

package contract

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// TestFireStore checks the ports.FireStore contract: create-if-absent,
// fencing, listings and LastFires.
func TestFireStore(t *testing.T, nb NewBackend, f Features) {
	job := newJob("j1", "alpha", 0)
	job2 := newJob("j2", "alpha", 0)

	t.Run("CreateAndGet", func(t *testing.T) {
		b := nb(t)
		lead := campaign(t, b, "n1")
		ctx := timeoutCtx(t)
		sharded := job
		sharded.Shards = 3
		w1, w2 := fireWrite(sharded, t0), fireWrite(job2, t0)
		createFires(t, b.Fires, lead.Fence(), w1, w2)
		for _, w := range []ports.FireWrite{w1, w2} {
			got, err := b.Fires.GetFire(ctx, w.Fire.ID)
			require.NoError(t, err)
			requireSameFire(t, w.Fire, got)
			for _, want := range w.Runs {
				r, err := b.Runs.GetRun(ctx, want.ID)
				require.NoError(t, err)
				requireSameRun(t, want, r)
				require.Positive(t, r.Version, "the store sets Version")
			}
		}
	})

	t.Run("CreateManualFireWithoutLeader", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		sharded := job
		sharded.Shards = 2
		w := manualFireWrite(sharded, t0, "abc")
		require.NoError(t, b.Fires.CreateManualFire(ctx, w), "no leader, no fence needed")
		got, err := b.Fires.GetFire(ctx, w.Fire.ID)
		require.NoError(t, err)
		requireSameFire(t, w.Fire, got)
		for _, want := range w.Runs {
			r, err := b.Runs.GetRun(ctx, want.ID)
			require.NoError(t, err)
			requireSameRun(t, want, r)
		}
		require.ErrorIs(t, b.Fires.CreateManualFire(ctx, w), domain.ErrAlreadyExists)

		scheduled := fireWrite(job, t0.Add(time.Minute))
		require.ErrorIs(t, b.Fires.CreateManualFire(ctx, scheduled), domain.ErrInvalid, "a scheduled fire needs the fence")
		_, err = b.Fires.GetFire(ctx, scheduled.Fire.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)

		assigned := manualFireWrite(job, t0, "def")
		require.NoError(t, assigned.Runs[0].Assign("w1", t0))
		require.ErrorIs(t, b.Fires.CreateManualFire(ctx, assigned), domain.ErrInvalid, "manual runs start pending")
		_, err = b.Fires.GetFire(ctx, assigned.Fire.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("GetMissing", func(t *testing.T) {
		_, err := nb(t).Fires.GetFire(timeoutCtx(t), domain.FireID("j1", t0))
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("CreateIfAbsent", func(t *testing.T) {
		b := nb(t)
		lead := campaign(t, b, "n1")
		ctx := timeoutCtx(t)
		w := fireWrite(job, t0)
		createFires(t, b.Fires, lead.Fence(), w)
		runID := w.Runs[0].ID
		assigned := updateRun(t, b.Runs, runID, assign("w1"))

		// A second write of the same fire (a retry after an unknown
		// outcome, a new leader re-firing the slot) creates nothing and
		// leaves the fire and its runs as they are.
		again := fireWrite(job, t0)
		again.Fire.Status = domain.FireSkipped
		created, err := b.Fires.CreateFires(ctx, lead.Fence(), []ports.FireWrite{again})
		require.NoError(t, err)
		require.Equal(t, []bool{false}, created)
		got, err := b.Fires.GetFire(ctx, w.Fire.ID)
		require.NoError(t, err)
		requireSameFire(t, w.Fire, got)
		r, err := b.Runs.GetRun(ctx, runID)
		require.NoError(t, err)
		require.Equal(t, assigned, r, "the existing fire's runs are not touched")

		// A batch mixing an existing and a new fire creates the new one.
		fresh := fireWrite(job, t0.Add(5*time.Minute))
		created, err = b.Fires.CreateFires(ctx, lead.Fence(), []ports.FireWrite{fireWrite(job, t0), fresh})
		require.NoError(t, err)
		require.Equal(t, []bool{false, true}, created)
		got, err = b.Fires.GetFire(ctx, fresh.Fire.ID)
		require.NoError(t, err)
		requireSameFire(t, fresh.Fire, got)
		_, err = b.Runs.GetRun(ctx, fresh.Runs[0].ID)
		require.NoError(t, err)
		r, err = b.Runs.GetRun(ctx, runID)
		require.NoError(t, err)
		require.Equal(t, assigned, r)
	})

	t.Run("ZeroFenceRefused", func(t *testing.T) {
		b := nb(t)
		_ = campaign(t, b, "n1") // there is a leader, but the write does not name it
		requireNotLeaderNothingWritten(t, b, ports.Fence{}, fireWrite(job, t0))
		requireNotLeaderNothingWritten(t, b, ports.Fence{Key: "/made/up", Token: 1}, fireWrite(job, t0))
	})

	t.Run("FenceAfterResign", func(t *testing.T) {
		b := nb(t)
		lead := campaign(t, b, "n1")
		createFires(t, b.Fires, lead.Fence(), fireWrite(job, t0))
		require.NoError(t, lead.Resign(timeoutCtx(t)))
		requireNotLeaderNothingWritten(t, b, lead.Fence(), fireWrite(job, t0.Add(time.Minute)))
	})

	t.Run("FenceAfterKillLease", func(t *testing.T) {
		b := nb(t)
		lead := campaign(t, b, "n1")
		b.KillLease(t, lead)
		waitFor(t, lead.Done(), Timeout, "the killed leadership's Done")
		requireNotLeaderNothingWritten(t, b, lead.Fence(), fireWrite(job, t0))
	})

	t.Run("StaleFenceWhileNewLeader", func(t *testing.T) {
		b := nb(t)
		old := campaign(t, b, "n1")
		b.KillLease(t, old)
		waitFor(t, old.Done(), Timeout, "the killed leadership's Done")
		cur := campaign(t, b, "n2")
		require.Greater(t, cur.Fence().Token, old.Fence().Token)
		requireNotLeaderNothingWritten(t, b, old.Fence(), fireWrite(job, t0))
		createFires(t, b.Fires, cur.Fence(), fireWrite(job, t0))
	})

	t.Run("ListNewestFirstWithFilters", func(t *testing.T) {
		b := nb(t)
		lead := campaign(t, b, "n1")
		ctx := timeoutCtx(t)
		var all []ports.FireWrite
		for i := range 5 {
			all = append(all, fireWrite(job, t0.Add(time.Duration(i)*time.Minute)))
		}
		all = append(all,
			skipFireWrite(job, t0.Add(10*time.Minute)),
			fireWrite(job2, t0.Add(90*time.Second)),
			skipFireWrite(job2, t0.Add(3*time.Minute+30*time.Second)),
			manualFireWrite(job2, t0.Add(20*time.Minute), "x1"))
		createFires(t, b.Fires, lead.Fence(), all...)

		list := func(f ports.FireFilter) func(ports.PageRequest) (ports.Page[domain.Fire], error) {
			return func(p ports.PageRequest) (ports.Page[domain.Fire], error) {
				f.PageRequest = p
				return b.Fires.ListFires(ctx, f)
			}
		}
		check := func(f ports.FireFilter, want int) {
			t.Helper()
			for _, limit := range []int{1, 2, 3, 100} {
				got := walkPages(t, limit, list(f))
				require.Len(t, got, want, "filter %+v, limit %d", f, limit)
				seen := map[string]bool{}
				for i, x := range got {
					require.False(t, seen[x.ID], "fire %s listed twice", x.ID)
					seen[x.ID] = true
					require.True(t, f.JobID == "" || x.JobID == f.JobID)
					require.True(t, f.Status == "" || x.Status == f.Status)
					if i > 0 {
						require.False(t, x.Nominal.After(got[i-1].Nominal), "newest first: %s after %s", x.ID, got[i-1].ID)
					}
				}
			}
		}
		check(ports.FireFilter{}, 9)
		check(ports.FireFilter{JobID: "j1"}, 6)
		check(ports.FireFilter{JobID: "j2"}, 3)
		check(ports.FireFilter{Status: domain.FireSkipped}, 2)
		check(ports.FireFilter{JobID: "j2", Status: domain.FireSkipped}, 1)
		check(ports.FireFilter{JobID: "nope"}, 0)
		checkBadCursors(t, list(ports.FireFilter{}))
	})

	t.Run("LastFires", func(t *testing.T) {
		b := nb(t)
		lead := campaign(t, b, "n1")
		ctx := timeoutCtx(t)
		last, err := b.Fires.LastFires(ctx)
		require.NoError(t, err)
		require.Empty(t, last)

		job3, job4 := newJob("j3", "alpha", 0), newJob("j4", "alpha", 0)
		summary := skipFireWrite(job4, t0.Add(time.Minute))
		summary.Fire.Summary = &domain.SkipSummary{Count: 500, First: t0.Add(time.Minute), Last: t0.Add(9 * time.Hour)}
		createFires(t, b.Fires, lead.Fence(),
			fireWrite(job, t0.Add(time.Hour)),
			skipFireWrite(job, t0.Add(2*time.Hour)), // skipped fires count: they are scheduled
			fireWrite(job, t0),
			manualFireWrite(job, t0.Add(3*time.Hour), "m1"), // manual fires do not count
			manualFireWrite(job2, t0.Add(time.Hour), "m2"),  // a job with manual fires only
			fireWrite(job3, t0.Add(30*time.Minute)),
			fireWrite(job4, t0.Add(2*time.Hour)),
			summary) // a summary stands for nominal times up to its Last
		last, err = b.Fires.LastFires(ctx)
		require.NoError(t, err)
		want := map[string]time.Time{
			"j1": t0.Add(2 * time.Hour),
			"j3": t0.Add(30 * time.Minute),
			"j4": t0.Add(9 * time.Hour),
		}
		require.Len(t, last, len(want), "got %v", last)
		for id, w := range want {
			require.True(t, w.Equal(last[id]), "job %s: want %s, got %s", id, w, last[id])
		}
	})
}

// requireNotLeaderNothingWritten requires a write of w with fence to fail
// with domain.ErrNotLeader and leave no trace.
func requireNotLeaderNothingWritten(t *testing.T, b Backend, fence ports.Fence, w ports.FireWrite) {
	t.Helper()
	ctx := timeoutCtx(t)
	before, err := b.Fires.GetFire(ctx, w.Fire.ID)
	existed := err == nil
	_, err = b.Fires.CreateFires(ctx, fence, []ports.FireWrite{w})
	require.ErrorIs(t, err, domain.ErrNotLeader)
	after, err := b.Fires.GetFire(ctx, w.Fire.ID)
	if existed {
		require.NoError(t, err)
		require.Equal(t, before, after)
		return
	}
	require.ErrorIs(t, err, domain.ErrNotFound, "a refused fenced write writes nothing")
	for _, r := range w.Runs {
		_, err := b.Runs.GetRun(ctx, r.ID)
		require.ErrorIs(t, err, domain.ErrNotFound, "a refused fenced write writes no run")
	}
}

// requireSameFire compares the fields of a fire the caller sets.
func requireSameFire(t *testing.T, want, got domain.Fire) {
	t.Helper()
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, want.JobID, got.JobID)
	require.Equal(t, want.Group, got.Group)
	require.True(t, want.Nominal.Equal(got.Nominal), "nominal %s, want %s", got.Nominal, want.Nominal)
	require.Equal(t, want.Kind, got.Kind)
	require.Equal(t, want.Status, got.Status)
	require.Equal(t, want.Reason, got.Reason)
	require.Equal(t, want.RunIDs, got.RunIDs)
	require.Equal(t, want.TriggeredBy, got.TriggeredBy)
}

// requireSameRun compares a run with the one written, ignoring the
// store-set Version.
func requireSameRun(t *testing.T, want, got domain.Run) {
	t.Helper()
	want.Version = got.Version
	require.Equal(t, want, got)
}

package contract

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// pruneAll calls Prune until it removes nothing (it does a bounded amount
// of work per call) and returns the totals.
func pruneAll(t *testing.T, runs ports.RunStore, fence ports.Fence, r ports.Retention, now time.Time) (int, int) {
	t.Helper()
	var totalRuns, totalFires int
	for i := 0; ; i++ {
		require.Less(t, i, 1000, "Prune never finishes")
		nr, nf, err := runs.Prune(timeoutCtx(t), fence, r, now)
		require.NoError(t, err)
		if nr == 0 && nf == 0 {
			return totalRuns, totalFires
		}
		totalRuns += nr
		totalFires += nf
	}
}

// testPrune checks retention.
func testPrune(t *testing.T, nb NewBackend, _ Features) {
	t.Run("Prune", func(t *testing.T) {
		now := t0.Add(24 * time.Hour)
		a, b := newJob("ja", "alpha", 0), newJob("jb", "alpha", 0)
		// Job a: five finished fires, 5h to 1h old.
		fx := newRunFixture(t, nb, a, now.Add(-5*time.Hour), now.Add(-4*time.Hour), now.Add(-3*time.Hour),
			now.Add(-2*time.Hour), now.Add(-time.Hour))
		for _, r := range fx.runs {
			updateRun(t, fx.b.Runs, r.ID, finish("w1", domain.RunSucceeded))
		}
		ra := ids(fx.runs, runID)
		// Job b: one fire, 10h old, whose run is still active.
		rb := fx.add(t, b, now.Add(-10*time.Hour))[0].ID
		updateRun(t, fx.b.Runs, rb, assign("w1"))
		ctx := timeoutCtx(t)
		runsLeft := func(want ...string) {
			t.Helper()
			page, err := fx.b.Runs.ListRuns(ctx, ports.RunFilter{PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}})
			require.NoError(t, err)
			require.ElementsMatch(t, want, ids(page.Items, runID))
		}
		firesLeft := func(want ...time.Time) {
			t.Helper()
			page, err := fx.b.Fires.ListFires(ctx, ports.FireFilter{PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}})
			require.NoError(t, err)
			var got []string
			for _, f := range page.Items {
				got = append(got, f.ID)
			}
			var wantIDs []string
			for _, n := range want {
				job := "ja"
				if n.Equal(now.Add(-10 * time.Hour)) {
					job = "jb"
				}
				wantIDs = append(wantIDs, domain.FireID(job, n))
			}
			require.ElementsMatch(t, wantIDs, got)
		}

		// Nothing is due under a generous retention.
		nr, nf := pruneAll(t, fx.b.Runs, fx.lead.Fence(), ports.Retention{PerJob: 10, MaxAge: 48 * time.Hour}, now)
		require.Zero(t, nr)
		require.Zero(t, nf)

		// PerJob keeps the newest runs and fires of each job.
		nr, nf = pruneAll(t, fx.b.Runs, fx.lead.Fence(), ports.Retention{PerJob: 2}, now)
		require.Equal(t, 3, nr)
		require.Equal(t, 3, nf)
		runsLeft(ra[3], ra[4], rb)
		firesLeft(now.Add(-2*time.Hour), now.Add(-time.Hour), now.Add(-10*time.Hour))

		// MaxAge removes old finished runs and fires, but never active runs
		// nor a job's newest fire record.
		nr, nf = pruneAll(t, fx.b.Runs, fx.lead.Fence(), ports.Retention{PerJob: 100, MaxAge: 30 * time.Minute}, now)
		require.Equal(t, 2, nr)
		require.Equal(t, 1, nf)
		runsLeft(rb)
		firesLeft(now.Add(-time.Hour), now.Add(-10*time.Hour))

		last, err := fx.b.Fires.LastFires(ctx)
		require.NoError(t, err)
		require.True(t, now.Add(-time.Hour).Equal(last["ja"]), "LastFires survives pruning: %v", last)
		require.True(t, now.Add(-10*time.Hour).Equal(last["jb"]), "LastFires survives pruning: %v", last)

		// Fenced.
		require.NoError(t, fx.lead.Resign(ctx))
		_, _, err = fx.b.Runs.Prune(ctx, fx.lead.Fence(), ports.Retention{PerJob: 1, MaxAge: time.Nanosecond}, now)
		require.ErrorIs(t, err, domain.ErrNotLeader)
		runsLeft(rb)
	})
}

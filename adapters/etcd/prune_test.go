package etcd

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// finishedFires returns n fires of j a minute apart whose runs are
// created already finished (they go straight to the history).
func finishedFires(j domain.Job, n int) []ports.FireWrite {
	ws := manyFires(j, n)
	for i := range ws {
		r := &ws[i].Runs[0]
		r.State, r.WorkerID, r.FinishedAt = domain.RunSucceeded, "w1", r.ScheduledAt.Add(time.Second)
	}
	return ws
}

// countUnder counts the keys under prefix (relative to the store's).
func countUnder(t *testing.T, s *Store, prefix string) int {
	t.Helper()
	n := 0
	for k := range rawKVs(t, s) {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

func TestPruneIsBoundedAndResumes(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	const n = 700 // 699 runs + 699 fires due: more than one call removes
	_, err := s.CreateFires(ctx, fence, finishedFires(storeJob("j1", "etl"), n))
	require.NoError(t, err)
	now := st0.Add(n * time.Minute)

	runs, fires, err := s.Prune(ctx, fence, ports.Retention{PerJob: 1}, now)
	require.NoError(t, err)
	require.Equal(t, pruneMaxDeletes, runs+fires, "one call removes at most pruneMaxDeletes records")
	require.Equal(t, n-1, runs)
	require.Equal(t, pruneMaxDeletes-(n-1), fires)
	require.NotContains(t, rawKVs(t, s), "/prune/cursor", "stopped inside the first job: nothing to save")

	runs2, fires2, err := s.Prune(ctx, fence, ports.Retention{PerJob: 1}, now)
	require.NoError(t, err)
	require.Equal(t, 0, runs2)
	require.Equal(t, n-1-fires, fires2, "the next call finishes the job")

	// What is left: the newest run and fire, with their index entries.
	require.Equal(t, 1, countUnder(t, s, "/execute/history/snapshots/"))
	require.Equal(t, 1, countUnder(t, s, "/run/index/"))
	require.Equal(t, 1, countUnder(t, s, "/fire/instances/"))
	require.Equal(t, 1, countUnder(t, s, "/fire/index/"))
	last := manyFires(storeJob("j1", "etl"), n)[n-1]
	_, err = s.GetFire(ctx, last.Fire.ID)
	require.NoError(t, err)
	_, err = s.GetRun(ctx, last.Runs[0].ID)
	require.NoError(t, err)

	runs3, fires3, err := s.Prune(ctx, fence, ports.Retention{PerJob: 1}, now)
	require.NoError(t, err)
	require.Zero(t, runs3+fires3)
}

func TestPruneKeepsNewestScheduledFireBehindManualOnes(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	j := storeJob("j1", "etl")
	batch := finishedFires(j, 3)
	for i := range lastFiresPeek + 2 { // more manual fires than one read shows
		at := st0.Add(time.Hour + time.Duration(i)*time.Minute)
		batch = append(batch, ports.FireWrite{Fire: domain.Fire{ID: domain.ManualFireID(j.ID, at, fmt.Sprintf("n%d", i)),
			JobID: j.ID, Group: j.Group, Nominal: at, Kind: domain.FireManual, Status: domain.FireDispatched}})
	}
	_, err := s.CreateFires(ctx, fence, batch)
	require.NoError(t, err)
	_, fires, err := s.Prune(ctx, fence, ports.Retention{MaxAge: time.Minute}, st0.Add(24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 3+lastFiresPeek+2-2, fires, "all but the newest record and the newest scheduled one")
	last, err := s.LastFires(ctx)
	require.NoError(t, err)
	require.True(t, st0.Add(2*time.Minute).Equal(last["j1"]), "got %v", last)
}

func TestPruneWalksJobsAroundTheCursor(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	var batch []ports.FireWrite
	for _, id := range []string{"a", "a-b", "b", "c"} {
		batch = append(batch, finishedFires(storeJob(id, "etl"), 3)...)
	}
	_, err := s.CreateFires(ctx, fence, batch)
	require.NoError(t, err)
	// A cursor left by an earlier call in the middle of the job list.
	val, err := encode("prune cursor", envelope{Prune: &pruneState{After: "a"}})
	require.NoError(t, err)
	_, err = s.cli.Put(ctx, s.k.pruneCursor(), val)
	require.NoError(t, err)

	runs, fires, err := s.Prune(ctx, fence, ports.Retention{PerJob: 2}, st0)
	require.NoError(t, err)
	require.Equal(t, 4, runs, "every job, those before the cursor too")
	require.Equal(t, 4, fires)
	require.Equal(t, 8, countUnder(t, s, "/execute/history/snapshots/"))
	require.Equal(t, "", rawJSON(t, s, "/prune/cursor")["prune"].(map[string]any)["after"],
		"a full round resets the cursor")
}

package etcd

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// runKeys returns the run keys (not index entries) present, relative to
// the store's prefix.
func runKeys(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	for k := range rawKVs(t, s) {
		if _, ok := s.runKeyID(s.k.p + k); ok {
			out = append(out, k)
		}
	}
	return out
}

func TestRunMovesBetweenStateKeysOneTxnEach(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	w := storeFire(storeJob("j1", "etl"), st0)
	_, err := s.CreateFires(ctx, fence, []ports.FireWrite{w})
	require.NoError(t, err)
	id := w.Runs[0].ID

	step := func(fn func(*domain.Run) error, wantKey string, wantState domain.RunState, moved bool) {
		t.Helper()
		before, err := s.cli.Get(ctx, "probe")
		require.NoError(t, err)
		r, err := s.UpdateRun(ctx, id, fn)
		require.NoError(t, err)
		require.Equal(t, wantState, r.State)
		require.Equal(t, []string{wantKey}, runKeys(t, s), "the run lives under exactly one key")
		kvs := rawKVs(t, s)
		rev := kvs[wantKey].ModRevision
		require.Equal(t, before.Header.Revision+1, rev, "one transition is one Txn")
		if moved {
			require.Equal(t, rev, kvs["/run/index/"+id].ModRevision, "the index moves with the run")
		} else {
			require.Less(t, kvs["/run/index/"+id].ModRevision, rev, "a change in place leaves the index")
		}
		require.Equal(t, string(wantState), rawJSON(t, s, "/run/index/"+id)["run_ref"].(map[string]any)["state"])
		got, err := s.GetRun(ctx, id)
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	require.Equal(t, []string{"/schedule/snapshots/" + id}, runKeys(t, s))
	step(func(r *domain.Run) error { return r.Assign("w1", st0) }, "/execute/snapshots/etl/w1/"+id, domain.RunAssigned, true)
	step(func(r *domain.Run) error { return r.Start("w1", 1, st0) }, "/execute/snapshots/etl/w1/"+id, domain.RunRunning, true)
	step(func(r *domain.Run) error { return r.AppendOutput("w1", 1, "hello", 0) }, "/execute/snapshots/etl/w1/"+id, domain.RunRunning, false)
	step(func(r *domain.Run) error {
		return r.Finish(domain.Report{RunID: id, WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded}, 0, st0)
	}, "/execute/history/snapshots/j1/"+id, domain.RunSucceeded, true)
}

func TestLeaderUpdateRunTellsLostRaceFromLostLeadership(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	w := storeFire(storeJob("j1", "etl"), st0)
	_, err := s.CreateFires(ctx, fence, []ports.FireWrite{w})
	require.NoError(t, err)
	id := w.Runs[0].ID

	// A concurrent change between the read and the write: retried, wins.
	calls := 0
	r, err := s.LeaderUpdateRun(ctx, fence, id, func(r *domain.Run) error {
		calls++
		if calls == 1 {
			_, err := s.UpdateRun(ctx, id, func(r *domain.Run) error { r.Error = "meanwhile"; return nil })
			require.NoError(t, err)
		}
		return r.Assign("w1", st0)
	})
	require.NoError(t, err)
	require.Equal(t, 2, calls, "the lost race was retried")
	require.Equal(t, "meanwhile", r.Error)
	require.Equal(t, domain.RunAssigned, r.State)

	// Leadership gone: refused at once, not retried.
	_, err = s.cli.Delete(ctx, fence.Key)
	require.NoError(t, err)
	calls = 0
	_, err = s.LeaderUpdateRun(ctx, fence, id, func(r *domain.Run) error { calls++; return r.Lose("gone", st0) })
	require.ErrorIs(t, err, domain.ErrNotLeader)
	require.Equal(t, 1, calls)
	got, err := s.GetRun(ctx, id)
	require.NoError(t, err)
	require.Equal(t, r, got)
}

func TestUpdateRunConcurrentNoLostUpdate(t *testing.T) {
	s, ctx := newTestStore(t)
	w := storeFire(storeJob("j1", "etl"), st0)
	_, err := s.CreateFires(ctx, testFence(t, s), []ports.FireWrite{w})
	require.NoError(t, err)
	id := w.Runs[0].ID
	const writers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				var err error
				for range 100 { // the port allows ErrConflict after many lost races
					_, err = s.UpdateRun(ctx, id, func(r *domain.Run) error {
						n, _ := strconv.Atoi(r.Output)
						r.Output = strconv.Itoa(n + 1)
						return nil
					})
					if !errors.Is(err, domain.ErrConflict) {
						break
					}
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	r, err := s.GetRun(ctx, id)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(writers*each), r.Output)
	require.EqualValues(t, 1+writers*each, r.Version)
}

func TestWatchRunsFoldsMovesIntoOneEvent(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	j := storeJob("j1", "etl")
	w := storeFire(j, st0)
	_, err := s.CreateFires(ctx, fence, []ports.FireWrite{w})
	require.NoError(t, err)
	id := w.Runs[0].ID
	rev, err := s.ScanActiveRuns(ctx, func(domain.Run) error { return nil })
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := s.WatchRuns(wctx, rev)
	next := func() ports.RunEvent {
		t.Helper()
		select {
		case ev := <-ch:
			require.NoError(t, ev.Err)
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return ports.RunEvent{}
	}

	// Other keys in the watched range (groups, jobs, fires, indexes) make
	// no events.
	_, err = s.CreateGroup(ctx, domain.Group{Name: "etl"})
	require.NoError(t, err)
	_, err = s.CreateJob(ctx, j)
	require.NoError(t, err)

	assigned, err := s.UpdateRun(ctx, id, func(r *domain.Run) error { return r.Assign("w1", st0) })
	require.NoError(t, err)
	ev := next()
	require.Equal(t, ports.EventPut, ev.Type, "pending -> assigned is a move, reported once")
	require.Equal(t, assigned, ev.Run)

	lost, err := s.LeaderUpdateRun(ctx, fence, id, func(r *domain.Run) error { return r.Lose("gone", st0) })
	require.NoError(t, err)
	ev = next()
	require.Equal(t, ports.EventPut, ev.Type)
	require.Equal(t, lost, ev.Run)

	// A batch of fires: one event per run, all at the batch's revision.
	more := []ports.FireWrite{storeFire(j, st0.Add(time.Minute)), storeFire(j, st0.Add(2*time.Minute))}
	_, err = s.CreateFires(ctx, fence, more)
	require.NoError(t, err)
	e1, e2 := next(), next()
	require.Equal(t, e1.Revision, e2.Revision)
	require.Equal(t, []string{more[0].Runs[0].ID, more[1].Runs[0].ID}, []string{e1.Run.ID, e2.Run.ID})

	require.NoError(t, s.LeaderDeleteRuns(ctx, fence, []string{id}))
	ev = next()
	require.Equal(t, ports.EventDelete, ev.Type)
	require.Equal(t, lost, ev.Run, "a delete carries the last value")

	cancel()
	for range ch {
	}
}

func TestListRunsMergesHistoryAndActiveOfAJob(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	j := storeJob("j1", "etl")
	batch := manyFires(j, 12)
	batch = append(batch, manyFires(storeJob("j2", "etl"), 3)...) // another job, same times
	_, err := s.CreateFires(ctx, fence, batch)
	require.NoError(t, err)
	// Finish every other run of j1, assign every third: the job's runs
	// are spread over the three prefixes, interleaved in time.
	var want []string
	for i := 11; i >= 0; i-- {
		id := batch[i].Runs[0].ID
		want = append(want, id)
		switch {
		case i%2 == 0:
			_, err = s.UpdateRun(ctx, id, func(r *domain.Run) error {
				if err := r.Assign("w1", st0); err != nil {
					return err
				}
				return r.Cancel("user", st0)
			})
		case i%3 == 0:
			_, err = s.UpdateRun(ctx, id, func(r *domain.Run) error { return r.Assign("w2", st0) })
		}
		require.NoError(t, err)
	}
	for _, limit := range []int{1, 2, 5, 100} {
		f := ports.RunFilter{JobID: "j1", PageRequest: ports.PageRequest{Limit: limit}}
		var got []string
		for {
			page, err := s.ListRuns(ctx, f)
			require.NoError(t, err)
			for _, r := range page.Items {
				got = append(got, r.ID)
			}
			if page.NextCursor == "" {
				break
			}
			f.Cursor = page.NextCursor
		}
		require.Equal(t, want, got, "limit %d", limit)
	}
}

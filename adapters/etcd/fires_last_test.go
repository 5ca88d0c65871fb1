package etcd

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// marker returns job's last-fire marker, "" if there is none.
func marker(t *testing.T, s *Store, job string) string {
	t.Helper()
	resp, err := s.cli.Get(t.Context(), s.k.lastFire(job))
	require.NoError(t, err)
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// manualFire is a manual fire of j at at.
func manualFire(j domain.Job, at time.Time, nonce string) ports.FireWrite {
	return ports.FireWrite{Fire: domain.Fire{ID: domain.ManualFireID(j.ID, at, nonce), JobID: j.ID, Group: j.Group,
		Nominal: at, Kind: domain.FireManual, Status: domain.FireDispatched}}
}

// requireLastFires requires LastFires to return exactly want.
func requireLastFires(t *testing.T, s *Store, want map[string]time.Time) {
	t.Helper()
	got, err := s.LastFires(t.Context())
	require.NoError(t, err)
	require.Len(t, got, len(want), "got %v", got)
	for job, w := range want {
		require.True(t, w.Equal(got[job]), "job %s: want %s, got %s", job, w, got[job])
	}
}

func TestMarkerIsTheNewestScheduledFireOfTheBatch(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	a, b, c := storeJob("a", "g"), storeJob("b", "g"), storeJob("c", "g")
	summary := storeFire(b, st0.Add(time.Minute))
	summary.Fire.Status = domain.FireSkipped
	summary.Fire.Summary = &domain.SkipSummary{Count: 300, First: st0.Add(time.Minute), Last: st0.Add(5 * time.Hour)}
	summary.Fire.RunIDs, summary.Runs = nil, nil
	batch := []ports.FireWrite{
		storeFire(a, st0.Add(2*time.Hour)), storeFire(a, st0), storeFire(a, st0.Add(time.Hour)), // unordered
		manualFire(a, st0.Add(3*time.Hour), "m1"),   // manual fires do not count
		storeFire(b, st0.Add(2*time.Hour)), summary, // a summary stands for its Last
		manualFire(c, st0.Add(time.Hour), "m2"), // a job with manual fires only: no marker
	}
	created, err := s.CreateFires(ctx, fence, batch)
	require.NoError(t, err)
	require.NotContains(t, created, false)
	require.Equal(t, markerValue(st0.Add(2*time.Hour)), marker(t, s, "a"))
	require.Equal(t, markerValue(st0.Add(5*time.Hour)), marker(t, s, "b"))
	require.Empty(t, marker(t, s, "c"))
	kvs := rawKVs(t, s)
	require.Equal(t, kvs["/fire/instances/a/"+batch[0].Fire.ID].ModRevision, kvs["/fire/last/a"].ModRevision,
		"written by the Txn that creates the fire")
	requireLastFires(t, s, map[string]time.Time{"a": st0.Add(2 * time.Hour), "b": st0.Add(5 * time.Hour)})
}

func TestMarkerNeverMovesBackwards(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	j := storeJob("j", "g")
	create := func(ws ...ports.FireWrite) []bool {
		created, err := s.CreateFires(ctx, fence, ws)
		require.NoError(t, err)
		return created
	}
	create(storeFire(j, st0.Add(time.Hour)))
	require.Equal(t, markerValue(st0.Add(time.Hour)), marker(t, s, "j"))

	// An older fire created later leaves the marker where it is.
	require.Equal(t, []bool{true}, create(storeFire(j, st0)))
	require.Equal(t, markerValue(st0.Add(time.Hour)), marker(t, s, "j"))

	// A batch whose newest fire exists already and whose older one is
	// new: the marker stays.
	require.Equal(t, []bool{true, false}, create(storeFire(j, st0.Add(30*time.Minute)), storeFire(j, st0.Add(time.Hour))))
	require.Equal(t, markerValue(st0.Add(time.Hour)), marker(t, s, "j"))

	// Newer moves it forward, to the nanosecond (fire IDs have
	// milliseconds, nominal times nanoseconds).
	create(storeFire(j, st0.Add(time.Hour+time.Millisecond+time.Nanosecond)))
	require.Equal(t, "2026-11-26T17:00:00.001000001Z", marker(t, s, "j"))
	create(storeFire(j, st0.Add(24*time.Hour)))
	requireLastFires(t, s, map[string]time.Time{"j": st0.Add(24 * time.Hour)})
}

func TestMarkersOfManyJobsInSplitBatches(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	var batch []ports.FireWrite
	want := map[string]time.Time{}
	for i := range 300 {
		j := storeJob(fmt.Sprintf("j%03d", i), "g")
		j.Shards = 1 + i%3
		n := 1 + i%4
		for k := range n {
			batch = append(batch, storeFire(j, st0.Add(time.Duration((k*7)%n)*time.Minute)))
		}
		want[j.ID] = st0.Add(time.Duration(n-1) * time.Minute)
	}
	created, err := s.CreateFires(ctx, fence, batch)
	require.NoError(t, err)
	require.NotContains(t, created, false)
	require.Greater(t, len(revisions(t, s, "/fire/instances/")), 5, "several Txns")
	requireLastFires(t, s, want)
}

func TestCreateFiresRefusesTimesAMarkerCannotHold(t *testing.T) {
	s, ctx := newTestStore(t)
	w := storeFire(storeJob("j", "g"), st0)
	w.Fire.Summary = &domain.SkipSummary{Count: 2, First: st0, Last: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, err := s.CreateFires(ctx, testFence(t, s), []ports.FireWrite{w})
	require.ErrorIs(t, err, domain.ErrInvalid)
}

func TestDeleteJobDeletesItsMarkerAndPruneKeepsIt(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	_, err := s.CreateGroup(ctx, domain.Group{Name: "g"})
	require.NoError(t, err)
	for _, id := range []string{"keep", "gone"} {
		_, err := s.CreateJob(ctx, storeJob(id, "g"))
		require.NoError(t, err)
		_, err = s.CreateFires(ctx, fence, finishedFires(storeJob(id, "g"), 5))
		require.NoError(t, err)
	}
	_, err = s.DeleteJob(ctx, "gone")
	require.NoError(t, err)
	require.Empty(t, marker(t, s, "gone"))
	for {
		runs, fires, err := s.Prune(ctx, fence, ports.Retention{PerJob: 1, MaxAge: time.Nanosecond}, st0.Add(24*time.Hour))
		require.NoError(t, err)
		if runs+fires == 0 {
			break
		}
	}
	require.Equal(t, markerValue(st0.Add(4*time.Minute)), marker(t, s, "keep"))
	requireLastFires(t, s, map[string]time.Time{"keep": st0.Add(4 * time.Minute)})
}

// forgetMarkers deletes the markers and their state: the store as a Pink
// from before the markers left it.
func forgetMarkers(t *testing.T, s *Store) {
	t.Helper()
	_, err := s.cli.Delete(t.Context(), s.k.lastFires(), clientv3.WithPrefix())
	require.NoError(t, err)
	_, err = s.cli.Delete(t.Context(), s.k.lastFiresState())
	require.NoError(t, err)
}

func TestLastFiresMigratesALedgerWithoutMarkers(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	_, err := s.CreateGroup(ctx, domain.Group{Name: "g"})
	require.NoError(t, err)
	// Fresh store: nothing to migrate, nothing recorded.
	requireLastFires(t, s, map[string]time.Time{})
	require.NotContains(t, rawKVs(t, s), "/fire/last-state")

	var batch []ports.FireWrite
	want := map[string]time.Time{}
	for i := range 150 { // more than one migration step
		j := storeJob(fmt.Sprintf("j%03d", i), "g")
		_, err := s.CreateJob(ctx, j)
		require.NoError(t, err)
		batch = append(batch, finishedFires(j, 1+i%3)...)
		want[j.ID] = st0.Add(time.Duration(i%3) * time.Minute)
	}
	// A scheduled fire behind more manual ones than lastFiresPeek.
	jm := storeJob("manual-after", "g")
	_, err = s.CreateJob(ctx, jm)
	require.NoError(t, err)
	batch = append(batch, storeFire(jm, st0))
	for i := range 2 * lastFiresPeek {
		batch = append(batch, manualFire(jm, st0.Add(time.Duration(i+1)*time.Minute), fmt.Sprintf("n%d", i)))
	}
	want[jm.ID] = st0
	// A skip summary behind the newest fire, standing for a later time.
	js := storeJob("summary", "g")
	_, err = s.CreateJob(ctx, js)
	require.NoError(t, err)
	sum := storeFire(js, st0)
	sum.Fire.Status, sum.Fire.RunIDs, sum.Runs = domain.FireSkipped, nil, nil
	sum.Fire.Summary = &domain.SkipSummary{Count: 9, First: st0, Last: st0.Add(time.Hour)}
	batch = append(batch, sum, storeFire(js, st0.Add(time.Minute)))
	want[js.ID] = st0.Add(time.Hour)
	// Manual fires only, and a job that no longer exists: no marker.
	batch = append(batch, manualFire(storeJob("only-manual", "g"), st0, "x"), storeFire(storeJob("deleted", "g"), st0))
	_, err = s.CreateJob(ctx, storeJob("only-manual", "g"))
	require.NoError(t, err)
	_, err = s.CreateFires(ctx, fence, batch)
	require.NoError(t, err)

	forgetMarkers(t, s)
	requireLastFires(t, s, want)
	require.Equal(t, lastFiresMigrated, string(rawKVs(t, s)["/fire/last-state"].Value))
	require.Equal(t, markerValue(st0.Add(time.Hour)), marker(t, s, "summary"))
	require.Empty(t, marker(t, s, "deleted"))
	require.Empty(t, marker(t, s, "only-manual"))

	// Done once: a marker deleted behind the store's back stays deleted.
	_, err = s.cli.Delete(ctx, s.k.lastFire("j000"))
	require.NoError(t, err)
	delete(want, "j000")
	requireLastFires(t, s, want)

	// A migration cut short (state "migrating", some markers written) is
	// done again.
	_, err = s.cli.Put(ctx, s.k.lastFiresState(), lastFiresMigrating)
	require.NoError(t, err)
	want["j000"] = st0
	requireLastFires(t, s, want)
	require.Equal(t, markerValue(st0), marker(t, s, "j000"))
	require.Equal(t, lastFiresMigrated, string(rawKVs(t, s)["/fire/last-state"].Value))
}

// TestMigrationKeepsANewerMarker: a marker written by a leader while the
// migration runs (or left by an earlier one) is never moved back.
func TestMigrationKeepsANewerMarker(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	_, err := s.CreateGroup(ctx, domain.Group{Name: "g"})
	require.NoError(t, err)
	j := storeJob("j", "g")
	_, err = s.CreateJob(ctx, j)
	require.NoError(t, err)
	_, err = s.CreateFires(ctx, fence, []ports.FireWrite{storeFire(j, st0)})
	require.NoError(t, err)
	forgetMarkers(t, s)
	_, err = s.cli.Put(ctx, s.k.lastFiresState(), lastFiresMigrating)
	require.NoError(t, err)
	_, err = s.cli.Put(ctx, s.k.lastFire("j"), markerValue(st0.Add(time.Hour)))
	require.NoError(t, err)
	requireLastFires(t, s, map[string]time.Time{"j": st0.Add(time.Hour)})
	require.Equal(t, markerValue(st0.Add(time.Hour)), marker(t, s, "j"))
}

// BenchmarkLastFires reads the last fires of n jobs with one fire each,
// as a leader does when it takes over.
func BenchmarkLastFires(b *testing.B) {
	for _, n := range []int{1_000, 3_000, 20_000} {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			s, fence := benchStore(b)
			ctx := b.Context()
			var batch []ports.FireWrite
			for i := range n {
				batch = append(batch, benchFireWrite(i, st0))
				if len(batch) == 1000 || i == n-1 {
					if _, err := s.CreateFires(ctx, fence, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				last, err := s.LastFires(ctx)
				if err != nil || len(last) != n {
					b.Fatal(len(last), err)
				}
			}
		})
	}
}

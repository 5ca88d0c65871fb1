package etcd

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
)

// putJobsRaw writes the jobs straight to their keys, 100 a Txn (no group
// check, no index: ScanJobs reads the job keys only). It returns the
// job IDs in key order.
func putJobsRaw(t *testing.T, ctx context.Context, s *Store, jobs []domain.Job) []string {
	t.Helper()
	var ops []clientv3.Op
	keys := make([]string, 0, len(jobs))
	byKey := map[string]string{}
	for i := range jobs {
		j := jobs[i]
		j.Version = 1
		val, err := encodeJob(&j)
		require.NoError(t, err)
		key := s.k.job(j.Group, j.ID)
		keys, byKey[key] = append(keys, key), j.ID
		ops = append(ops, clientv3.OpPut(key, val))
		if len(ops) == 100 || i == len(jobs)-1 {
			_, err := s.cli.Txn(ctx).Then(ops...).Commit()
			require.NoError(t, err)
			ops = ops[:0]
		}
	}
	slices.Sort(keys)
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = byKey[k]
	}
	return ids
}

// requireNoScanGoroutines fails if a goroutine started by scanDecoded is
// still there. scanDecoded waits for its goroutines, so any left are at
// most returning: the check yields to them a bounded number of times.
func requireNoScanGoroutines(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 10_000 {
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "etcd.scanDecoded") {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("goroutines of scanDecoded left:\n%s", buf[:runtime.Stack(buf, true)])
}

// manyJobs returns n jobs in groups "a" and "a-b" ("a-b/" sorts before
// "a/") with IDs of varied lengths.
func manyJobs(n int) []domain.Job {
	jobs := make([]domain.Job, n)
	for i := range jobs {
		g := "a"
		if i%3 == 0 {
			g = "a-b"
		}
		jobs[i] = storeJob(fmt.Sprintf("j%d%s", i, "xyz"[:i%4]), g)
	}
	return jobs
}

func TestScanJobsDecodesInParallelInKeyOrder(t *testing.T) {
	defer requireNoScanGoroutines(t)
	s, ctx := newTestStore(t)
	jobs := manyJobs(2*scanPage + 517)
	want := putJobsRaw(t, ctx, s, jobs)
	var got []string
	rev, err := s.ScanJobs(ctx, func(j domain.Job) error {
		require.Equal(t, "echo", j.Handler, "decoded")
		require.EqualValues(t, 1, j.Version)
		got = append(got, j.ID)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, want, got)
	resp, err := s.cli.Get(ctx, "probe")
	require.NoError(t, err)
	require.Equal(t, resp.Header.Revision, rev, "the revision of the scan")

	// An empty store: no call, the current revision.
	empty, ctx := newTestStore(t)
	rev, err = empty.ScanJobs(ctx, func(domain.Job) error { panic("no job") })
	require.NoError(t, err)
	require.Positive(t, rev)
}

func TestScanJobsStopsAtFnsError(t *testing.T) {
	defer requireNoScanGoroutines(t)
	s, ctx := newTestStore(t)
	want := putJobsRaw(t, ctx, s, manyJobs(4*scanPage))
	boom := errors.New("boom")
	var got []string
	_, err := s.ScanJobs(ctx, func(j domain.Job) error {
		if len(got) == scanPage+10 {
			return boom
		}
		got = append(got, j.ID)
		return nil
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, want[:scanPage+10], got)
}

func TestScanJobsStopsAtTheFirstUndecodableJob(t *testing.T) {
	defer requireNoScanGoroutines(t)
	s, ctx := newTestStore(t)
	want := putJobsRaw(t, ctx, s, manyJobs(3*scanPage))
	// Right after a job of the second page (in group "a": "a-b/" sorts
	// first and holds a third of the jobs).
	resp, err := s.cli.Get(ctx, s.k.job("a", want[scanPage+100]), clientv3.WithCountOnly())
	require.NoError(t, err)
	require.EqualValues(t, 1, resp.Count)
	bad := s.k.job("a", want[scanPage+100]) + "-bad"
	_, err = s.cli.Put(ctx, bad, `{"version":1,"job":`)
	require.NoError(t, err)
	var got []string
	_, err = s.ScanJobs(ctx, func(j domain.Job) error {
		got = append(got, j.ID)
		return nil
	})
	require.ErrorContains(t, err, bad)
	require.Equal(t, want[:scanPage+101], got, "every job before the bad one, in order, and none after")
}

func TestScanJobsCancelled(t *testing.T) {
	defer requireNoScanGoroutines(t)
	s, ctx := newTestStore(t)
	// More pages than the reader reads ahead of fn (two), so the scan
	// cannot be over when fn cancels at the first job.
	putJobsRaw(t, ctx, s, manyJobs(5*scanPage))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	calls := 0
	_, err := s.ScanJobs(cctx, func(domain.Job) error {
		calls++
		cancel()
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, calls, 5*scanPage)
}

// BenchmarkScanJobs reads n stored jobs with ScanJobs, as a leader does
// when it takes over (fsync off here; see cmd/pink-bench for the real
// thing).
func BenchmarkScanJobs(b *testing.B) {
	for _, n := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			s, _ := benchStore(b)
			ctx := b.Context()
			var ops []clientv3.Op
			for i := range n {
				j := storeJob(fmt.Sprintf("job-%07d", i), "bench")
				j.Version = 1
				val, err := encodeJob(&j)
				if err != nil {
					b.Fatal(err)
				}
				ops = append(ops, clientv3.OpPut(s.k.job(j.Group, j.ID), val))
				if len(ops) == 100 || i == n-1 {
					if _, err := s.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
						b.Fatal(err)
					}
					ops = ops[:0]
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				got := 0
				if _, err := s.ScanJobs(ctx, func(domain.Job) error { got++; return nil }); err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("scanned %d jobs, stored %d", got, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

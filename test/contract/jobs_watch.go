package contract

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// testJobWatch checks ScanJobs and WatchJobs together.
func testJobWatch(t *testing.T, withGroups func(*testing.T, ...string) Backend, f Features) {
	t.Run("ScanThenWatchContinues", func(t *testing.T) {
		s := withGroups(t, "alpha").Jobs
		ctx := timeoutCtx(t)
		for _, id := range []string{"j1", "j2", "j3"} {
			_, err := s.CreateJob(ctx, newJob(id, "alpha", 0))
			require.NoError(t, err)
		}
		scanned := map[string]domain.Job{}
		rev, err := s.ScanJobs(ctx, func(j domain.Job) error {
			scanned[j.ID] = j
			return nil
		})
		require.NoError(t, err)
		require.Len(t, scanned, 3)
		require.Positive(t, rev)

		// A change between the scan and the watch must not be missed.
		updated, err := s.UpdateJob(ctx, "j1", func(j *domain.Job) error { j.Description = "changed"; return nil })
		require.NoError(t, err)

		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch := s.WatchJobs(wctx, rev)
		created, err := s.CreateJob(ctx, newJob("j4", "alpha", 0))
		require.NoError(t, err)
		_, err = s.DeleteJob(ctx, "j2")
		require.NoError(t, err)

		ev := recv(t, ch)
		require.NoError(t, ev.Err)
		require.Equal(t, ports.EventPut, ev.Type)
		require.Equal(t, updated, ev.Job)
		require.Greater(t, ev.Revision, rev)
		last := ev.Revision

		ev = recv(t, ch)
		require.NoError(t, ev.Err)
		require.Equal(t, ports.EventPut, ev.Type)
		require.Equal(t, created, ev.Job)
		require.Greater(t, ev.Revision, last)
		last = ev.Revision

		ev = recv(t, ch)
		require.NoError(t, ev.Err)
		require.Equal(t, ports.EventDelete, ev.Type)
		require.Equal(t, scanned["j2"], ev.Job, "a delete event carries the last value")
		require.Greater(t, ev.Revision, last)
		last = ev.Revision

		// Many changes arrive in order, without gaps or repeats.
		const n = 50
		for i := range n {
			_, err := s.UpdateJob(ctx, "j3", func(j *domain.Job) error { j.Description = strconv.Itoa(i); return nil })
			require.NoError(t, err)
		}
		for i := range n {
			ev := recv(t, ch)
			require.NoError(t, ev.Err)
			require.Equal(t, ports.EventPut, ev.Type)
			require.Equal(t, "j3", ev.Job.ID)
			require.Equal(t, strconv.Itoa(i), ev.Job.Description)
			require.Greater(t, ev.Revision, last)
			last = ev.Revision
		}

		cancel()
		waitClosed(t, ch)
	})

	t.Run("WatchFromScanSeesNothingOld", func(t *testing.T) {
		s := withGroups(t, "alpha").Jobs
		ctx := timeoutCtx(t)
		_, err := s.CreateJob(ctx, newJob("j1", "alpha", 0))
		require.NoError(t, err)
		rev, err := s.ScanJobs(ctx, func(domain.Job) error { return nil })
		require.NoError(t, err)
		ch := s.WatchJobs(ctx, rev)
		_, err = s.CreateJob(ctx, newJob("j2", "alpha", 0))
		require.NoError(t, err)
		ev := recv(t, ch)
		require.NoError(t, ev.Err)
		require.Equal(t, "j2", ev.Job.ID, "the first event is the first change after the scan")
	})

	t.Run("WatchClosesOnCancel", func(t *testing.T) {
		s := withGroups(t, "alpha").Jobs
		ctx, cancel := context.WithCancel(timeoutCtx(t))
		rev, err := s.ScanJobs(ctx, func(domain.Job) error { return nil })
		require.NoError(t, err)
		ch := s.WatchJobs(ctx, rev)
		cancel()
		waitClosed(t, ch) // an adapter may or may not send a last event with ctx's error
	})

	t.Run("WatchCompacted", func(t *testing.T) {
		b := withGroups(t, "alpha")
		if f.NoCompaction || b.Compact == nil {
			t.Skip("the adapter does not compact")
		}
		s := b.Jobs
		ctx := timeoutCtx(t)
		rev, err := s.ScanJobs(ctx, func(domain.Job) error { return nil })
		require.NoError(t, err)
		for _, id := range []string{"j1", "j2", "j3"} {
			_, err := s.CreateJob(ctx, newJob(id, "alpha", 0))
			require.NoError(t, err)
		}
		b.Compact(t)
		ch := s.WatchJobs(ctx, rev)
		ev := recv(t, ch)
		require.ErrorIs(t, ev.Err, domain.ErrCompacted)
		require.Empty(t, waitClosed(t, ch), "the error event is the last one")

		// Re-reading and watching again works.
		rev, err = s.ScanJobs(ctx, func(domain.Job) error { return nil })
		require.NoError(t, err)
		ch = s.WatchJobs(ctx, rev)
		_, err = s.CreateJob(ctx, newJob("j4", "alpha", 0))
		require.NoError(t, err)
		ev = recv(t, ch)
		require.NoError(t, ev.Err)
		require.Equal(t, "j4", ev.Job.ID)
	})
}

package memory_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func newJob(id string) domain.Job {
	j := domain.Job{ID: id, Group: "alpha", Name: id, Schedule: "@every 1m", Handler: "echo", CreatedAt: t0}
	j.Normalize()
	return j
}

// withGroup returns a backend holding group alpha.
func withGroup(t *testing.T, opts ...memory.Option) *memory.Backend {
	b := memory.New(clock.System{}, opts...)
	t.Cleanup(b.Close)
	_, err := b.CreateGroup(t.Context(), domain.Group{Name: "alpha"})
	require.NoError(t, err)
	return b
}

func TestSlowWatcherDoesNotBlockWritersAndGetsCompacted(t *testing.T) {
	b := withGroup(t, memory.WithHistory(10))
	ctx := t.Context()
	_, err := b.CreateJob(ctx, newJob("j1"))
	require.NoError(t, err)
	rev := b.Revision()
	ch := b.WatchJobs(ctx, rev) // never read while the writes happen
	for i := range 100 {
		_, err := b.UpdateJob(ctx, "j1", func(j *domain.Job) error { j.Description = strings.Repeat("x", i); return nil })
		require.NoError(t, err)
	}
	var last ports.JobEvent
	for ev := range ch {
		last = ev
		if ev.Err != nil {
			break
		}
	}
	require.ErrorIs(t, last.Err, domain.ErrCompacted, "a watcher that fell behind the history is told so")
	_, open := <-ch
	require.False(t, open, "the error event is the last")
}

func TestHistoryBoundCompactsOldRevisions(t *testing.T) {
	b := withGroup(t, memory.WithHistory(5))
	ctx := t.Context()
	start := b.Revision()
	for i := range 10 {
		_, err := b.CreateJob(ctx, newJob("j"+strings.Repeat("x", i)))
		require.NoError(t, err)
	}
	ev := <-b.WatchJobs(ctx, start)
	require.ErrorIs(t, ev.Err, domain.ErrCompacted)
	ev = <-b.WatchJobs(ctx, b.Revision()-3)
	require.NoError(t, ev.Err, "recent history is kept")
	require.Equal(t, b.Revision()-2, ev.Revision)
}

func TestWatchFromFutureRevision(t *testing.T) {
	b := withGroup(t)
	ctx := t.Context()
	ch := b.WatchJobs(ctx, b.Revision()+2)
	for _, id := range []string{"j1", "j2", "j3"} {
		_, err := b.CreateJob(ctx, newJob(id))
		require.NoError(t, err)
	}
	ev := <-ch
	require.NoError(t, ev.Err)
	require.Equal(t, "j3", ev.Job.ID, "events up to the watch's revision are not delivered")
}

func TestCloseEndsWatches(t *testing.T) {
	b := memory.New(clock.System{})
	ch := b.WatchRuns(t.Context(), 0)
	b.Close()
	_, open := <-ch
	require.False(t, open)
	_, open = <-b.WatchJobs(t.Context(), 0)
	require.False(t, open, "a watch on a closed backend closes at once")
}

func TestCursorOfAnotherListingIsInvalid(t *testing.T) {
	b := withGroup(t)
	ctx := t.Context()
	for _, n := range []string{"beta", "gamma"} {
		_, err := b.CreateGroup(ctx, domain.Group{Name: n})
		require.NoError(t, err)
	}
	page, err := b.ListGroups(ctx, ports.PageRequest{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, page.NextCursor)
	_, err = b.ListJobs(ctx, ports.JobFilter{PageRequest: ports.PageRequest{Cursor: page.NextCursor}})
	require.ErrorIs(t, err, domain.ErrInvalid)
	require.Equal(t, "cursor", domain.FieldOf(err))
}

func TestOversizedRecordIsInvalid(t *testing.T) {
	b := withGroup(t, memory.WithMaxValueSize(1<<10))
	ctx := t.Context()
	j := newJob("j1")
	j.Params = json.RawMessage(`"` + strings.Repeat("x", 2<<10) + `"`)
	_, err := b.CreateJob(ctx, j)
	require.ErrorIs(t, err, domain.ErrInvalid)
	_, err = b.GetJob(ctx, "j1")
	require.ErrorIs(t, err, domain.ErrNotFound)

	_, err = b.CreateJob(ctx, newJob("j1"))
	require.NoError(t, err)
	_, err = b.UpdateJob(ctx, "j1", func(j *domain.Job) error { j.Description = strings.Repeat("x", 2<<10); return nil })
	require.ErrorIs(t, err, domain.ErrInvalid)
}

func TestJobGroupCheckedAtomically(t *testing.T) {
	// Creating jobs while their group is deleted never leaves a job
	// without a group: either the delete sees the job, or the create sees
	// no group.
	for range 20 {
		b := withGroup(t)
		ctx := t.Context()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 20 {
				_, _ = b.CreateJob(ctx, newJob("j"+strings.Repeat("x", i)))
			}
		}()
		delErr := b.DeleteGroup(ctx, "alpha")
		<-done
		page, err := b.ListJobs(ctx, ports.JobFilter{})
		require.NoError(t, err)
		_, getErr := b.GetGroup(ctx, "alpha")
		if delErr == nil {
			require.ErrorIs(t, getErr, domain.ErrNotFound)
			require.Empty(t, page.Items, "no job was created in the deleted group")
		} else {
			require.ErrorIs(t, delErr, domain.ErrConflict)
			require.NoError(t, getErr)
			require.NotEmpty(t, page.Items)
		}
	}
}

package contract

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// TestJobStore checks the ports.JobStore contract, watches included.
func TestJobStore(t *testing.T, nb NewBackend, f Features) {
	// withGroups returns a fresh backend holding the named groups.
	withGroups := func(t *testing.T, groups ...string) Backend {
		b := nb(t)
		for _, g := range groups {
			_, err := b.Groups.CreateGroup(timeoutCtx(t), newGroup(g))
			require.NoError(t, err)
		}
		return b
	}

	t.Run("CreateAndGet", func(t *testing.T) {
		s := withGroups(t, "alpha").Jobs
		ctx := timeoutCtx(t)
		want := newJob("j1", "alpha", 0)
		got, err := s.CreateJob(ctx, want)
		require.NoError(t, err)
		require.Positive(t, got.Version, "CreateJob sets Version")
		want.Version = got.Version
		require.Equal(t, want, got)
		want.Labels["team"] = "changed by the caller"
		want.Labels = map[string]string{"team": "core"} // restore the expectation
		read, err := s.GetJob(ctx, "j1")
		require.NoError(t, err)
		require.Equal(t, want, read)

		read.Labels["team"] = "changed by the caller"
		again, err := s.GetJob(ctx, "j1")
		require.NoError(t, err)
		require.Equal(t, "core", again.Labels["team"], "returned values are copies")
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		s := withGroups(t, "alpha", "beta").Jobs
		ctx := timeoutCtx(t)
		first, err := s.CreateJob(ctx, newJob("j1", "alpha", 0))
		require.NoError(t, err)
		_, err = s.CreateJob(ctx, newJob("j1", "alpha", 0))
		require.ErrorIs(t, err, domain.ErrAlreadyExists)
		_, err = s.CreateJob(ctx, newJob("j1", "beta", 0))
		require.ErrorIs(t, err, domain.ErrAlreadyExists, "job IDs are unique across groups")
		read, err := s.GetJob(ctx, "j1")
		require.NoError(t, err)
		require.Equal(t, first, read)
	})

	t.Run("CreateWithMissingGroup", func(t *testing.T) {
		s := withGroups(t, "alpha").Jobs
		ctx := timeoutCtx(t)
		_, err := s.CreateJob(ctx, newJob("j1", "nope", 0))
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.ErrorIs(t, err, domain.ErrInvalid, "a *domain.ValidationError")
		require.Equal(t, "group", domain.FieldOf(err))
		_, err = s.GetJob(ctx, "j1")
		require.ErrorIs(t, err, domain.ErrNotFound, "nothing was written")
	})

	t.Run("GetMissing", func(t *testing.T) {
		_, err := nb(t).Jobs.GetJob(timeoutCtx(t), "nope")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("ListOrderFiltersAndPages", func(t *testing.T) {
		s := withGroups(t, "alpha", "beta").Jobs
		ctx := timeoutCtx(t)
		// Created out of order; listed by group, then ID.
		specs := []struct {
			id, group string
			paused    bool
		}{{"j5", "beta", false}, {"j2", "alpha", true}, {"j9", "alpha", false}, {"j1", "beta", true}, {"j3", "alpha", false}}
		for _, sp := range specs {
			j := newJob(sp.id, sp.group, 0)
			if sp.paused {
				j.State = domain.JobPaused
			}
			_, err := s.CreateJob(ctx, j)
			require.NoError(t, err)
		}
		list := func(f ports.JobFilter) func(ports.PageRequest) (ports.Page[domain.Job], error) {
			return func(p ports.PageRequest) (ports.Page[domain.Job], error) {
				f.PageRequest = p
				return s.ListJobs(ctx, f)
			}
		}
		for _, limit := range []int{1, 2, 5, 100} {
			require.Equal(t, []string{"j2", "j3", "j9", "j1", "j5"},
				ids(walkPages(t, limit, list(ports.JobFilter{})), jobID), "limit %d", limit)
			require.Equal(t, []string{"j2", "j3", "j9"},
				ids(walkPages(t, limit, list(ports.JobFilter{Group: "alpha"})), jobID), "group filter, limit %d", limit)
			require.Equal(t, []string{"j2", "j1"},
				ids(walkPages(t, limit, list(ports.JobFilter{State: domain.JobPaused})), jobID), "state filter, limit %d", limit)
			require.Equal(t, []string{"j3", "j9"},
				ids(walkPages(t, limit, list(ports.JobFilter{Group: "alpha", State: domain.JobActive})), jobID), "both filters, limit %d", limit)
		}
		page, err := s.ListJobs(ctx, ports.JobFilter{Group: "nope"})
		require.NoError(t, err)
		require.Empty(t, page.Items)
		require.Empty(t, page.NextCursor)
		checkBadCursors(t, list(ports.JobFilter{}))
	})

	t.Run("Update", func(t *testing.T) {
		s := withGroups(t, "alpha").Jobs
		ctx := timeoutCtx(t)
		created, err := s.CreateJob(ctx, newJob("j1", "alpha", 0))
		require.NoError(t, err)
		got, err := s.UpdateJob(ctx, "j1", func(j *domain.Job) error {
			require.Equal(t, created, *j, "fn gets the stored value")
			j.State = domain.JobPaused
			j.Labels["team"] = "ops"
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, domain.JobPaused, got.State)
		require.Equal(t, "ops", got.Labels["team"])
		require.Greater(t, got.Version, created.Version)
		read, err := s.GetJob(ctx, "j1")
		require.NoError(t, err)
		require.Equal(t, got, read)
	})

	t.Run("UpdateCallbackErrorChangesNothing", func(t *testing.T) {
		s := withGroups(t, "alpha").Jobs
		ctx := timeoutCtx(t)
		created, err := s.CreateJob(ctx, newJob("j1", "alpha", 0))
		require.NoError(t, err)
		_, err = s.UpdateJob(ctx, "j1", func(j *domain.Job) error {
			j.Name = "must not be stored"
			return fmt.Errorf("wrapped: %w", errSentinel)
		})
		require.ErrorIs(t, err, errSentinel)
		read, err := s.GetJob(ctx, "j1")
		require.NoError(t, err)
		require.Equal(t, created, read)
	})

	t.Run("UpdateIDOrGroupRefused", func(t *testing.T) {
		s := withGroups(t, "alpha", "beta").Jobs
		ctx := timeoutCtx(t)
		created, err := s.CreateJob(ctx, newJob("j1", "alpha", 0))
		require.NoError(t, err)
		for name, change := range map[string]func(*domain.Job){
			"id":    func(j *domain.Job) { j.ID = "j2" },
			"group": func(j *domain.Job) { j.Group = "beta" },
		} {
			_, err = s.UpdateJob(ctx, "j1", func(j *domain.Job) error { change(j); return nil })
			require.ErrorIs(t, err, domain.ErrInvalid, "changing the %s", name)
			read, err := s.GetJob(ctx, "j1")
			require.NoError(t, err)
			require.Equal(t, created, read, "changing the %s changes nothing", name)
		}
		_, err = s.GetJob(ctx, "j2")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("UpdateMissing", func(t *testing.T) {
		called := false
		_, err := nb(t).Jobs.UpdateJob(timeoutCtx(t), "nope", func(*domain.Job) error {
			called = true
			return nil
		})
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.False(t, called, "fn is not called for a missing job")
	})

	t.Run("UpdateConcurrentNoLostUpdate", func(t *testing.T) {
		s := withGroups(t, "alpha").Jobs
		ctx := timeoutCtx(t)
		j := newJob("j1", "alpha", 0)
		j.Description = "0"
		_, err := s.CreateJob(ctx, j)
		require.NoError(t, err)

		const workers = 20
		errs := make(chan error, workers)
		var start, wg sync.WaitGroup
		start.Add(1)
		for range workers {
			wg.Go(func() {
				start.Wait()
				errs <- incrementDescription(ctx, s)
			})
		}
		start.Done()
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		read, err := s.GetJob(ctx, "j1")
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(workers), read.Description, "every increment landed exactly once")
	})

	t.Run("Delete", func(t *testing.T) {
		s := withGroups(t, "alpha").Jobs
		ctx := timeoutCtx(t)
		created, err := s.CreateJob(ctx, newJob("j1", "alpha", 0))
		require.NoError(t, err)
		last, err := s.DeleteJob(ctx, "j1")
		require.NoError(t, err)
		require.Equal(t, created, last, "DeleteJob returns the last value")
		_, err = s.GetJob(ctx, "j1")
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = s.DeleteJob(ctx, "j1")
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = s.CreateJob(ctx, newJob("j1", "alpha", 0))
		require.NoError(t, err, "a deleted job's ID can be reused")
	})

	t.Run("ScanStopsAtCallbackError", func(t *testing.T) {
		s := withGroups(t, "alpha").Jobs
		ctx := timeoutCtx(t)
		for i := range 3 {
			_, err := s.CreateJob(ctx, newJob(fmt.Sprintf("j%d", i), "alpha", 0))
			require.NoError(t, err)
		}
		calls := 0
		_, err := s.ScanJobs(ctx, func(domain.Job) error {
			calls++
			return errSentinel
		})
		require.ErrorIs(t, err, errSentinel)
		require.Equal(t, 1, calls, "the scan stops at the first error")
	})

	testJobWatch(t, withGroups, f)
}

// incrementDescription adds one to the number in job j1's description,
// retrying when the store reports a lost race.
func incrementDescription(ctx context.Context, s ports.JobStore) error {
	for range 1000 {
		_, err := s.UpdateJob(ctx, "j1", func(j *domain.Job) error {
			n, err := strconv.Atoi(j.Description)
			if err != nil {
				return err
			}
			j.Description = strconv.Itoa(n + 1)
			return nil
		})
		if !errors.Is(err, domain.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("still conflicting after 1000 tries: %w", domain.ErrConflict)
}

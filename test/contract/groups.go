package contract

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// TestGroupStore checks the ports.GroupStore contract.
func TestGroupStore(t *testing.T, nb NewBackend, f Features) {
	t.Run("CreateAndGet", func(t *testing.T) {
		s := nb(t).Groups
		ctx := timeoutCtx(t)
		want := newGroup("alpha")
		got, err := s.CreateGroup(ctx, want)
		require.NoError(t, err)
		require.Positive(t, got.Version, "CreateGroup sets Version")
		want.Version = got.Version
		require.Equal(t, want, got)

		read, err := s.GetGroup(ctx, "alpha")
		require.NoError(t, err)
		require.Equal(t, want, read)
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		s := nb(t).Groups
		ctx := timeoutCtx(t)
		first, err := s.CreateGroup(ctx, newGroup("alpha"))
		require.NoError(t, err)
		again := newGroup("alpha")
		again.Description = "second"
		_, err = s.CreateGroup(ctx, again)
		require.ErrorIs(t, err, domain.ErrAlreadyExists)
		read, err := s.GetGroup(ctx, "alpha")
		require.NoError(t, err)
		require.Equal(t, first, read, "a refused create changes nothing")
	})

	t.Run("GetMissing", func(t *testing.T) {
		_, err := nb(t).Groups.GetGroup(timeoutCtx(t), "nope")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("ListPaginates", func(t *testing.T) {
		s := nb(t).Groups
		ctx := timeoutCtx(t)
		var want []string
		for i := range 7 {
			name := fmt.Sprintf("g%02d", 6-i) // created out of order
			_, err := s.CreateGroup(ctx, newGroup(name))
			require.NoError(t, err)
			want = append([]string{name}, want...)
		}
		list := func(p ports.PageRequest) (ports.Page[domain.Group], error) { return s.ListGroups(ctx, p) }
		for _, limit := range []int{1, 2, 3, 7, 100} {
			got := walkPages(t, limit, list)
			require.Equal(t, want, ids(got, groupName), "limit %d", limit)
		}
		page, err := s.ListGroups(ctx, ports.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, want, ids(page.Items, groupName), "the default limit fits 7 groups")
		require.Empty(t, page.NextCursor, "the last page has no cursor")
		checkBadCursors(t, list)
	})

	t.Run("ListEmpty", func(t *testing.T) {
		page, err := nb(t).Groups.ListGroups(timeoutCtx(t), ports.PageRequest{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
		require.Empty(t, page.NextCursor)
	})

	t.Run("Update", func(t *testing.T) {
		s := nb(t).Groups
		ctx := timeoutCtx(t)
		created, err := s.CreateGroup(ctx, newGroup("alpha"))
		require.NoError(t, err)
		got, err := s.UpdateGroup(ctx, "alpha", func(g *domain.Group) error {
			require.Equal(t, created, *g, "fn gets the stored value")
			g.Description = "changed"
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, "changed", got.Description)
		require.Greater(t, got.Version, created.Version, "Version increases on every change")
		read, err := s.GetGroup(ctx, "alpha")
		require.NoError(t, err)
		require.Equal(t, got, read)
	})

	t.Run("UpdateCallbackErrorChangesNothing", func(t *testing.T) {
		s := nb(t).Groups
		ctx := timeoutCtx(t)
		created, err := s.CreateGroup(ctx, newGroup("alpha"))
		require.NoError(t, err)
		_, err = s.UpdateGroup(ctx, "alpha", func(g *domain.Group) error {
			g.Description = "must not be stored"
			return fmt.Errorf("wrapped: %w", errSentinel)
		})
		require.ErrorIs(t, err, errSentinel)
		read, err := s.GetGroup(ctx, "alpha")
		require.NoError(t, err)
		require.Equal(t, created, read)
	})

	t.Run("UpdateRenameRefused", func(t *testing.T) {
		s := nb(t).Groups
		ctx := timeoutCtx(t)
		created, err := s.CreateGroup(ctx, newGroup("alpha"))
		require.NoError(t, err)
		_, err = s.UpdateGroup(ctx, "alpha", func(g *domain.Group) error {
			g.Name = "beta"
			return nil
		})
		require.ErrorIs(t, err, domain.ErrInvalid)
		read, err := s.GetGroup(ctx, "alpha")
		require.NoError(t, err)
		require.Equal(t, created, read)
		_, err = s.GetGroup(ctx, "beta")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("UpdateMissing", func(t *testing.T) {
		called := false
		_, err := nb(t).Groups.UpdateGroup(timeoutCtx(t), "nope", func(*domain.Group) error {
			called = true
			return nil
		})
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.False(t, called, "fn is not called for a missing group")
	})

	t.Run("Delete", func(t *testing.T) {
		s := nb(t).Groups
		ctx := timeoutCtx(t)
		_, err := s.CreateGroup(ctx, newGroup("alpha"))
		require.NoError(t, err)
		require.NoError(t, s.DeleteGroup(ctx, "alpha"))
		_, err = s.GetGroup(ctx, "alpha")
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.ErrorIs(t, s.DeleteGroup(ctx, "alpha"), domain.ErrNotFound)
		_, err = s.CreateGroup(ctx, newGroup("alpha"))
		require.NoError(t, err, "a deleted group's name can be reused")
	})

	t.Run("DeleteWithJobsConflicts", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		_, err := b.Groups.CreateGroup(ctx, newGroup("alpha"))
		require.NoError(t, err)
		_, err = b.Jobs.CreateJob(ctx, newJob("j1", "alpha", 0))
		require.NoError(t, err)
		require.ErrorIs(t, b.Groups.DeleteGroup(ctx, "alpha"), domain.ErrConflict)
		_, err = b.Groups.GetGroup(ctx, "alpha")
		require.NoError(t, err, "a refused delete changes nothing")
		_, err = b.Jobs.DeleteJob(ctx, "j1")
		require.NoError(t, err)
		require.NoError(t, b.Groups.DeleteGroup(ctx, "alpha"), "an empty group can be deleted")
	})
}

package contract

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// TestAuditLog checks the ports.AuditLog contract.
func TestAuditLog(t *testing.T, nb NewAuthBackend, f Features) {
	// appendAll appends entries and returns their IDs newest first.
	appendAll := func(t *testing.T, s ports.AuditLog, entries ...domain.AuditEntry) []string {
		t.Helper()
		var out []string
		for _, e := range entries {
			require.NoError(t, s.AppendAudit(timeoutCtx(t), e), "append %s", e.ID)
			out = append(out, e.ID)
		}
		slices.Sort(out)
		slices.Reverse(out)
		return out
	}
	// listAll walks every page of f with limit.
	listAll := func(t *testing.T, s ports.AuditLog, f ports.AuditFilter, limit int) []domain.AuditEntry {
		t.Helper()
		return walkPages(t, limit, func(p ports.PageRequest) (ports.Page[domain.AuditEntry], error) {
			f.PageRequest = p
			return s.ListAudit(timeoutCtx(t), f)
		})
	}
	// prune calls PruneAudit until it removes nothing and returns the total.
	prune := func(t *testing.T, s ports.AuditLog, keep int, maxAge time.Duration, now time.Time) int {
		t.Helper()
		total := 0
		for i := 0; ; i++ {
			require.Less(t, i, 100, "PruneAudit does not converge")
			n, err := s.PruneAudit(timeoutCtx(t), keep, maxAge, now)
			require.NoError(t, err)
			if n == 0 {
				return total
			}
			total += n
		}
	}

	t.Run("AppendAndList", func(t *testing.T) {
		s := nb(t).Audit
		e1 := newEntry(t0, "a1", "alice", domain.AuditJobCreate, "job/nightly")
		e2 := newEntry(t0.Add(time.Second), "b2", domain.TokenActor("tok1"), domain.AuditJobTrigger, "job/nightly")
		e2.TokenID, e2.Result = "tok1", domain.AuditDenied
		appendAll(t, s, e1, e2)
		page, err := s.ListAudit(timeoutCtx(t), ports.AuditFilter{})
		require.NoError(t, err)
		require.Equal(t, []domain.AuditEntry{e2, e1}, page.Items, "newest first, as written")
		require.Empty(t, page.NextCursor)
	})

	t.Run("AppendDuplicate", func(t *testing.T) {
		s := nb(t).Audit
		ctx := timeoutCtx(t)
		e := newEntry(t0, "a1", "alice", domain.AuditJobCreate, "job/x")
		require.NoError(t, s.AppendAudit(ctx, e))
		again := e
		again.Detail = "overwrite"
		require.ErrorIs(t, s.AppendAudit(ctx, again), domain.ErrAlreadyExists)
		page, err := s.ListAudit(ctx, ports.AuditFilter{})
		require.NoError(t, err)
		require.Equal(t, []domain.AuditEntry{e}, page.Items, "entries are never overwritten")
	})

	t.Run("AppendInvalid", func(t *testing.T) {
		s := nb(t).Audit
		ctx := timeoutCtx(t)
		bad := func(change func(*domain.AuditEntry)) domain.AuditEntry {
			e := newEntry(t0, "a1", "alice", domain.AuditJobCreate, "job/x")
			change(&e)
			return e
		}
		for name, e := range map[string]domain.AuditEntry{
			"ID of another time": bad(func(e *domain.AuditEntry) { e.ID = domain.AuditID(t0.Add(time.Second), "a1") }),
			"ID with a slash":    bad(func(e *domain.AuditEntry) { e.ID = domain.AuditID(t0, "a/b") }),
			"bad actor":          bad(func(e *domain.AuditEntry) { e.Actor = "Alice Smith" }),
			"bad action":         bad(func(e *domain.AuditEntry) { e.Action = "create" }),
			"long detail":        bad(func(e *domain.AuditEntry) { e.Detail = strings.Repeat("x", domain.MaxAuditDetailLen+1) }),
			"bad result":         bad(func(e *domain.AuditEntry) { e.Result = "maybe" }),
		} {
			require.ErrorIs(t, s.AppendAudit(ctx, e), domain.ErrInvalid, name)
		}
		page, err := s.ListAudit(ctx, ports.AuditFilter{})
		require.NoError(t, err)
		require.Empty(t, page.Items, "nothing invalid is stored")
	})

	t.Run("ListPaginatesNewestFirst", func(t *testing.T) {
		s := nb(t).Audit
		var entries []domain.AuditEntry
		for i := range 7 {
			at := t0.Add(time.Duration((i*5)%7) * time.Second) // appended out of order
			entries = append(entries, newEntry(at, fmt.Sprintf("n%d", i), "alice", domain.AuditJobUpdate, "job/x"))
		}
		// Two entries in one millisecond are told apart by their nonce.
		entries = append(entries, newEntry(t0.Add(3*time.Second), "zz", "bob", domain.AuditJobUpdate, "job/x"))
		want := appendAll(t, s, entries...)
		for _, limit := range []int{1, 2, 3, 8, 100} {
			require.Equal(t, want, ids(listAll(t, s, ports.AuditFilter{}, limit), entryID), "limit %d", limit)
		}
		checkBadCursors(t, func(p ports.PageRequest) (ports.Page[domain.AuditEntry], error) {
			return s.ListAudit(timeoutCtx(t), ports.AuditFilter{PageRequest: p})
		})
	})

	t.Run("ListEmpty", func(t *testing.T) {
		page, err := nb(t).Audit.ListAudit(timeoutCtx(t), ports.AuditFilter{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
		require.Empty(t, page.NextCursor)
	})

	t.Run("Filters", func(t *testing.T) {
		s := nb(t).Audit
		at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
		entries := []domain.AuditEntry{
			newEntry(at(0), "e0", "alice", domain.AuditJobCreate, "job/a"),
			newEntry(at(1), "e1", "alice", domain.AuditJobTrigger, "job/a"),
			newEntry(at(2), "e2", "bob", domain.AuditJobTrigger, "job/b"),
			newEntry(at(3), "e3", domain.TokenActor("w1"), "jobs.poll", "group/g"),
			newEntry(at(4), "e4", "alice", domain.AuditGroupCreate, "group/g"),
			newEntry(at(5), "e5", domain.ActorSystem, domain.AuditUserCreate, "user/alice"),
			newEntry(at(6).Add(500*time.Microsecond), "e6", "bob", domain.AuditJobDelete, "job/a"),
		}
		entries[2].Result, entries[4].Result = domain.AuditDenied, domain.AuditError
		appendAll(t, s, entries...)
		name := func(e domain.AuditEntry) string { _, n, _ := strings.Cut(e.ID, "~"); return n }
		for _, tc := range []struct {
			f    ports.AuditFilter
			want []string
		}{
			{ports.AuditFilter{Actor: "alice"}, []string{"e4", "e1", "e0"}},
			{ports.AuditFilter{Action: "job."}, []string{"e6", "e2", "e1", "e0"}},
			{ports.AuditFilter{Action: "job"}, []string{"e6", "e3", "e2", "e1", "e0"}},
			{ports.AuditFilter{Action: domain.AuditJobTrigger}, []string{"e2", "e1"}},
			{ports.AuditFilter{Target: "job/a"}, []string{"e6", "e1", "e0"}},
			{ports.AuditFilter{Result: domain.AuditDenied}, []string{"e2"}},
			{ports.AuditFilter{Result: domain.AuditOK, Actor: "alice"}, []string{"e1", "e0"}},
			{ports.AuditFilter{From: at(2)}, []string{"e6", "e5", "e4", "e3", "e2"}},
			{ports.AuditFilter{To: at(2)}, []string{"e1", "e0"}},
			{ports.AuditFilter{From: at(1), To: at(4)}, []string{"e3", "e2", "e1"}},
			{ports.AuditFilter{From: at(6).Add(time.Millisecond / 2)}, []string{"e6"}},
			{ports.AuditFilter{From: at(6).Add(time.Millisecond/2 + 1)}, nil},
			{ports.AuditFilter{To: at(6).Add(time.Millisecond / 2)}, []string{"e5", "e4", "e3", "e2", "e1", "e0"}},
			{ports.AuditFilter{To: at(6).Add(time.Millisecond/2 + 1)}, []string{"e6", "e5", "e4", "e3", "e2", "e1", "e0"}},
			{ports.AuditFilter{Actor: "alice", Action: "job.", Target: "job/a", From: at(1)}, []string{"e1"}},
			{ports.AuditFilter{Actor: "carol"}, nil},
		} {
			for _, limit := range []int{1, 2, 100} {
				got := listAll(t, s, tc.f, limit)
				var names []string
				for _, e := range got {
					names = append(names, name(e))
				}
				require.Equal(t, tc.want, names, "%+v limit %d", tc.f, limit)
			}
		}
	})

	t.Run("PruneKeepsTheNewest", func(t *testing.T) {
		s := nb(t).Audit
		var entries []domain.AuditEntry
		for i := range 300 { // more than one delete Txn holds
			entries = append(entries, newEntry(t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("n%03d", i), "alice", domain.AuditJobUpdate, "job/x"))
		}
		want := appendAll(t, s, entries...)
		require.Equal(t, 290, prune(t, s, 10, 0, t0))
		require.Equal(t, want[:10], ids(listAll(t, s, ports.AuditFilter{}, 100), entryID))
		require.Zero(t, prune(t, s, 10, 0, t0.Add(time.Hour)))
	})

	t.Run("PruneByAge", func(t *testing.T) {
		s := nb(t).Audit
		var entries []domain.AuditEntry
		for i := range 10 {
			entries = append(entries, newEntry(t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("n%d", i), "alice", domain.AuditJobUpdate, "job/x"))
		}
		want := appendAll(t, s, entries...)
		now := t0.Add(10 * time.Minute)
		require.Equal(t, 5, prune(t, s, 0, 5*time.Minute, now), "entries made before now-maxAge go")
		require.Equal(t, want[:5], ids(listAll(t, s, ports.AuditFilter{}, 100), entryID))
		require.Equal(t, 2, prune(t, s, 0, 3*time.Minute, now.Add(-time.Millisecond)), "to the millisecond")
		require.Equal(t, 1, prune(t, s, 2, time.Hour, now), "the tighter bound wins")
		require.Equal(t, 2, prune(t, s, 100, time.Millisecond, now.Add(time.Hour)))
		require.Empty(t, listAll(t, s, ports.AuditFilter{}, 100))
	})

	t.Run("PruneUnbounded", func(t *testing.T) {
		s := nb(t).Audit
		ctx := timeoutCtx(t)
		appendAll(t, s, newEntry(t0, "n1", "alice", domain.AuditJobUpdate, "job/x"))
		n, err := s.PruneAudit(ctx, 0, 0, t0.AddDate(10, 0, 0))
		require.NoError(t, err)
		require.Zero(t, n, "keep 0 and max age 0 bound nothing")
		_, err = s.PruneAudit(ctx, -1, 0, t0)
		require.ErrorIs(t, err, domain.ErrInvalid)
		_, err = s.PruneAudit(ctx, 0, -time.Second, t0)
		require.ErrorIs(t, err, domain.ErrInvalid)
		require.Len(t, listAll(t, s, ports.AuditFilter{}, 100), 1)
	})
}

package etcd

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
	"github.com/pink-scheduler/pink/test/contract"
)

// authBackend turns the contract suites' NewBackend into the auth suites'
// one: the Store implements the auth ports too.
func authBackend(nb contract.NewBackend) contract.NewAuthBackend {
	return func(t *testing.T) contract.AuthBackend {
		s := nb(t).Groups.(*Store)
		return contract.AuthBackend{Users: s, Tokens: s, Audit: s, Groups: s}
	}
}

// authUser returns a valid user.
func authUser(name string, role domain.Role) domain.User {
	return domain.User{Name: name, Role: role, PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
		CreatedAt: st0, UpdatedAt: st0}
}

// authSession returns a session of owner expiring at expires.
func authSession(id, owner string, expires time.Time) domain.Token {
	return domain.Token{ID: id, Kind: domain.TokenSession, Owner: owner, Hash: domain.HashTokenSecret(id),
		CreatedAt: st0, ExpiresAt: expires}
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestAuthKeyLayout pins the keys and values docs/etcd-layout.md documents.
func TestAuthKeyLayout(t *testing.T) {
	s, ctx := newTestStore(t)
	_, err := s.CreateUser(ctx, authUser("alice", domain.RoleAdmin))
	require.NoError(t, err)
	tok := authSession("s1", "alice", st0.Add(90*time.Minute+1500*time.Microsecond))
	_, err = s.CreateToken(ctx, tok)
	require.NoError(t, err)
	e := domain.AuditEntry{ID: domain.AuditID(st0, "n1"), At: st0, Actor: "alice", Action: domain.AuditUserLogin, Result: domain.AuditOK}
	require.NoError(t, s.AppendAudit(ctx, e))

	kvs := rawKVs(t, s)
	keys := make(map[string]any, len(kvs))
	for k := range kvs {
		keys[k] = nil
	}
	require.Equal(t, []string{
		"/audit/20261126T160000.000Z~n1",
		"/auth/token-expiry/20261126T173000.001Z~s1",
		"/auth/token-hash/" + tok.Hash,
		"/auth/token-owner/session/alice/s1",
		"/auth/tokens/s1",
		"/auth/users/alice",
	}, sortedKeys(keys))

	u := rawJSON(t, s, "/auth/users/alice")
	require.EqualValues(t, 1, u["version"])
	require.Equal(t, "admin", u["user"].(map[string]any)["role"])
	require.Equal(t, "s1", rawJSON(t, s, "/auth/tokens/s1")["token"].(map[string]any)["id"])
	for _, k := range []string{"/auth/token-hash/" + tok.Hash, "/auth/token-owner/session/alice/s1", "/auth/token-expiry/20261126T173000.001Z~s1"} {
		ref := rawJSON(t, s, k)["token_ref"].(map[string]any)
		require.Equal(t, map[string]any{"id": "s1", "kind": "session", "owner": "alice", "hash": tok.Hash,
			"expires_at": "2026-11-26T17:30:00.0015Z"}, ref, k)
	}
	require.Equal(t, "user.login", rawJSON(t, s, "/audit/20261126T160000.000Z~n1")["audit"].(map[string]any)["action"])

	// Revoking deletes all four token keys in one Txn.
	require.NoError(t, s.DeleteToken(ctx, "s1"))
	kvs = rawKVs(t, s)
	require.Len(t, kvs, 2, "only the user and the audit entry are left")
}

// TestAdminGuardKey checks that removing an admin writes the guard and
// that the guard holds the last writer's name.
func TestAdminGuardKey(t *testing.T) {
	s, ctx := newTestStore(t)
	for _, n := range []string{"a1", "a2"} {
		_, err := s.CreateUser(ctx, authUser(n, domain.RoleAdmin))
		require.NoError(t, err)
	}
	require.NotContains(t, rawKVs(t, s), "/auth/admin-guard", "adding admins does not touch the guard")
	_, err := s.UpdateUser(ctx, "a1", func(u *domain.User) error { u.Role = domain.RoleViewer; return nil })
	require.NoError(t, err)
	require.Equal(t, "a1", rawJSON(t, s, "/auth/admin-guard")["admin_guard"].(map[string]any)["by"])
	require.ErrorIs(t, s.DeleteUser(ctx, "a2"), domain.ErrConflict)
}

// TestDeleteUserCascadesBeyondOneTxn gives a user more tokens than the
// final Txn of DeleteUser takes, so batches are revoked ahead.
func TestDeleteUserCascadesBeyondOneTxn(t *testing.T) {
	s, ctx := newTestStore(t)
	_, err := s.CreateUser(ctx, authUser("alice", domain.RoleViewer))
	require.NoError(t, err)
	for i := range cascadeBatch + 40 {
		_, err := s.CreateToken(ctx, authSession(fmt.Sprintf("s%04d", i), "alice", st0.Add(time.Hour)))
		require.NoError(t, err)
	}
	require.NoError(t, s.DeleteUser(ctx, "alice"))
	require.Empty(t, rawKVs(t, s), "the user and every key of every token are gone")
}

// TestListTokensScanBudget checks that a filter matching rarely returns a
// short page with a cursor rather than reading everything. The records are
// written raw, in batches, to keep the test fast.
func TestListTokensScanBudget(t *testing.T) {
	s, ctx := newTestStore(t)
	const n = listScanBudget + 10
	var ops []clientv3.Op
	for i := range n {
		owner := "alice"
		if i == n-1 {
			owner = "bob"
		}
		tok := authSession(fmt.Sprintf("s%05d", i), owner, st0.Add(time.Hour))
		val, err := encode("token", envelope{Token: &tok})
		require.NoError(t, err)
		ops = append(ops, clientv3.OpPut(s.k.token(tok.ID), val))
		if len(ops) == maxTxnOps || i == n-1 {
			_, err := s.cli.Txn(ctx).Then(ops...).Commit()
			require.NoError(t, err)
			ops = ops[:0]
		}
	}
	page, err := s.ListTokens(ctx, ports.TokenFilter{Owner: "bob"})
	require.NoError(t, err)
	require.Empty(t, page.Items, "the first call stops at the budget")
	require.NotEmpty(t, page.NextCursor)
	page, err = s.ListTokens(ctx, ports.TokenFilter{Owner: "bob", PageRequest: ports.PageRequest{Cursor: page.NextCursor}})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, "bob", page.Items[0].Owner)
	require.Empty(t, page.NextCursor)
}

package contract

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// The auth suites, TestUserStore, TestTokenStore and TestAuditLog, check
// the ports of ports/auth.go. Beyond the port documentation they pin down:
//   - tokens whose owner is gone do not outlive it: DeleteUser takes the
//     user's api and session tokens with it, but not the worker tokens of a
//     group with the same name;
//   - ListTokens, GetToken and GetTokenByHash read what CreateToken wrote
//     at once (no eventually consistent index);
//   - PruneExpiredTokens and PruneAudit are called until they return 0, so
//     an adapter may bound its work per call.

// AuthBackend is one fresh, empty adapter instance for the auth suites.
// Every port comes from the same underlying store: worker tokens are
// checked against Groups, api and session tokens against Users.
type AuthBackend struct {
	Users  ports.UserStore
	Tokens ports.TokenStore
	Audit  ports.AuditLog
	Groups ports.GroupStore
}

// NewAuthBackend makes a fresh, isolated AuthBackend (for etcd, under a new
// key prefix) and registers its cleanup with t.Cleanup.
type NewAuthBackend func(t *testing.T) AuthBackend

// fakeHash is a well-formed password hash; the stores never interpret it.
const fakeHash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

// newUser returns a valid user.
func newUser(name string, role domain.Role) domain.User {
	return domain.User{Name: name, Role: role, PasswordHash: fakeHash, CreatedAt: t0, UpdatedAt: t0}
}

// newToken returns a valid token of kind for owner; a session expires an
// hour after t0, other kinds never.
func newToken(id string, kind domain.TokenKind, owner string) domain.Token {
	t := domain.Token{ID: id, Kind: kind, Owner: owner, Name: "token " + id,
		Hash: domain.HashTokenSecret("secret-" + id), CreatedAt: t0}
	if kind == domain.TokenSession {
		t.ExpiresAt = t0.Add(time.Hour)
	}
	return t
}

// newEntry returns a valid audit entry made at at.
func newEntry(at time.Time, nonce, actor, action, target string) domain.AuditEntry {
	return domain.AuditEntry{ID: domain.AuditID(at, nonce), At: at, Actor: actor, Action: action,
		Target: target, Detail: "detail " + nonce, Result: domain.AuditOK}
}

func userName(u domain.User) string      { return u.Name }
func tokenID(t domain.Token) string      { return t.ID }
func entryID(e domain.AuditEntry) string { return e.ID }
func withUsers(t *testing.T, b AuthBackend, users ...domain.User) {
	t.Helper()
	for _, u := range users {
		_, err := b.Users.CreateUser(timeoutCtx(t), u)
		require.NoError(t, err, "create user %s", u.Name)
	}
}

func createTokens(t *testing.T, b AuthBackend, tokens ...domain.Token) {
	t.Helper()
	for _, tok := range tokens {
		_, err := b.Tokens.CreateToken(timeoutCtx(t), tok)
		require.NoError(t, err, "create token %s", tok.ID)
	}
}

// activeAdmins returns the names of the active admins.
func activeAdmins(t *testing.T, s ports.UserStore) []string {
	t.Helper()
	var out []string
	for _, u := range walkPages(t, 100, func(p ports.PageRequest) (ports.Page[domain.User], error) {
		return s.ListUsers(timeoutCtx(t), p)
	}) {
		if u.ActiveAdmin() {
			out = append(out, u.Name)
		}
	}
	return out
}

// TestUserStore checks the ports.UserStore contract.
func TestUserStore(t *testing.T, nb NewAuthBackend, f Features) {
	t.Run("CreateAndGet", func(t *testing.T) {
		s := nb(t).Users
		ctx := timeoutCtx(t)
		want := newUser("alice", domain.RoleAdmin)
		got, err := s.CreateUser(ctx, want)
		require.NoError(t, err)
		require.Positive(t, got.Version, "CreateUser sets Version")
		want.Version = got.Version
		require.Equal(t, want, got)
		read, err := s.GetUser(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, want, read)
		n, err := s.CountUsers(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		s := nb(t).Users
		ctx := timeoutCtx(t)
		first, err := s.CreateUser(ctx, newUser("alice", domain.RoleAdmin))
		require.NoError(t, err)
		_, err = s.CreateUser(ctx, newUser("alice", domain.RoleViewer))
		require.ErrorIs(t, err, domain.ErrAlreadyExists)
		read, err := s.GetUser(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, first, read, "a refused create changes nothing")
	})

	t.Run("CreateInvalid", func(t *testing.T) {
		s := nb(t).Users
		ctx := timeoutCtx(t)
		for name, u := range map[string]domain.User{
			"bad name":      newUser("Alice/..", domain.RoleAdmin),
			"reserved name": newUser(domain.ActorSystem, domain.RoleAdmin),
			"bad role":      newUser("alice", "root"),
			"no hash":       {Name: "alice", Role: domain.RoleViewer},
		} {
			_, err := s.CreateUser(ctx, u)
			require.ErrorIs(t, err, domain.ErrInvalid, name)
		}
		n, err := s.CountUsers(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "nothing invalid is stored")
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := nb(t).Users
		for _, name := range []string{"nope", "../users/x", ""} {
			_, err := s.GetUser(timeoutCtx(t), name)
			require.ErrorIs(t, err, domain.ErrNotFound, "%q", name)
		}
	})

	t.Run("ListPaginatesAndCounts", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		var want []string
		for i := range 7 {
			name := fmt.Sprintf("u%02d", 6-i) // created out of order
			withUsers(t, b, newUser(name, domain.RoleViewer))
			want = append([]string{name}, want...)
		}
		list := func(p ports.PageRequest) (ports.Page[domain.User], error) { return b.Users.ListUsers(ctx, p) }
		for _, limit := range []int{1, 2, 3, 7, 100} {
			require.Equal(t, want, ids(walkPages(t, limit, list), userName), "limit %d", limit)
		}
		checkBadCursors(t, list)
		n, err := b.Users.CountUsers(ctx)
		require.NoError(t, err)
		require.Equal(t, 7, n)
	})

	t.Run("ListEmpty", func(t *testing.T) {
		s := nb(t).Users
		page, err := s.ListUsers(timeoutCtx(t), ports.PageRequest{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
		require.Empty(t, page.NextCursor)
		n, err := s.CountUsers(timeoutCtx(t))
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("Update", func(t *testing.T) {
		s := nb(t).Users
		ctx := timeoutCtx(t)
		created, err := s.CreateUser(ctx, newUser("alice", domain.RoleViewer))
		require.NoError(t, err)
		got, err := s.UpdateUser(ctx, "alice", func(u *domain.User) error {
			require.Equal(t, created, *u, "fn gets the stored value")
			u.Role, u.UpdatedAt = domain.RoleOperator, t0.Add(time.Minute)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, domain.RoleOperator, got.Role)
		require.Greater(t, got.Version, created.Version, "Version increases on every change")
		read, err := s.GetUser(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, got, read)
	})

	t.Run("UpdateRefusals", func(t *testing.T) {
		s := nb(t).Users
		ctx := timeoutCtx(t)
		created, err := s.CreateUser(ctx, newUser("alice", domain.RoleViewer))
		require.NoError(t, err)
		_, err = s.UpdateUser(ctx, "alice", func(u *domain.User) error {
			u.Role = domain.RoleAdmin
			return fmt.Errorf("wrapped: %w", errSentinel)
		})
		require.ErrorIs(t, err, errSentinel)
		_, err = s.UpdateUser(ctx, "alice", func(u *domain.User) error { u.Name = "bob"; return nil })
		require.ErrorIs(t, err, domain.ErrInvalid, "a user cannot be renamed")
		_, err = s.UpdateUser(ctx, "alice", func(u *domain.User) error { u.Role = "root"; return nil })
		require.ErrorIs(t, err, domain.ErrInvalid, "the result must be valid")
		read, err := s.GetUser(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, created, read, "refused updates change nothing")
		_, err = s.GetUser(ctx, "bob")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("UpdateMissing", func(t *testing.T) {
		called := false
		_, err := nb(t).Users.UpdateUser(timeoutCtx(t), "nope", func(*domain.User) error { called = true; return nil })
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.False(t, called, "fn is not called for a missing user")
	})

	t.Run("UpdateConcurrentNoLostUpdate", func(t *testing.T) {
		s := nb(t).Users
		ctx := timeoutCtx(t)
		_, err := s.CreateUser(ctx, newUser("alice", domain.RoleViewer))
		require.NoError(t, err)
		const workers = 20
		errs := make(chan error, workers)
		var start, wg sync.WaitGroup
		start.Add(1)
		for range workers {
			wg.Go(func() {
				start.Wait()
				_, err := s.UpdateUser(ctx, "alice", func(u *domain.User) error {
					u.UpdatedAt = u.UpdatedAt.Add(time.Minute)
					return nil
				})
				errs <- err
			})
		}
		start.Done()
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		read, err := s.GetUser(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, t0.Add(workers*time.Minute), read.UpdatedAt, "every update landed exactly once")
	})

	t.Run("LastActiveAdminStays", func(t *testing.T) {
		b := nb(t)
		s := b.Users
		ctx := timeoutCtx(t)
		off := newUser("off", domain.RoleAdmin)
		off.Disabled = true // a disabled admin does not count
		withUsers(t, b, newUser("root", domain.RoleAdmin), off, newUser("viewer", domain.RoleViewer))
		before, err := s.GetUser(ctx, "root")
		require.NoError(t, err)

		for name, fn := range map[string]func(*domain.User) error{
			"demote":  func(u *domain.User) error { u.Role = domain.RoleOperator; return nil },
			"disable": func(u *domain.User) error { u.Disabled = true; return nil },
		} {
			_, err := s.UpdateUser(ctx, "root", fn)
			require.ErrorIs(t, err, domain.ErrConflict, name)
		}
		require.ErrorIs(t, s.DeleteUser(ctx, "root"), domain.ErrConflict)
		after, err := s.GetUser(ctx, "root")
		require.NoError(t, err)
		require.Equal(t, before, after, "refused changes change nothing")

		_, err = s.UpdateUser(ctx, "root", func(u *domain.User) error { u.UpdatedAt = t0.Add(time.Hour); return nil })
		require.NoError(t, err, "changes that keep the admin active are fine")
		require.NoError(t, s.DeleteUser(ctx, "viewer"), "other users come and go")

		_, err = s.UpdateUser(ctx, "off", func(u *domain.User) error { u.Disabled = false; return nil })
		require.NoError(t, err)
		_, err = s.UpdateUser(ctx, "root", func(u *domain.User) error { u.Role = domain.RoleViewer; return nil })
		require.NoError(t, err, "with another active admin, an admin can be demoted")
		require.ErrorIs(t, s.DeleteUser(ctx, "off"), domain.ErrConflict)
		require.Equal(t, []string{"off"}, activeAdmins(t, s))
	})

	t.Run("NoAdminToKeep", func(t *testing.T) {
		b := nb(t)
		withUsers(t, b, newUser("v", domain.RoleViewer))
		_, err := b.Users.UpdateUser(timeoutCtx(t), "v", func(u *domain.User) error { u.Disabled = true; return nil })
		require.NoError(t, err, "the rule only keeps an active admin that exists")
		require.NoError(t, b.Users.DeleteUser(timeoutCtx(t), "v"))
	})

	t.Run("LastActiveAdminRace", func(t *testing.T) {
		remove := map[string]func(ports.UserStore, string) error{
			"demote": func(s ports.UserStore, name string) error {
				_, err := s.UpdateUser(timeoutCtx(t), name, func(u *domain.User) error { u.Role = domain.RoleViewer; return nil })
				return err
			},
			"disable": func(s ports.UserStore, name string) error {
				_, err := s.UpdateUser(timeoutCtx(t), name, func(u *domain.User) error { u.Disabled = true; return nil })
				return err
			},
			"delete": func(s ports.UserStore, name string) error { return s.DeleteUser(timeoutCtx(t), name) },
		}
		for _, mode := range []string{"demote", "disable", "delete", "mixed"} {
			t.Run(mode, func(t *testing.T) {
				b := nb(t)
				const workers = 20
				for i := range workers {
					withUsers(t, b, newUser(fmt.Sprintf("a%02d", i), domain.RoleAdmin))
				}
				errs := make(chan error, workers)
				var start, wg sync.WaitGroup
				start.Add(1)
				for i := range workers {
					op := remove[mode]
					if mode == "mixed" {
						op = remove[[]string{"demote", "disable", "delete"}[i%3]]
					}
					wg.Go(func() {
						start.Wait()
						errs <- op(b.Users, fmt.Sprintf("a%02d", i))
					})
				}
				start.Done()
				wg.Wait()
				close(errs)
				refused := 0
				for err := range errs {
					if err != nil {
						require.ErrorIs(t, err, domain.ErrConflict)
						refused++
					}
				}
				require.Equal(t, 1, refused, "exactly one removal is refused")
				require.Len(t, activeAdmins(t, b.Users), 1, "exactly one active admin is left")
			})
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := nb(t).Users
		ctx := timeoutCtx(t)
		_, err := s.CreateUser(ctx, newUser("alice", domain.RoleViewer))
		require.NoError(t, err)
		require.NoError(t, s.DeleteUser(ctx, "alice"))
		_, err = s.GetUser(ctx, "alice")
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.ErrorIs(t, s.DeleteUser(ctx, "alice"), domain.ErrNotFound)
		_, err = s.CreateUser(ctx, newUser("alice", domain.RoleViewer))
		require.NoError(t, err, "a deleted user's name can be reused")
	})

	t.Run("DeleteTakesTokens", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		withUsers(t, b, newUser("alice", domain.RoleViewer), newUser("bob", domain.RoleViewer))
		_, err := b.Groups.CreateGroup(ctx, newGroup("alice"))
		require.NoError(t, err)
		gone := []domain.Token{newToken("t1", domain.TokenAPI, "alice"), newToken("t2", domain.TokenSession, "alice")}
		kept := []domain.Token{newToken("t3", domain.TokenWorker, "alice"), newToken("t4", domain.TokenAPI, "bob")}
		createTokens(t, b, append(slices.Clone(gone), kept...)...)

		require.NoError(t, b.Users.DeleteUser(ctx, "alice"))
		for _, tok := range gone {
			_, err := b.Tokens.GetToken(ctx, tok.ID)
			require.ErrorIs(t, err, domain.ErrNotFound, tok.ID)
			_, err = b.Tokens.GetTokenByHash(ctx, tok.Hash, t0)
			require.ErrorIs(t, err, domain.ErrNotFound, tok.ID)
		}
		for _, tok := range kept {
			_, err := b.Tokens.GetTokenByHash(ctx, tok.Hash, t0)
			require.NoError(t, err, "token %s of another owner stays", tok.ID)
		}
		withUsers(t, b, newUser("alice", domain.RoleAdmin))
		page, err := b.Tokens.ListTokens(ctx, ports.TokenFilter{Owner: "alice"})
		require.NoError(t, err)
		require.Equal(t, []string{"t3"}, ids(page.Items, tokenID), "a new alice inherits nothing")
	})

	t.Run("DeleteRacesTokenCreation", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		withUsers(t, b, newUser("alice", domain.RoleViewer))
		const workers = 20
		errs := make(chan error, workers+1) // the creators and the delete
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range workers {
			wg.Go(func() {
				start.Wait()
				_, err := b.Tokens.CreateToken(ctx, newToken(fmt.Sprintf("t%02d", i), domain.TokenSession, "alice"))
				errs <- err
			})
		}
		wg.Go(func() {
			start.Wait()
			errs <- b.Users.DeleteUser(ctx, "alice")
		})
		start.Done()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				require.ErrorIs(t, err, domain.ErrNotFound, "a token for a deleted user is refused")
			}
		}
		_, err := b.Users.GetUser(ctx, "alice")
		require.ErrorIs(t, err, domain.ErrNotFound)
		page, err := b.Tokens.ListTokens(ctx, ports.TokenFilter{})
		require.NoError(t, err)
		require.Empty(t, page.Items, "no token outlives its user, whatever the interleaving")
	})

	t.Run("DeleteManyTokens", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		withUsers(t, b, newUser("alice", domain.RoleViewer))
		for i := range 70 { // more than one Txn of deletes holds
			createTokens(t, b, newToken(fmt.Sprintf("t%03d", i), domain.TokenSession, "alice"))
		}
		require.NoError(t, b.Users.DeleteUser(ctx, "alice"))
		page, err := b.Tokens.ListTokens(ctx, ports.TokenFilter{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
	})
}

package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestCreateUserValidatesBeforeHashing(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, field string
		role        domain.Role
		pw          string
	}{
		{"Alice", "name", domain.RoleViewer, userPW},
		{"system", "name", domain.RoleViewer, userPW},
		{"alice", "role", "root", userPW},
		{"alice", "password", domain.RoleViewer, "elevenchars"},
		{"alice", "password", domain.RoleViewer, strings.Repeat("x", domain.MaxPasswordLen+1)},
	} {
		_, err := e.svc.CreateUser(e.ctx, tc.name, tc.role, tc.pw)
		require.ErrorIs(t, err, domain.ErrInvalid, "%+v", tc)
		require.Equal(t, tc.field, domain.FieldOf(err), "%+v", tc)
	}
	u := e.user(t, "alice", domain.RoleOperator)
	require.Equal(t, t0, u.CreatedAt)
	require.True(t, strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$"), u.PasswordHash)
	_, err := e.svc.CreateUser(e.ctx, "alice", domain.RoleViewer, userPW)
	require.ErrorIs(t, err, domain.ErrAlreadyExists)
}

func TestSetPasswordEndsSessionsAndKeepsAPITokens(t *testing.T) {
	e := newEnv(t)
	e.user(t, "alice", domain.RoleViewer)
	session := e.login(t, "alice", userPW)
	api, _, err := e.svc.CreateAPIToken(e.ctx, "alice", "ci", 0)
	require.NoError(t, err)

	const next = "a much better passphrase"
	require.ErrorIs(t, e.svc.SetPassword(e.ctx, "alice", "weak"), domain.ErrInvalid)
	require.NoError(t, e.svc.SetPassword(e.ctx, "alice", next))
	e.requireUnauthenticated(t, session, "the old session ends")
	_, err = e.svc.Authenticate(e.ctx, api)
	require.NoError(t, err, "API tokens stay")
	_, _, err = e.svc.Login(e.ctx, "alice", userPW)
	require.ErrorIs(t, err, domain.ErrUnauthenticated, "the old password is gone")
	e.login(t, "alice", next)
	require.ErrorIs(t, e.svc.SetPassword(e.ctx, "nobody", next), domain.ErrNotFound)
}

func TestChangePasswordChecksTheCurrentOne(t *testing.T) {
	e := newEnv(t)
	e.user(t, "alice", domain.RoleViewer)
	const next = "a much better passphrase"
	require.ErrorIs(t, e.svc.ChangePassword(e.ctx, "alice", "wrong password!", next), domain.ErrUnauthenticated)
	require.ErrorIs(t, e.svc.ChangePassword(e.ctx, "alice", userPW, "weak"), domain.ErrInvalid)
	e.login(t, "alice", userPW) // unchanged
	require.NoError(t, e.svc.ChangePassword(e.ctx, "alice", userPW, next))
	e.login(t, "alice", next)
}

func TestSetRoleAppliesToExistingTokensAtOnce(t *testing.T) {
	e := newEnv(t).withAdmin(t)
	e.user(t, "alice", domain.RoleViewer)
	secret, _, err := e.svc.CreateAPIToken(e.ctx, "alice", "ci", 0)
	require.NoError(t, err)
	p, err := e.svc.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	require.ErrorIs(t, e.svc.Authorize(p, domain.ActionOperate), domain.ErrForbidden)

	u, err := e.svc.SetRole(e.ctx, "alice", domain.RoleOperator)
	require.NoError(t, err)
	require.Equal(t, domain.RoleOperator, u.Role)
	p, err = e.svc.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	require.NoError(t, e.svc.Authorize(p, domain.ActionOperate))
	_, err = e.svc.SetRole(e.ctx, "alice", "root")
	require.ErrorIs(t, err, domain.ErrInvalid)
}

func TestTheLastActiveAdminIsKept(t *testing.T) {
	e := newEnv(t).withAdmin(t)
	_, err := e.svc.SetRole(e.ctx, "admin", domain.RoleOperator)
	require.ErrorIs(t, err, domain.ErrConflict)
	_, err = e.svc.DisableUser(e.ctx, "admin")
	require.ErrorIs(t, err, domain.ErrConflict)
	require.ErrorIs(t, e.svc.DeleteUser(e.ctx, "admin"), domain.ErrConflict)
	e.login(t, "admin", adminPW) // still an admin, still enabled

	e.user(t, "root", domain.RoleAdmin)
	_, err = e.svc.SetRole(e.ctx, "admin", domain.RoleViewer)
	require.NoError(t, err, "another admin is left")
	require.ErrorIs(t, e.svc.DeleteUser(e.ctx, "root"), domain.ErrConflict)
}

func TestDisableUserBlocksLoginAndTokens(t *testing.T) {
	e := newEnv(t).withAdmin(t)
	e.user(t, "alice", domain.RoleOperator)
	session := e.login(t, "alice", userPW)
	api, _, err := e.svc.CreateAPIToken(e.ctx, "alice", "ci", 0)
	require.NoError(t, err)

	e.clk.Advance(time.Minute)
	u, err := e.svc.DisableUser(e.ctx, "alice")
	require.NoError(t, err)
	require.True(t, u.Disabled)
	require.Equal(t, t0.Add(time.Minute), u.UpdatedAt)
	e.requireUnauthenticated(t, session, "sessions end")
	e.requireUnauthenticated(t, api, "API tokens stop working")
	_, _, err = e.svc.Login(e.ctx, "alice", userPW)
	require.ErrorIs(t, err, domain.ErrUnauthenticated)
	_, _, err = e.svc.CreateAPIToken(e.ctx, "alice", "more", 0)
	require.ErrorIs(t, err, domain.ErrConflict)

	_, err = e.svc.EnableUser(e.ctx, "alice")
	require.NoError(t, err)
	_, err = e.svc.Authenticate(e.ctx, api)
	require.NoError(t, err, "API tokens work again")
	e.requireUnauthenticated(t, session, "the sessions stay ended")
	e.login(t, "alice", userPW)
}

func TestDeleteUserRevokesTheirTokens(t *testing.T) {
	e := newEnv(t).withAdmin(t)
	e.user(t, "alice", domain.RoleOperator)
	session := e.login(t, "alice", userPW)
	api, _, err := e.svc.CreateAPIToken(e.ctx, "alice", "ci", 0)
	require.NoError(t, err)
	require.NoError(t, e.svc.DeleteUser(e.ctx, "alice"))
	e.requireUnauthenticated(t, session, "session")
	e.requireUnauthenticated(t, api, "api token")

	e.user(t, "alice", domain.RoleAdmin)
	e.requireUnauthenticated(t, api, "a new alice does not inherit the old one's tokens")
	page, err := e.svc.ListTokens(e.ctx, ports.TokenFilter{Owner: "alice"})
	require.NoError(t, err)
	require.Empty(t, page.Items)
	require.ErrorIs(t, e.svc.DeleteUser(e.ctx, "nobody"), domain.ErrNotFound)
}
